#!/usr/bin/env bash
# tests/ci/rel.sh — reliability checks beyond ctest (issue 13): builds the
# expression/derivative-list libFuzzer target with clang and runs it for 30 s
# over the kept corpus (tests/fuzz/corpus_expr), then the CLI reliability
# script under the sanitizer build if there is one. Idempotent; ~2 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v clang >/dev/null; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang libomp-dev >/dev/null
fi
B=build-fuzz
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DDDX_CUDA=OFF -DDDX_NATIVE=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fsanitize=fuzzer-no-link -g" >/dev/null
cmake --build $B -j"${JOBS:-2}" --target ddx_static >/dev/null
clang -g -O1 -fsanitize=fuzzer,address,undefined -fopenmp -D_POSIX_C_SOURCE=200809L -Iinclude -I. \
    tests/fuzz/fuzz_expr.c tools/expr_parse.c tools/text_safe.c tools/array_io.c tools/atomic_file.c $B/libddx.a -lm \
    -o $B/fuzz_expr
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus_expr/* "$work/"
$B/fuzz_expr -max_len=512 -max_total_time=30 -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
if ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* >/dev/null 2>&1; then
    echo "rel.sh: the expression fuzzer found a failing input:"; ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
    exit 1
fi
echo "rel.sh: expression fuzzer clean for 30 s"
