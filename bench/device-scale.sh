# device-scale.sh — the "scale and precision" GPU run (issue: streaming past
# device memory, f64, the wide path). Sourced by `bench/device-check.sh
# scale` after its build step; uses its run_step, left, $DDX, $OUT, $WORK.
# Steps, most important first (each bounded; the deadline skips the rest):
#   1. W1 over N = 2^16 .. 2^26, each run checked on 64 rows against the CPU;
#   2. W1 f64 vs f32: points/s, and the f32 error against f64 per order
#      (W1's list, plus the same net to 4th order);
#   3. fused vs cuBLAS at widths 64, 128, 256 (2-w-w-w-w-1 Hessian and
#      10-w-w-w-1 Laplacian) to place the fused/wide switch-over;
#   4. one W1 batch larger than the card's free memory (streamed), checked
#      on 256 rows spread over the whole batch;
#   5. W3 on the wide path against JAX and PyTorch (bench/compare.py).
# Writes $OUT/scale.txt (the tables) and $OUT/scale.json (every run).

# DDX_SCALE_DRY=1 shrinks every batch 1024x: a rehearsal of the script on a
# machine without a GPU (with a ddx that runs --device cuda on the CPU).
pow2() {
    local shift=0
    [ -n "${DDX_SCALE_DRY:-}" ] && shift=10
    echo $((1 << ($1 - shift)))
}
S="$WORK/scale"
rm -rf "$S"
mkdir -p "$S"
W1_MODEL="mlp:2-64-64-64-64-1:tanh"
W1_DERIVS="u,grad(u),hessian(u)"
W1_HIGH="u,u_x,u_xx,u_xxx,u_xxxx,u_tt,u_ttxx"
W3_MODEL="mlp:10-256-256-256-1:tanh"

# sbench NAME ARGS...: one `ddx bench --device cuda` run into $S/NAME.json
sbench() {
    local name=$1 max=$2
    shift 2
    run_step "$name" "$max" bash -c "'$DDX' bench --device cuda --json '$S/$name.json' $* > '$S/$name.txt' 2>&1; rc=\$?; tail -12 '$S/$name.txt'; exit \$rc"
}

# 1. batch sweep
for k in 16 18 20 22 24 26; do
    sbench "sweep_2^$k" 60 --model "'$W1_MODEL'" --derivs "'$W1_DERIVS'" --n $(pow2 $k) --repeat 3 --check-rows 64
done

# 2. precision: throughput, and f32 against f64 on the same points
sbench "w1_f64" 60 --model "'$W1_MODEL'" --derivs "'$W1_DERIVS'" --n $(pow2 22) --repeat 3 --precision f64 --check-rows 256
python3 -c "import numpy as np; np.save('$S/pts.npy', np.random.default_rng(5).uniform(0, 1, (65536, 2)))" >> "$OUT/steps.log" 2>&1
for list in W1 HIGH; do
    derivs=$W1_DERIVS
    [ $list = HIGH ] && derivs=$W1_HIGH
    for prec in f32 f64; do
        run_step "eval $list $prec" 60 "$DDX" eval --model "$W1_MODEL" --derivs "$derivs" --device cuda \
            --precision $prec --points "$S/pts.npy" --out "$S/eval_${list}_$prec.npy"
    done
    [ $list = HIGH ] && sbench "high_f32" 60 --model "'$W1_MODEL'" --derivs "'$W1_HIGH'" --n $(pow2 22) --repeat 3
    [ $list = HIGH ] && sbench "high_f64" 60 --model "'$W1_MODEL'" --derivs "'$W1_HIGH'" --n $(pow2 22) --repeat 3 --precision f64
done

# 3. fused vs cuBLAS by width
for w in 64 128 256; do
    for strat in fused cublas; do
        sbench "hess_w${w}_$strat" 60 --model "'mlp:2-$w-$w-$w-$w-1:tanh'" --derivs "'$W1_DERIVS'" \
            --n $(pow2 22) --repeat 3 --strategy $strat
        sbench "lap_w${w}_$strat" 60 --model "'mlp:10-$w-$w-$w-1:tanh'" --derivs "'laplacian(u)'" \
            --n $(pow2 20) --repeat 3 --strategy $strat
    done
done

# 4. one batch past the card's free memory: W1 f32 moves (2 + 7) x 4 bytes a point
free_mib=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits 2>/dev/null | head -1)
host_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if [ -n "$free_mib" ] && [ -n "$host_kib" ]; then
    big=$(python3 -c "print(int($free_mib * 2**20 * 1.08 / 36 / (1024 if '${DDX_SCALE_DRY:-}' else 1)) // 1024 * 1024)")
    cap=$(python3 -c "print(int($host_kib * 1024 * 0.8 / 36) // 1024 * 1024)")
    note="past the card (free ${free_mib} MiB)"
    if [ "$big" -gt "$cap" ]; then
        big=$cap
        note="capped by host memory (${host_kib} KiB): not past the card"
    fi
    echo "big batch: N = $big, $note" >> "$S/big_note.txt"
    sbench "w1_big" 300 --model "'$W1_MODEL'" --derivs "'$W1_DERIVS'" --n "$big" --repeat 1 --check-rows 256
