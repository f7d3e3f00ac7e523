#!/usr/bin/env bash
# test_cli.sh — the `ddx` command's contract: results, files, exit codes and
# one-line errors. Usage: test_cli.sh path/to/ddx
set -u
DDX=${1:?usage: test_cli.sh path/to/ddx}
. "$(cd "$(dirname "$0")" && pwd)/lib/harness.sh"

# close A B TOL: |A-B| <= TOL*max(|B|,1e-300)
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN{d=a-b; if(d<0)d=-d; m=b<0?-b:b; exit !(d<=t*m)}'; }

# --- the seed: d^k/dx^k log(x+2) at x = 1 ---
printf 'x\n1\n' >"$T/x.csv"
if "$DDX" eval --model 'expr:log(x+2)' --derivs u,u_x,u_xx,u_xxx,u_xxxx --points "$T/x.csv" \
    --out "$T/seed.csv" --precision f64 --device cpu 2>"$T/err"; then
    head -1 "$T/seed.csv" | grep -q '^u,u_x,u_xx,u_xxx,u_xxxx$' && ok || bad "seed header: $(head -1 "$T/seed.csv")"
    IFS=, read -r a b c d e < <(sed -n 2p "$T/seed.csv")
    close "$a" 1.0986122886681098 1e-13 && close "$b" 0.3333333333333333 1e-13 && close "$c" -0.1111111111111111 1e-13 &&
        close "$d" 0.07407407407407407 1e-13 && close "$e" -0.07407407407407407 1e-13 && ok ||
        bad "seed values: $a $b $c $d $e"
else
    bad "seed eval failed: $(cat "$T/err")"
fi

# --- residual is one column, equal to its ingredients combined ---
printf 't,x\n0.1,0.2\n0.5,0.9\n0.7,0.3\n' >"$T/tx.csv"
M=mlp:2-16-16-1:tanh:seed=3
"$DDX" eval --model $M --derivs 'u_t + u*u_x - 0.01*u_xx' --points "$T/tx.csv" --out "$T/r.csv" --precision f64 --device cpu &&
    "$DDX" eval --model $M --derivs u,u_t,u_x,u_xx --points "$T/tx.csv" --out "$T/i.csv" --precision f64 --device cpu ||
    bad "residual eval"
[ "$(head -1 "$T/r.csv" | awk -F, '{print NF}')" = 1 ] && ok || bad "residual has more than one column"
paste -d, <(tail -n +2 "$T/r.csv") <(tail -n +2 "$T/i.csv") | awk -F, '{want=$3+$2*$4-0.01*$5; d=$1-want; if(d<0)d=-d; if(d>1e-12*(1+(want<0?-want:want))) bad=1} END{exit bad}' &&
    ok || bad "residual != u_t + u*u_x - 0.01*u_xx"

# --- npy output is N x K with the right dtype header ---
"$DDX" eval --model $M --derivs 'grad(u),hessian(u)' --points "$T/tx.csv" --out "$T/o.npy" --device cpu 2>/dev/null &&
    head -c 128 "$T/o.npy" | grep -q "'descr': '<f4'.*'shape': (3, 6)" && ok || bad "npy output header: $(head -c 100 "$T/o.npy" | tr -d '\0')"

# --- bench: a timed run, JSON, and --check-rows against the CPU float64 result ---
"$DDX" bench --model $M --derivs 'u,hessian(u)' --n 3001 --repeat 2 --device cpu --check-rows 50 --json "$T/b.json" >"$T/b.txt" 2>&1 &&
    grep -q "points/s" "$T/b.txt" && grep -q '"check_ok": true' "$T/b.json" && grep -c " ok$" "$T/b.txt" | grep -q '^5$' &&
    python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/b.json" && ok || bad "bench check-rows: $(cat "$T/b.txt")"
expect_fail "bench check-rows range" "expected 1..100000" "$DDX" bench --model $M --derivs u --check-rows 0

# --- D() names hold commas: CSV quotes them and they equal the u_xx spelling ---
printf 'x1,x2,x3\n0.1,0.2,0.3\n' >"$T/x3.csv"
"$DDX" eval --model mlp:3-8-1:tanh --derivs 'D(u,x1,x1),u' --points "$T/x3.csv" --out "$T/d.csv" --device cpu 2>"$T/err" &&
    [ "$(head -1 "$T/d.csv")" = '"D(u,x1,x1)",u' ] && ok || bad "D() csv header: $(head -1 "$T/d.csv" 2>/dev/null) $(cat "$T/err")"
"$DDX" eval --model mlp:3-8-1:tanh --derivs 'hessian(u)' --points "$T/x3.csv" --out "$T/h.csv" --device cpu 2>"$T/err" &&
    [ "$(tail -1 "$T/d.csv" | cut -d, -f1)" = "$(tail -1 "$T/h.csv" | cut -d, -f1)" ] && ok || bad "D(u,x1,x1) != hessian[0]: $(cat "$T/err")"

# --- check against finite differences passes, f32 and f64 ---
"$DDX" check --model $M --derivs 'u,grad(u),hessian(u),u_xxx' --points "$T/tx.csv" --precision f64 --device cpu >"$T/chk" 2>&1 &&
    grep -q "u_xxx" "$T/chk" && ok || bad "check f64: $(cat "$T/chk")"
"$DDX" check --model 'expr:sin(t)*exp(-x^2)' --derivs 'u,u_t,u_xx,u_txx' --points "$T/tx.csv" --device cpu >"$T/chk" 2>&1 &&
    ok || bad "check f32 expr: $(cat "$T/chk")"

