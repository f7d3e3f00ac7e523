#!/usr/bin/env bash
# tsan.sh — builds libddx (CPU backend only) and test_concurrent_eval with
# ThreadSanitizer and runs it: several threads evaluate one program, good
# and failing calls mixed; any data race in the eval path fails the run.
# Idempotent (reuses build-tsan/); about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-$(nproc)}
[ -f /usr/include/cmocka.h ] || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo;
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libcmocka-dev >/dev/null; }
echo "== ThreadSanitizer: concurrent ddx_program_eval on one program (CPU)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDDX_CUDA=OFF -DDDX_NATIVE=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build build-tsan -j"$JOBS" --target test_concurrent_eval >/dev/null
TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" ./build-tsan/test_concurrent_eval
echo "tsan: no data race"
