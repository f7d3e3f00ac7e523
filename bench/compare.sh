#!/usr/bin/env bash
# compare.sh — ddx against JAX and PyTorch on the benchmark workloads, from a
# clean clone: builds ddx (Release) if needed, installs the peers from PyPI
# if they are missing (and says so), runs bench/compare.py and prints its
# table. Any extra arguments go to compare.py (see `compare.py --help`).
#
#   bash bench/compare.sh                         # W1..W4, N = 2^20, CPU
#   bash bench/compare.sh --workloads W1 --sweep  # plus the W1 batch sweep
#   bash bench/compare.sh --device cuda           # on a GPU machine
#   bash bench/compare.sh --full                  # the RESULTS.md tables: W1..W4 +
#       sweep with the best CPU variant, and again forced to DDX_CPU_ISA=avx2 with
#       numpy's reference at OPENBLAS_CORETYPE=Haswell and the peers capped at AVX2
#       (where the CPU has AVX-512);
#       sweep plots OUT/sweep_<variant>.png
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/ddx_compare.XXXXXX)}
mkdir -p "$OUT"

if [ ! -x build/ddx ]; then
    echo "compare.sh: building ddx (build/)" >&2
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j"$(nproc)" --target ddx >/dev/null
fi
python3 -c 'import numpy' 2>/dev/null || {
    echo "compare.sh: numpy missing; pip install numpy" >&2
    python3 -m pip install --quiet numpy
}
echo "compare.sh: results under $OUT" >&2
if [ "${1:-}" = "--full" ]; then
    shift
    best=$(./build/ddx info --model mlp:1-1:tanh --derivs u 2>/dev/null | sed -n 's/^cpu kernels: \([a-z0-9]*\).*/\1/p')
    runs="$best"
    [ "$best" = avx512 ] && runs="avx512 avx2"
    for isa in $runs; do
        extra=()
        [ "$isa" = avx2 ] && [ "$best" != avx2 ] && extra=(--openblas-coretype Haswell --peer-isa avx2)
        echo "== compare.sh: DDX_CPU_ISA=$isa ${extra[*]}" >&2
        python3 bench/compare.py --ddx build/ddx --install-peers --out "$OUT/$isa" --cpu-isa "$isa" \
            "${extra[@]}" --sweep "$@" > "$OUT/$isa.txt" || true
        python3 bench/plot.py "$OUT/$isa/sweep.jsonl" "$OUT/sweep_$isa.png" \
            "W1 (f32) sweep, ddx $isa kernels" >&2 || true
    done
    for isa in $runs; do echo "### DDX_CPU_ISA=$isa"; sed -n '/^workload/,$p' "$OUT/$isa.txt"; echo; done
    exit 0
fi
python3 bench/compare.py --ddx build/ddx --install-peers --out "$OUT" "$@"