else
    echo "big batch: skipped (no nvidia-smi memory reading)" >> "$S/big_note.txt"
fi

# 5. W3, wide path, against the peers
if [ -f "$ROOT/bench/compare.py" ]; then
    run_step "compare W3 (torch, jax)" 200 \
        python3 "$ROOT/bench/compare.py" --ddx "$DDX" --workloads W3 --device cuda --n $(pow2 20) --repeat 3 \
        --max-seconds 20 --out "$S/compare"
    cp "$S/compare/table.txt" "$OUT/compare_table.txt" 2>/dev/null
fi

# ---- tables ----------------------------------------------------------------------------------
python3 - "$S" "$OUT/scale.json" > "$OUT/scale.txt" 2>&1 <<'EOF'
import glob, json, os, sys
import numpy as np
S, out = sys.argv[1], sys.argv[2]
runs = {}
for p in sorted(glob.glob(os.path.join(S, "*.json"))):
    try:
        runs[os.path.basename(p)[:-5]] = json.load(open(p))
    except Exception as e:  # noqa: BLE001
        runs[os.path.basename(p)[:-5]] = {"error": str(e)}
json.dump(runs, open(out, "w"), indent=1)

def row(name):
    r = runs.get(name)
    if not r or "points_per_s" not in r:
        txt = os.path.join(S, name + ".txt")
        why = open(txt).read().strip().splitlines()[-1][:60] if os.path.exists(txt) else "not run"
        return f"{name:<18} {'-':>12} {'-':>12} {'-':>9}  {why}"
    chk = r.get("check_ok")
    c = "-" if chk is None else f"{r.get('check_worst_rel_err', 0):.1e} {'ok' if chk else 'FAIL'}"
    return f"{name:<18} {r['n']:>12} {r['points_per_s']:12.4g} {r['gflops'] / 1e3:9.2f}  {c}"

hdr = f"{'run':<18} {'N':>12} {'points/s':>12} {'TFLOP/s':>9}  check vs CPU f64"
print("1. W1 f32 over N (plateau: the largest points/s; each within 15%?)")
print(hdr)
sweep = [k for k in runs if k.startswith("sweep_")]
for k in sorted(sweep, key=lambda s: int(s.split("^")[1])):
    print(row(k))
rates = [runs[k]["points_per_s"] for k in sweep if "points_per_s" in runs[k]]
if rates:
    top = max(rates)
    print("   within 15% of the plateau from N = " + ", ".join(
        str(runs[k]["n"]) for k in sorted(sweep, key=lambda s: int(s.split("^")[1]))
        if "points_per_s" in runs[k] and runs[k]["points_per_s"] >= 0.85 * top))
print()
print("2. precision")
print(hdr)
for k in ("sweep_2^22", "w1_f64", "high_f32", "high_f64"):
    print(row(k))
print("   f32 vs f64 on 65536 points, max |f32 - f64| / max(|f64|, 1e-2 max|f64|) per column:")
for lst in ("W1", "HIGH"):
    try:
        a = np.load(os.path.join(S, f"eval_{lst}_f32.npy")).astype(np.float64)
        b = np.load(os.path.join(S, f"eval_{lst}_f64.npy"))
        scale = np.abs(b).max(axis=0)
        err = (np.abs(a - b) / np.maximum(np.abs(b), 1e-2 * scale)).max(axis=0)
        print(f"   {lst}: " + "  ".join(f"{e:.1e}" for e in err))
    except Exception as e:  # noqa: BLE001
        print(f"   {lst}: no result ({e.__class__.__name__})")
print()
print("3. fused vs cublas (N = 2^22 Hessian nets, 2^20 Laplacian nets)")
print(hdr)
for w in (64, 128, 256):
    for kind in ("hess", "lap"):
        for s in ("fused", "cublas"):
            print(row(f"{kind}_w{w}_{s}"))
print()
print("4. streamed batch")
note = os.path.join(S, "big_note.txt")
print("   " + (open(note).read().strip() if os.path.exists(note) else "not run"))
print(hdr)
print(row("w1_big"))
EOF
cat "$OUT/scale.txt"
[ -f "$OUT/compare_table.txt" ] && { echo; echo "5. W3 against the peers"; cat "$OUT/compare_table.txt"; }
