#!/bin/bash
# cpu_ab.sh ROUNDS N BIN... — interleaved A/B of w1_cpu_driver.c binaries (built from two
# trees): per ISA (ISAS, default "avx512 avx2") and binary, the median and max over rounds of
# the CPU-time rate (points/s), each round one process per binary, REPS evaluations each;
# SPEC / DERIVS pick another model (default W1).
R=$1; N=$2; shift 2
for isa in ${ISAS:-avx512 avx2}; do
  for r in $(seq $R); do
    for b in "$@"; do
      printf "%s %s " $isa $(basename $b); case $b in */*) cmd=$b ;; *) cmd=./$b ;; esac
      OMP_NUM_THREADS=1 DDX_CPU_ISA=$isa $cmd $N ${REPS:-5} "${SPEC:-mlp:2-64-64-64-64-1:tanh}" "${DERIVS:-u,grad(u),hessian(u)}" | awk '{print $4, $NF}'
    done
  done
done | python3 -c "
import sys,collections,statistics
v=collections.defaultdict(list);cs={}
for l in sys.stdin:
  i,b,x,c=l.split(); v[(i,b)].append(float(x)); cs[(i,b)]=c
for k in sorted(v): print('%-7s %-8s median %.4g max %.4g [%s]  checksum %s'%(k[0],k[1],statistics.median(v[k]),max(v[k]),' '.join('%.3g'%x for x in v[k]),cs[k]))
"
