#!/usr/bin/env bash
# test_onnx_cli.sh — `ddx --model file.onnx`: the committed fixtures against
# their framework references (tests/fixtures/onnx/make_fixtures.py), names
# from the model in LIST, one-line refusals, and every kept fuzz crasher
# replayed. Usage: test_onnx_cli.sh path/to/ddx
set -u
DDX=${1:?usage: test_onnx_cli.sh path/to/ddx}
HERE=$(cd "$(dirname "$0")" && pwd)
FX=$HERE/../fixtures/onnx
FUZZ=$HERE/../fuzz
. "$HERE/lib/harness.sh"

# npy_cols FILE: the float64 values of an .npy file, one row per line, comma-separated
npy_cols() {
    local f=$1 hl cols
    hl=$(od -A n -t u2 -j 8 -N 2 "$f" | tr -d ' ')
    cols=$(head -c $((10 + hl)) "$f" | grep -ao "'shape': ([0-9]*, [0-9]*" | sed 's/.*, //')
    od -A n -v -t f8 -j $((10 + hl)) "$f" | tr -s ' ' '\n' | grep . | paste -d, $(printf ' -%.0s' $(seq "$cols"))
}

# compare GOT.csv (header + rows) with the columns COLS (1-based, comma list) of REF rows, relative TOL of column max
compare() {
    local got=$1 ref=$2 cols=$3 tol=$4
    paste -d'|' <(tail -n +2 "$got") "$ref" | awk -F'|' -v cols="$cols" -v tol="$tol" '
        { n = split(cols, c, ","); split($1, g, ","); split($2, r, ",");
          for (k = 1; k <= n; k++) { G[NR, k] = g[k]; R[NR, k] = r[c[k]]; a = r[c[k]] < 0 ? -r[c[k]] : r[c[k]]; if (a > M[k]) M[k] = a } }
        END { for (i = 1; i <= NR; i++) for (k = 1; k <= n; k++) { m = M[k] > 1e-3 ? M[k] : 1e-3; d = G[i, k] - R[i, k];
              if (d < 0) d = -d; if (d > tol * m) { printf "row %d col %d: %s vs %s\n", i, k, G[i, k], R[i, k]; bad = 1 } }
              exit bad }'
}

# --- Burgers (PyTorch, one [N,2] input named by the defaults t,x) ---
npy_cols "$FX/burgers_torch_ref.npy" >"$T/burgers_ref.csv"
B='u,u_t,u_x,u_xx,u_xxx,u_t + u*u_x - 0.003183098861837907*u_xx'
if "$DDX" eval --model "$FX/burgers_torch.onnx" --derivs "$B" --points "$FX/burgers_torch_points.npy" \
    --out "$T/b.csv" --precision f64 --device cpu 2>"$T/err"; then
    head -1 "$T/b.csv" | grep -q '^u,u_t,u_x,u_xx,u_xxx,u_t + u\*u_x' && ok || bad "burgers header: $(head -1 "$T/b.csv")"
    compare "$T/b.csv" "$T/burgers_ref.csv" 1,2,3,6,7,9 1e-12 && ok || bad "burgers f64 values"
else
    bad "burgers eval: $(cat "$T/err")"
fi
"$DDX" eval --model "$FX/burgers_torch.onnx" --derivs "$B" --points "$FX/burgers_torch_points.npy" \
    --out "$T/b32.csv" --precision f32 --device cpu 2>"$T/err" &&
    compare "$T/b32.csv" "$T/burgers_ref.csv" 1,2,3,6,7,9 2e-5 && ok || bad "burgers f32: $(cat "$T/err")"

# --- positional alias and D(): u_xx = D(out0,x,x) (npy out: the name has commas) ---
"$DDX" eval --model "$FX/burgers_torch.onnx" --derivs 'D(out0,x,x),D(u,t,x)' --points "$FX/burgers_torch_points.npy" \
    --out "$T/d.npy" --precision f64 --device cpu 2>"$T/err" && npy_cols "$T/d.npy" >"$T/d.csv" &&
    (echo h; cat "$T/d.csv") >"$T/d2.csv" && compare "$T/d2.csv" "$T/burgers_ref.csv" 6,5 1e-12 && ok ||
    bad "D(out0,x,x): $(cat "$T/err")"

# --- --inputs renames the columns of a single input tensor ---
"$DDX" eval --model "$FX/burgers_torch.onnx" --inputs s,y --derivs 'u_y' --points "$FX/burgers_torch_points.npy" \
    --out "$T/r.csv" --precision f64 --device cpu 2>"$T/err" && compare "$T/r.csv" "$T/burgers_ref.csv" 3 1e-12 && ok ||
    bad "--inputs s,y: $(cat "$T/err")"
expect_fail "--inputs count" "names 3 inputs but the model takes 2" \
    "$DDX" info --model "$FX/burgers_torch.onnx" --inputs a,b,c --derivs u --device cpu

# --- Navier-Stokes (PyTorch, inputs t, x, y; outputs u, v, p): three residuals, one program ---
npy_cols "$FX/ns_torch_ref.npy" >"$T/ns_ref.csv"
NS='u_x + v_y,u_t + u*u_x + v*u_y + p_x - 0.01*(u_xx + u_yy),v_t + u*v_x + v*v_y + p_y - 0.01*(v_xx + v_yy),p'
"$DDX" eval --model "$FX/ns_torch.onnx" --derivs "$NS" --points "$FX/ns_torch_points.npy" --out "$T/ns.csv" \
    --precision f64 --device cpu 2>"$T/err" && compare "$T/ns.csv" "$T/ns_ref.csv" 4,5,6,3 1e-12 && ok ||
    bad "navier-stokes: $(cat "$T/err")"
