#!/usr/bin/env bash
# run-all.sh — installs what the tests need (if missing), builds ddx, runs
# every test through ctest, then again under AddressSanitizer +
# UndefinedBehaviorSanitizer. This is README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

need_pkgs=()
[ -f /usr/include/cmocka.h ] || need_pkgs+=(libcmocka-dev)
command -v cmake >/dev/null || need_pkgs+=(cmake)
command -v cc >/dev/null || need_pkgs+=(gcc)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "run-all: installing ${need_pkgs[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

bash tests/ci/mpi.sh # Open MPI, so that the configure below builds ddx-mpi and its tests
echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
(cd build && ctest --output-on-failure -j"$JOBS")
bash tests/ci/python.sh

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDDX_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && DDX_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$JOBS")
bash tests/ci/tsan.sh # ThreadSanitizer: concurrent eval of one program (issue 12)
bash tests/ci/aarch64.sh  # aarch64 cross build, fast tests under qemu-user
bash tests/ci/rel.sh      # expression-parser fuzzer over its corpus (issue 13)
echo "run-all: all tests passed (release and sanitizer builds)"
