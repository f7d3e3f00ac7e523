#!/usr/bin/env bash
# compare.sh — ddx against JAX and PyTorch on the benchmark workloads, from a
# clean clone: builds ddx (Release) if needed, installs the peers from PyPI
# if they are missing (and says so), runs bench/compare.py and prints its
# table. Any extra arguments go to compare.py (see `compare.py --help`).
#
#   bash bench/compare.sh                         # W1..W4, N = 2^20, CPU
#   bash bench/compare.sh --workloads W1 --sweep  # plus the W1 batch sweep
#   bash bench/compare.sh --device cuda           # on a GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/ddx_compare.XXXXXX)}

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
python3 bench/compare.py --ddx build/ddx --install-peers --out "$OUT" "$@"
