#!/usr/bin/env bash
# test_mpi.sh — ddx-mpi's contract: `mpirun -n R ddx-mpi eval` writes the
# same bytes as a single-process `ddx eval` (N not divisible by R, N < R,
# f32 and f64, a converted input), refuses what `ddx eval` refuses, and a
# failing rank (bad file, truncated file, a file of another length), an
# unwritable output folder or a CSV gives one line, a non-zero exit and no
# output file. With the CUDA mock driver (tests/cuda_mock_driver.c) the GPU
# path too: ranks dealt over a node's devices, one rank on all of them, a
# device failing mid-stream. Usage:
#   test_mpi.sh path/to/ddx-mpi path/to/ddx [mpirun [path/to/libddx_cuda_mock.so]]
#
# Open MPI in a container, as root, 2 cores: OMPI_ALLOW_RUN_AS_ROOT(+_CONFIRM)
# lets root run jobs, --oversubscribe lets 3 ranks share 2 cores, the
# shared-memory transport without the single-copy mechanism (CMA needs
# ptrace rights containers often lack) and no network transports; -q keeps
# mpirun's own banner off stderr so each failure is the one line ddx-mpi
# prints.
set -u
MPI=${1:?usage: test_mpi.sh path/to/ddx-mpi path/to/ddx [mpirun]}
DDX=${2:?usage: test_mpi.sh path/to/ddx-mpi path/to/ddx [mpirun]}
MPIRUN=${3:-mpirun}
MOCK=${4:-}
MPI=$(realpath "$MPI") DDX=$(realpath "$DDX")
. "$(cd "$(dirname "$0")/../cli" && pwd)/lib/harness.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_WAIT_POLICY=passive # oversubscribed: idle OpenMP threads must not spin
run() { timeout 120 "$MPIRUN" -q --oversubscribe "$@"; }

cd "$T"
# the inputs, written with Python's standard library (no numpy needed)
python3 - <<'EOF'
import random, struct
def save(name, rows, cols, dtype="<f8", shape=None, data=None):
    r = random.Random(name)
    vals = data if data is not None else [r.random() for _ in range(rows * cols)]
    shp = shape or ("(%d, %d)" % (rows, cols))
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, shp)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    fmt = {"<f8": "<%dd", ">f8": ">%dd", "<f4": "<%df"}[dtype] % len(vals)
    open(name, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + struct.pack(fmt, *vals))
save("p1001.npy", 1001, 2)          # 1001 = 7*11*13: not divisible by 2 or 3
save("p2.npy", 2, 2)                # fewer rows than 3 ranks
save("p1.npy", 1, 2)                # fewer rows than 2 ranks
save("p0.npy", 0, 2)
save("p333f4.npy", 333, 2, "<f4")
save("p500be.npy", 500, 2, ">f8")   # big-endian, swapped on reading
save("p999.npy", 999, 2)            # another length
save("x.npy", 101, 1, shape="(101,)", data=[-1 + 2 * i / 100 for i in range(101)])
open("bad.npy", "wb").write(b"not an npy file at all\n")
open("trunc.npy", "wb").write(open("p1001.npy", "rb").read()[:5000])
EOF
M=mlp:2-16-16-1:tanh:seed=3
L='u,grad(u),hessian(u),u_xxx'

# --- byte-identical to ddx eval (DDX_TEST_QUICK, the sanitizer build: 3 ranks, both precisions, fewer files) ---
RS="2 3" FILES="p1001 p2 p1 p333f4 p500be"
[ -n "${DDX_TEST_QUICK:-}" ] && RS=3 FILES="p1001 p2 p500be"
for R in $RS; do
    for f in $FILES; do
        for P in f32 f64; do
            "$DDX" eval --model $M --derivs "$L" --points $f.npy --out ref.npy --precision $P --device cpu 2>/dev/null ||
                { bad "ddx eval $f $P"; continue; }
            if run -n $R "$MPI" eval --model $M --derivs "$L" --points $f.npy --out out.npy --precision $P 2>err; then
                cmp -s ref.npy out.npy && ok || bad "R=$R $f $P: output differs from ddx eval"
            else
                bad "R=$R $f $P: $(cat err)"
            fi
            rm -f out.npy
        done
    done
