#!/usr/bin/env bash
# test_op2_matrix_cli.sh — the weighted second-order operator with its
# matrix from a file, for any d: `op2(u, A=@FILE)` (FILE a d x d .npy or
# .csv). At d = 20 the collapsed op2 column equals sum_ij a_ij u_ij over a
# separately evaluated full Hessian (float64, both mixed entries); .npy and
# .csv give the same column; bad files are one-line refusals.
# Usage: test_op2_matrix_cli.sh path/to/ddx
set -u
DDX=${1:?usage: test_op2_matrix_cli.sh path/to/ddx}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/harness.sh"

D=20
M=mlp:$D-16-16-1:tanh
# points (header x1..x20) and a non-symmetric A (header c1..c20, then 20 rows)
awk -v d=$D 'BEGIN { srand(1); printf "x1"; for (i = 2; i <= d; i++) printf ",x%d", i; print "";
    for (r = 0; r < 4; r++) { s = ""; for (i = 0; i < d; i++) s = s (i ? "," : "") (2 * rand() - 1); print s } }' >"$T/p.csv"
awk -v d=$D 'BEGIN { srand(2); printf "c1"; for (i = 2; i <= d; i++) printf ",c%d", i; print "";
    for (r = 0; r < d; r++) { s = ""; for (i = 0; i < d; i++) s = s (i ? "," : "") (rand() - 0.5); print s } }' >"$T/A.csv"

# the same matrix as a .npy (little-endian f8, C order), written with the python standard library
if python3 - "$T/A.csv" "$T/A.npy" <<'PY' 2>"$T/err"; then ok; else bad "writing A.npy: $(cat "$T/err")"; fi
import struct, sys
rows = [list(map(float, l.split(","))) for l in open(sys.argv[1]).read().split("\n")[1:] if l.strip()]
hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), len(rows[0]))
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[2], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(b"".join(struct.pack("<d", v) for r in rows for v in r))
PY

# one channel whatever d: 1 + d + 1 network channels
ch=$("$DDX" info --device cpu --model $M --derivs "op2(u, A=@$T/A.csv)" 2>/dev/null | sed -n 's/^network channels.*: //p')
[ "$ch" = $((D + 2)) ] && ok || bad "op2 A=@ channels: '$ch', want $((D + 2))"

if "$DDX" eval --device cpu --precision f64 --model $M --derivs "op2(u, A=@$T/A.csv),op2(u, A=@$T/A.npy),hessian(u)" \
    --points "$T/p.csv" --out "$T/o.csv" 2>"$T/err"; then
    hdr=$(head -1 "$T/o.csv")
    # hessian(u) columns are row-major: D(u,x1,x1), D(u,x1,x2), ..., D(u,x2,x1), ...
    f3=$(echo "$hdr" | awk -F'","' '{ print $3 }') f4=$(echo "$hdr" | awk -F'","' '{ print $4 }')
    f23=$(echo "$hdr" | awk -F'","' '{ print $23 }')
    [ "$f3 $f4 $f23" = "D(u,x1,x1) D(u,x1,x2) D(u,x2,x1)" ] && ok || bad "hessian column order: $f3 $f4 $f23"
    # sum_ij a_ij H_ij against the op2 columns, relative to the row's scale
    res=$(awk -F, -v d=$D 'NR == FNR { if (FNR > 1) for (j = 1; j <= d; j++) A[FNR - 1, j] = $j; next }
        FNR > 1 { s = 0; m = 0; for (i = 1; i <= d; i++) for (j = 1; j <= d; j++) { h = $(2 + (i - 1) * d + j); s += A[i, j] * h; if (h < 0) h = -h; if (h > m) m = h }
            e1 = $1 - s; if (e1 < 0) e1 = -e1; e2 = $2 - s; if (e2 < 0) e2 = -e2
            if (e1 > 1e-9 * m || e2 > 1e-9 * m || m == 0) { bad++; printf "row %d: op2 %.17g / %.17g, contraction %.17g\n", FNR - 1, $1, $2, s } }
        END { print bad + 0 }' "$T/A.csv" "$T/o.csv")
    [ "$(echo "$res" | tail -1)" = 0 ] && ok || bad "op2(u, A=@FILE) vs the Hessian contraction: $res"
    [ "$(wc -l <"$T/o.csv")" -eq 5 ] && ok || bad "eval rows"
else
    bad "eval failed: $(cat "$T/err")"
fi

# the STDE form takes the file too (A must be positive semi-definite: the identity)
awk -v d=$D 'BEGIN { printf "c1"; for (i = 2; i <= d; i++) printf ",c%d", i; print "";
    for (r = 1; r <= d; r++) { s = ""; for (i = 1; i <= d; i++) s = s (i > 1 ? "," : "") (i == r); print s } }' >"$T/I.csv"
if "$DDX" eval --device cpu --precision f64 --model $M --derivs "op2(u, A=@$T/I.csv, samples=4, seed=3),laplacian(u)" \
    --points "$T/p.csv" --out "$T/s.csv" 2>"$T/err"; then ok; else bad "op2 A=@ samples=: $(cat "$T/err")"; fi

# bad input: one line, non-zero exit
head -20 "$T/A.csv" >"$T/short.csv" # header + 19 rows
sed '3s/^[^,]*/nan/' "$T/A.csv" >"$T/nan.csv"
expect_fail "wrong shape" "A is 19 x 20; it must be d x d = 20 x 20" \
    "$DDX" info --device cpu --model $M --derivs "op2(u, A=@$T/short.csv)"
expect_fail "NaN entry" "A\[2\]\[1\] is nan; every entry must be finite" \
    "$DDX" info --device cpu --model $M --derivs "op2(u, A=@$T/nan.csv)"
expect_fail "missing file" "op2(u, A=@$T/none.npy): " \
    "$DDX" info --device cpu --model $M --derivs "op2(u, A=@$T/none.npy)"
expect_fail "no @" "A= takes @FILE" "$DDX" info --device cpu --model $M --derivs "op2(u, A=$T/A.csv)"
printf 'a,b\n1,0\n0,1\n' >"$T/A2.csv"
expect_fail "A= and coefficients" "no coefficients beside A=" \
    "$DDX" info --device cpu --model mlp:2-8-1 --derivs "op2(u, 1, 0, 0, 1, A=@$T/A2.csv)"
expect_fail "A= elsewhere" "A= is op2's keyword" \
    "$DDX" info --device cpu --model $M --derivs "laplacian(u, A=@$T/A.csv)"
expect_fail "inline spelling past d = 8" "else A=@FILE" "$DDX" info --device cpu --model $M --derivs "op2(u, 1, 2)"

echo "test_op2_matrix_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