# --- info: the heat equation carries 4 channels through the network ---
"$DDX" info --model mlp:2-64-64-1:tanh --derivs u_t,u_xx --device cpu >"$T/info" 2>&1 &&
    grep -q "network channels (Taylor coefficients per dense layer): 4" "$T/info" && ok || bad "info heat: $(cat "$T/info")"

# --- laplacian over some inputs: 2-D heat u_t - (u_xx + u_yy) carries {0,t,x,y,lap(x y)} ---
"$DDX" info --model mlp:3-32-32-1:tanh --inputs t,x,y --derivs 'u_t - 0.1*laplacian(u, x, y)' --device cpu >"$T/info" 2>&1 &&
    grep -q "network channels (Taylor coefficients per dense layer): 5" "$T/info" && grep -q "lap(x y)" "$T/info" &&
    ok || bad "info laplacian(u,x,y): $(cat "$T/info")"
expect_fail "laplacian input twice" "named twice" "$DDX" info --model mlp:3-8-1:tanh --inputs t,x,y --derivs 'laplacian(u, x, x)'

# --- export ---
"$DDX" export --model mlp:2-8-8-1:tanh --out "$T/exp" >/dev/null 2>&1 && [ -f "$T/exp/W0.npy" ] && [ -f "$T/exp/b2.npy" ] &&
    grep -q '"activation": "tanh"' "$T/exp/manifest.json" && ok || bad "export"

# --- help on every command ---
for c in eval check info export bench demo; do
    "$DDX" $c --help | grep -q "usage: ddx $c" && ok || bad "$c --help"
done
"$DDX" --help | grep -q "usage: ddx COMMAND" && ok || bad "ddx --help"

# --- bad input: one line, non-zero exit, never a crash ---
expect_fail "unknown command" "unknown command" "$DDX" frobnicate
expect_fail "unknown option" "unknown option '--frob'" "$DDX" eval --frob 1
expect_fail "missing value" "needs a value" "$DDX" eval --model
expect_fail "missing model" "--model is required" "$DDX" info --derivs u
expect_fail "bad spec" "expected expr:EXPRESSION" "$DDX" info --model foo --derivs u
expect_fail "bad activation" "unknown activation 'relu'" "$DDX" info --model mlp:2-8-1:relu --derivs u
expect_fail "bad widths" "widths must be" "$DDX" info --model mlp:2-x-1:tanh --derivs u
expect_fail "unknown name" "unknown name 'v_x'" "$DDX" info --model mlp:2-8-1:tanh --derivs u,v_x
expect_fail "not an input" "'q' is not an input" "$DDX" info --model mlp:2-8-1:tanh --derivs u_q
expect_fail "parse error" "unexpected" "$DDX" info --model mlp:2-8-1:tanh --derivs 'u_t +* u'
expect_fail "order limit" "order" "$DDX" info --model 'expr:sin(x)' --derivs u_xxxxxxxxx
expect_fail "missing points" "x.npy" "$DDX" eval --model $M --derivs u --points "$T/nonexistent/x.npy" --out "$T/o.npy"
expect_fail "wrong columns" "has 1 columns, the model takes 2 inputs (t,x)" "$DDX" eval --model $M --derivs u --points "$T/x.csv" --out "$T/o.csv"
printf 't,x\n' >"$T/empty.csv"
expect_fail "zero points" "no points" "$DDX" eval --model $M --derivs u --points "$T/empty.csv" --out "$T/o.csv"
printf 't,x\n0.1,0.2,0.3\n' >"$T/ragged.csv"
expect_fail "ragged csv" "ragged.csv:2" "$DDX" eval --model $M --derivs u --points "$T/ragged.csv" --out "$T/o.csv"
printf 'garbage' >"$T/bad.npy"
expect_fail "bad npy" "bad.npy" "$DDX" eval --model $M --derivs u --points "$T/bad.npy" --out "$T/o.csv"
expect_fail "unwritable out" "$T/nodir/o.csv" "$DDX" eval --model $M --derivs u --points "$T/tx.csv" --out "$T/nodir/o.csv" --device cpu
expect_fail "bad precision" "expected f32 or f64" "$DDX" eval --model $M --derivs u --precision f16
expect_fail "bad device" "expected auto, cpu or cuda" "$DDX" eval --model $M --derivs u --device tpu
expect_fail "export expr" "only mlp" "$DDX" export --model 'expr:x' --out "$T/e2"
expect_fail "missing onnx" "$T/none.onnx" "$DDX" info --model "$T/none.onnx" --derivs u

# --device cuda without a GPU is a clear error; with one it works
if "$DDX" info --model $M --derivs u --device cuda >/dev/null 2>"$T/err"; then ok; else
    grep -q "" "$T/err" && ok || bad "device cuda failed silently"
fi

# NaN in a row stays in that row
printf 't,x\n0.1,0.2\nnan,0.5\n0.7,0.3\n' >"$T/nan.csv"
"$DDX" eval --model $M --derivs u,u_xx --points "$T/nan.csv" --out "$T/nan_out.csv" --precision f64 --device cpu 2>/dev/null &&
    sed -n 3p "$T/nan_out.csv" | grep -qi nan && ! sed -n 2p "$T/nan_out.csv" | grep -qi nan &&
    ! sed -n 4p "$T/nan_out.csv" | grep -qi nan && ok || bad "NaN row: $(cat "$T/nan_out.csv")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