done
# small blocks: several rounds, and ranks with different numbers of blocks (501 vs 500 rows in 250s)
for R in 2 3; do
    "$DDX" eval --model $M --derivs "$L" --points p1001.npy --out ref.npy --device cpu 2>/dev/null &&
        run -n $R "$MPI" eval --model $M --derivs "$L" --points p1001.npy --out out.npy --block-rows 250 &&
        cmp -s ref.npy out.npy && ok || bad "R=$R --block-rows 250"
    rm -f out.npy
done
expect_fail "bad --block-rows" "--block-rows: expected a positive count" \
    run -n 2 "$MPI" eval --model $M --derivs u --points p1001.npy --out out.npy --block-rows 0
# a 1-column (N,) input, an expression model, and the CPU thread option
"$DDX" eval --model 'expr:sin(x)*exp(x)' --derivs u,u_x,u_xx --points x.npy --out ref.npy --precision f64 --device cpu 2>/dev/null &&
    run -n 2 "$MPI" eval --model 'expr:sin(x)*exp(x)' --derivs u,u_x,u_xx --points x.npy --out out.npy --precision f64 \
        --device cpu --threads 1 && cmp -s ref.npy out.npy && ok || bad "(N,) input with an expression model"
rm -f out.npy

# --- N = 0: refused as ddx eval refuses it, and no output ---
expect_fail "ddx eval N=0" "no points (0 rows)" "$DDX" eval --model $M --derivs u --points p0.npy --out out.npy --device cpu
expect_fail "ddx-mpi N=0" "ddx-mpi eval: no points (0 rows)" run -n 2 "$MPI" eval --model $M --derivs u --points p0.npy --out out.npy
[ ! -e out.npy ] && ok || bad "N=0 left an output file"

# --- a failing rank: its one-line message, non-zero exit, no output; an older file stays ---
echo "an older result" >old.npy
cp old.npy keep.npy
expect_fail "bad file on rank 1" "ddx-mpi eval: rank 1 of 2: bad.npy: not an .npy file (bad magic)" \
    run -n 1 "$MPI" eval --model $M --derivs u --points p1001.npy --out old.npy : -n 1 "$MPI" eval --model $M --derivs u --points bad.npy --out old.npy
cmp -s old.npy keep.npy && ok || bad "a failed job changed the existing output"
expect_fail "truncated file on rank 2" "rank 2 of 3: trunc.npy: truncated" \
    run -n 2 "$MPI" eval --model $M --derivs u --points p1001.npy --out out.npy : -n 1 "$MPI" eval --model $M --derivs u --points trunc.npy --out out.npy
expect_fail "files of different lengths" "rank 1 of 2: p999.npy has 999 rows, rank 0's points file has 1001" \
    run -n 1 "$MPI" eval --model $M --derivs u --points p1001.npy --out out.npy : -n 1 "$MPI" eval --model $M --derivs u --points p999.npy --out out.npy
expect_fail "missing file on every rank" "ddx-mpi eval: nothere.npy: No such file or directory" \
    run -n 3 "$MPI" eval --model $M --derivs u --points nothere.npy --out out.npy
expect_fail "wrong column count" "p1001.npy: has 2 columns, the model takes 3 inputs" \
    run -n 2 "$MPI" eval --model mlp:3-8-1:tanh --derivs u --points p1001.npy --out out.npy