"$DDX" info --model "$FX/ns_torch.onnx" --derivs "$NS" --device cpu >"$T/info" 2>&1 &&
    grep -q "inputs: 3 (t,x,y)" "$T/info" && grep -q "network channels (Taylor coefficients per dense layer): 6" "$T/info" &&
    [ "$(grep -c 'node .* dense ' "$T/info")" = 3 ] && ok || bad "ns info: $(head -5 "$T/info")"

# --- JAX (jax2onnx, float64 weights) and the hand-built op mix, CSV points ---
npy_cols "$FX/heat_jax_ref.npy" >"$T/heat_ref.csv"
(echo t,x; npy_cols "$FX/heat_jax_points.npy") >"$T/heat_pts.csv"
"$DDX" eval --model "$FX/heat_jax.onnx" --derivs 'u_t - 0.1*u_xx,u_xxx' --points "$T/heat_pts.csv" --out "$T/h.csv" \
    --precision f64 --device cpu 2>"$T/err" && compare "$T/h.csv" "$T/heat_ref.csv" 7,6 1e-12 && ok ||
    bad "heat_jax: $(cat "$T/err")"
# --- Keras 3 export (all-digit output name -> u): wave residual and the collapsed laplacian ---
npy_cols "$FX/wave_keras_ref.npy" >"$T/wave_ref.csv"
"$DDX" eval --model "$FX/wave_keras.onnx" --derivs 'u_tt - 4*u_xx,laplacian(u),u_txx' --points "$FX/wave_keras_points.npy" \
    --out "$T/w.csv" --precision f64 --device cpu 2>"$T/err" && compare "$T/w.csv" "$T/wave_ref.csv" 7,8,6 1e-12 && ok ||
    bad "wave_keras: $(cat "$T/err")"
npy_cols "$FX/ops_onnx_ref.npy" >"$T/ops_ref.csv"
"$DDX" eval --model "$FX/ops_onnx.onnx" --derivs 'y,y_tx,y_xxx,z,z_tx' --points "$FX/ops_onnx_points.npy" \
    --out "$T/o.csv" --precision f64 --device cpu 2>"$T/err" && compare "$T/o.csv" "$T/ops_ref.csv" 1,5,7,8,10 1e-12 && ok ||
    bad "ops_onnx: $(cat "$T/err")"

# --- refusals: one line naming the problem, non-zero exit, nothing written ---
P="$FX/burgers_torch_points.npy"
expect_fail "relu" "node '/1/Relu' (Relu): op not supported.*supported: Gemm" \
    "$DDX" eval --model "$FX/refuse_relu.onnx" --derivs u --points "$P" --out "$T/no.csv" --device cpu
[ ! -e "$T/no.csv" ] && ok || bad "refused model wrote output"
expect_fail "opset 12" "opset 12 is not supported (supported: 13 to 21" \
    "$DDX" info --model "$FX/refuse_opset12.onnx" --derivs u --device cpu
expect_fail "dynamic dim" "dimension 1 of input 'tx' is dynamic" \
    "$DDX" info --model "$FX/refuse_dyndim.onnx" --derivs u --device cpu
expect_fail "int input" "dtype int64" "$DDX" info --model "$FX/refuse_int_input.onnx" --derivs u --device cpu
expect_fail "cycle" "cycle" "$DDX" info --model "$FX/refuse_cycle.onnx" --derivs u --device cpu
expect_fail "missing file" "cannot open the ONNX model" "$DDX" info --model "$T/none.onnx" --derivs u --device cpu
head -c 1000 "$FX/burgers_torch.onnx" >"$T/trunc.onnx"
expect_fail "truncated" "exceeds\|truncated" "$DDX" info --model "$T/trunc.onnx" --derivs u --device cpu
printf 'this is not a model\n' >"$T/text.onnx"
expect_fail "text file" "onnx" "$DDX" info --model "$T/text.onnx" --derivs u --device cpu
: >"$T/empty.onnx"
expect_fail "empty file" "empty file" "$DDX" info --model "$T/empty.onnx" --derivs u --device cpu
expect_fail "unknown output name" "unknown name 'w_x' (known: t,x,y,u,v,p,out0" \
    "$DDX" info --model "$FX/ns_torch.onnx" --derivs w_x --device cpu

# --- kept fuzz crashers and hand-made hostile seeds: refused or evaluated, never a crash ---
for f in "$FUZZ"/crashers_onnx/* "$FUZZ"/corpus_onnx/hostile_*; do
    [ -f "$f" ] || continue
    cp "$f" "$T/case.onnx"
    timeout 60 "$DDX" info --model "$T/case.onnx" --derivs out0 --device cpu >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ge 124 ]; then bad "$(basename "$f"): crashed or hung (rc $rc): $(head -c 300 "$T/err")"
    elif [ $rc -ne 0 ] && [ "$(grep -c . "$T/err")" -ne 1 ]; then bad "$(basename "$f"): stderr not one line"
    else ok; fi
done

echo "onnx_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
