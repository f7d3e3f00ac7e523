#!/usr/bin/env bash
# mpi-scaling.sh — strong and weak scaling of ddx-mpi, 1 vs 2 ranks, on this
# machine's cores, plus `ddx eval` against `ddx-mpi eval` end to end (read,
# evaluate, write a .npy). Configurations are interleaved over ROUNDS rounds
# so drift on a shared machine hits them alike; each line is one run.
# Usage: bash bench/mpi-scaling.sh [build] ; env: N (default 2^19), ROUNDS (3), REPEAT (3)
set -euo pipefail
B=${1:-build}
N=${N:-524288}
ROUNDS=${ROUNDS:-3}
REPEAT=${REPEAT:-3}
M=mlp:2-64-64-64-64-1:tanh
L='u,grad(u),hessian(u)'
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN="mpirun -q --oversubscribe --bind-to none"
agg() { awk '/aggregate/ {print $2}'; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 -c "import numpy as np; np.save('$W/p.npy', np.random.default_rng(1).random(($N, 2)).astype(np.float32))"
echo "W1 ($M, $L), f32, N = $N, $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
for r in $(seq "$ROUNDS"); do
    s1t2=$($MPIRUN -n 1 "$B/ddx-mpi" bench --model $M --derivs "$L" --n "$N" --repeat "$REPEAT" --threads 2 | agg)
    s2t1=$($MPIRUN -n 2 "$B/ddx-mpi" bench --model $M --derivs "$L" --n "$N" --repeat "$REPEAT" --threads 1 | agg)
    s1t1=$($MPIRUN -n 1 "$B/ddx-mpi" bench --model $M --derivs "$L" --n "$N" --repeat "$REPEAT" --threads 1 | agg)
    w2t1=$($MPIRUN -n 2 "$B/ddx-mpi" bench --model $M --derivs "$L" --n-per-rank "$N" --repeat "$REPEAT" --threads 1 | agg)
    t0=$(date +%s.%N)
    "$B/ddx" eval --model $M --derivs "$L" --points "$W/p.npy" --out "$W/a.npy" --device cpu 2>/dev/null
    t1=$(date +%s.%N)
    $MPIRUN -n 2 "$B/ddx-mpi" eval --model $M --derivs "$L" --points "$W/p.npy" --out "$W/b.npy" --device cpu
    t2=$(date +%s.%N)
    cmp -s "$W/a.npy" "$W/b.npy" && same=identical || same=DIFFERENT
    printf 'round %d  strong: 1 rank x 2 thr %s | 2 ranks x 1 thr %s | 1 rank x 1 thr %s   weak (N/rank): 2 ranks x 1 thr %s   eval: ddx %.2f s, ddx-mpi -n 2 %.2f s (%s)\n' \
        "$r" "$s1t2" "$s2t1" "$s1t1" "$w2t1" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$same"
done