expect_fail "bad model" "ddx-mpi eval: " run -n 2 "$MPI" eval --model mlp:2-x-1 --derivs u --points p1001.npy --out out.npy
expect_fail "bad option, said once" "unknown option '--bogus'" run -n 3 "$MPI" eval --bogus 1 --model $M
[ ! -e out.npy ] && ok || bad "a failed job left out.npy"
ls ./*.tmp >/dev/null 2>&1 && bad "a failed job left a temporary file: $(ls ./*.tmp)" || ok

# --- an output folder nobody may write to (root: without the capability that overrides it) ---
mkdir ro && chmod 555 ro
AS_USER=()
[ "$(id -u)" -eq 0 ] && AS_USER=(setpriv --bounding-set=-dac_override,-dac_read_search)
if [ "$(id -u)" -ne 0 ] || command -v setpriv >/dev/null; then
    expect_fail "read-only output folder" "cannot create ro/out.npy.ddx-mpi-.*Permission denied" \
        "${AS_USER[@]}" timeout 120 "$MPIRUN" -q --oversubscribe -n 2 "$MPI" eval --model $M --derivs u --points p1001.npy --out ro/out.npy
    [ -z "$(ls -A ro)" ] && ok || bad "read-only folder: $(ls -A ro)"
else
    echo "note: root without setpriv: the read-only folder case is skipped"
fi

# --- CSV is refused, with the reason ---
printf 't,x\n0.1,0.2\n' >p.csv
expect_fail "CSV points" "CSV is not supported by ddx-mpi (a CSV has no row offsets" \
    run -n 2 "$MPI" eval --model $M --derivs u --points p.csv --out out.npy
expect_fail "CSV output" "--out out.csv: CSV is not supported" run -n 2 "$MPI" eval --model $M --derivs u --points p1001.npy --out out.csv
[ ! -e out.csv ] && ok || bad "CSV output was written"

# --- bench: aggregate rate and one line per rank, strong and weak ---
run -n 3 "$MPI" bench --model $M --derivs u,u_xx --n 30001 --repeat 2 >b.txt 2>&1 &&
    grep -q "aggregate .* points/s" b.txt && grep -q "N = 30001 (strong" b.txt &&
    [ "$(grep -cE '^ +[0-2] +0 +cpu' b.txt)" = 3 ] && grep -qE '^ +2 +0 +cpu .* 10000 ' b.txt && ok || bad "bench strong: $(cat b.txt)"
run -n 2 "$MPI" bench --model $M --derivs u --n-per-rank 5000 --repeat 1 --precision f64 >b.txt 2>&1 &&
    grep -q "N = 10000 (weak" b.txt && grep -q "balance" b.txt && ok || bad "bench weak: $(cat b.txt)"
run -n 1 "$MPI" --help | grep -q "usage: mpirun -n R ddx-mpi eval" && ok || bad "help"

# --- GPU ranks through the mock driver (results are its per-row pattern, the same for ddx and ddx-mpi) ---
if [ -n "$MOCK" ]; then
    G=(env DDX_CUDA_DRIVER="$MOCK" DDX_MOCK_DEVICES=2 DDX_MOCK_D=2 DDX_MOCK_K=2 DDX_MOCK_RSZ=4 DDX_CACHE_DIR="$T/kc")
    "${G[@]}" "$DDX" eval --model $M --derivs u,u_x --points p1001.npy --out ref.npy --device cuda 2>/dev/null || bad "mock ddx eval"
    "${G[@]}" timeout 120 "$MPIRUN" -q --oversubscribe -n 3 "$MPI" eval --model $M --derivs u,u_x --points p1001.npy \
        --out out.npy --device cuda --block-rows 100 && cmp -s ref.npy out.npy && ok || bad "mock: 3 ranks on 2 devices"
    rm -f out.npy
    "${G[@]}" timeout 120 "$MPIRUN" -q --oversubscribe -n 1 "$MPI" eval --model $M --derivs u,u_x --points p1001.npy \
        --out out.npy --device cuda:all && cmp -s ref.npy out.npy && ok || bad "mock: one rank on both devices"
    rm -f out.npy
    "${G[@]}" timeout 120 "$MPIRUN" -q --oversubscribe -n 2 "$MPI" bench --model $M --derivs u,u_x --n 5000 --repeat 1 \
        --device cuda >b.txt 2>&1 && grep -qE '^ +1 +0 +cuda:1 ' b.txt && ok || bad "mock bench: $(cat b.txt)"
    expect_fail "a device failing mid-stream" "rank 1 of 3: cuda:1: eval: cuLaunchKernel(.*CUDA_ERROR_LAUNCH_FAILED" \
        "${G[@]}" DDX_MOCK_FAIL=1:3 timeout 120 "$MPIRUN" -q --oversubscribe -n 3 "$MPI" eval --model $M --derivs u,u_x \
        --points p1001.npy --out out.npy --device cuda --block-rows 100
    [ ! -e out.npy ] && ! ls ./*.tmp >/dev/null 2>&1 && ok || bad "a failed GPU job left a file"
fi

echo "test_mpi: $pass passed, $fail failed"
[ $fail -eq 0 ]
