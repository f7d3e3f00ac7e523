#!/usr/bin/env bash
# test_sparse_cli.sh — the block-sparse first layer through the command
# (issue 16 point 3): mlp:...:blocks=B, `ddx info` naming the sparsity,
# DDX_SPARSE=0 giving the same numbers, `ddx check` vs float64 FD, export
# writing the zeros, one-line refusals. Usage: test_sparse_cli.sh path/to/ddx
set -u
DDX=${1:?usage: test_sparse_cli.sh path/to/ddx}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/harness.sh"

M=mlp:30-20-16-1:tanh:blocks=10
"$DDX" info --device cpu --model $M --derivs 'laplacian(u)' 2>/dev/null |
    grep -q 'first-layer block sparsity: 10 blocks, 3 inputs each' && ok || bad "info names the block sparsity"
DDX_SPARSE=0 "$DDX" info --device cpu --model $M --derivs 'laplacian(u)' 2>/dev/null |
    grep -q 'first-layer block sparsity: off (DDX_SPARSE=0)' && ok || bad "info says DDX_SPARSE=0"
"$DDX" info --device cpu --model mlp:30-20-16-1:tanh --derivs 'laplacian(u)' 2>/dev/null |
    grep -q 'block sparsity' && bad "a dense first layer claims sparsity" || ok

# the same numbers with and without (CSV, f64: 17 digits)
{ printf 'x1'; for i in $(seq 2 30); do printf ',x%d' "$i"; done; echo
  awk 'BEGIN { srand(7); for (r = 0; r < 40; r++) { s = ""; for (i = 0; i < 30; i++) s = s (i ? "," : "") rand(); print s } }'; } >"$T/p.csv"
L='u,laplacian(u),hessdiag(u),grad(u)'
"$DDX" eval --device cpu --model $M --derivs "$L" --precision f64 --points "$T/p.csv" --out "$T/s.csv" 2>/dev/null &&
    DDX_SPARSE=0 "$DDX" eval --device cpu --model $M --derivs "$L" --precision f64 --points "$T/p.csv" --out "$T/d.csv" 2>/dev/null &&
    cmp -s "$T/s.csv" "$T/d.csv" && ok || bad "sparse and DDX_SPARSE=0 differ"
if "$DDX" check --device cpu --points "$T/p.csv" --model $M --derivs 'laplacian(u),hessdiag(u)' --precision f64 >"$T/chk" 2>&1
then ok; else bad "ddx check: $(tail -3 "$T/chk")"; fi

# export keeps the zeros (W0 of 20 x 30 with 3 non-zeros per row)
if "$DDX" export --model $M --out "$T/w" >/dev/null 2>&1; then
    nz=$(python3 -c "import numpy as n; print(int((n.load('$T/w/W0.npy') != 0).sum()))" 2>/dev/null)
    [ -z "$nz" ] || [ "$nz" -eq 60 ] && ok || bad "exported W0 has $nz non-zeros, want 60"
else
    bad "export failed"
fi

# options combine; another seed, other weights, the same sparsity
"$DDX" info --device cpu --model mlp:30-20-16-1:tanh:seed=3:blocks=10 --derivs 'grad(u)' 2>/dev/null |
    grep -q 'first-layer block sparsity: 10 blocks' && ok || bad "seed=3:blocks=10"

expect_fail "blocks not dividing" "blocks=7 must divide the 30 inputs" "$DDX" info --model mlp:30-20-1:tanh:blocks=7 --derivs u
expect_fail "blocks > width" "at most the first width 4" "$DDX" info --model mlp:30-4-1:tanh:blocks=10 --derivs u
expect_fail "bad option" "expected seed=N or blocks=B" "$DDX" info --model mlp:30-20-1:tanh:block=3 --derivs u

echo "test_sparse_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
