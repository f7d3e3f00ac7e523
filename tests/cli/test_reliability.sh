#!/usr/bin/env bash
# test_reliability.sh — issue 13's cases: no crash on any input, nothing
# lost on a full disk or a signal, no silent wrong number, one-line
# messages. Full disk and mid-write signals come from the LD_PRELOAD shim
# tests/faultinject/fault_write.c (built next to ddx). Usage: test_reliability.sh path/to/ddx
set -u
DDX=${1:?usage: test_reliability.sh path/to/ddx}
. "$(cd "$(dirname "$0")" && pwd)/lib/harness.sh"
SHIM=$(dirname "$DDX")/libddx_faultinject.so
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
C="--device cpu"

# --- crashes: deep nesting in both parsers is one line, not SIGSEGV ---
deep() { python3 -c "import sys; n=int(sys.argv[1]); print(sys.argv[2]*n + sys.argv[3] + sys.argv[4]*n)" "$@"; }
expect_fail "nested parentheses in --model" "nested deeper than 256" "$DDX" info $C --model "expr:$(deep 5000 '(' x ')')" --derivs u
expect_fail "nested exp( in --model" "nested deeper than 256" "$DDX" info $C --model "expr:$(deep 5000 'exp(' x ')')" --derivs u
expect_fail "nested parentheses in --derivs" "nested deeper than 256" "$DDX" info $C --model expr:x --derivs "$(deep 5000 '(' u ')')"
expect_fail "nested D( in --derivs" "nested deeper than 256\|order above" "$DDX" info $C --model expr:x --derivs "$(deep 5000 'D(' u ',x)')"
expect_fail "10^5 unary minus" "nested deeper than 256" "$DDX" info $C --model "expr:$(deep 100000 '-' x '')" --derivs u
# 200 levels is fine
"$DDX" info $C --model "expr:$(deep 200 'sin(' x ')')" --derivs u,u_x >/dev/null 2>&1 && ok || bad "200 nested sin( refused"

# --- size limits that name themselves (1,500 random 8th-order partials) ---
python3 -c "
import random; random.seed(2); n=[f'x{i+1}' for i in range(16)]
print(','.join('D(u,'+','.join(random.choice(n) for _ in range(8))+')' for _ in range(1500)))" >"$T/p1500"
expect_fail "1500 8th-order partials" "DDX_MAX_CHANNELS\|DDX_MAX_PROGRAM_ROWS" "$DDX" bench $C --model mlp:16-64-64-1 --derivs "$(cat "$T/p1500")" --n 100

# --- memory estimate before allocation, in bench too ---
expect_fail "bench memory estimate" "out of memory for 1073741824 points: bench needs 8.0 GiB" \
    env DDX_TEST_MEMORY_AVAILABLE=2147483648 "$DDX" bench $C --model expr:x --derivs u --n 2^30
expect_fail "demo memory estimate" "out of memory for .* points: demo needs" \
    env DDX_TEST_MEMORY_AVAILABLE=1000000 "$DDX" demo $C --n 2^20
# (a sanitizer build cannot start at all under ulimit -v: skipped there)
if bash -c "ulimit -v 2000000; exec \"$DDX\" --version" >/dev/null 2>&1; then
    expect_fail "bench under ulimit -v" "out of memory for 1073741824 points" \
        bash -c "ulimit -v 2000000; exec \"$DDX\" bench $C --model expr:x --derivs u --n 2^30"
else
    echo "test_reliability: $DDX does not start under ulimit -v (sanitizer build?): that case skipped"
fi

# --- --n: no wrap-around, no sign, the limit stated ---
for n in '4294967297^2' '-2^2' '1e15' '2^37' '-5' '2^-1' ' 3'; do
    expect_fail "--n $n" "from 1 to 2^36 = 68719476736" "$DDX" bench $C --model expr:x --derivs u --n "$n"
done

# --- duplicate flags, thread cap ---
expect_fail "duplicate --n" "option '--n' given twice" "$DDX" bench $C --model expr:x --derivs u --n 3 --n 4
expect_fail "duplicate --model" "option '--model' given twice" "$DDX" info $C --model expr:x --model expr:2*x --derivs u
printf 'x\n0.5\n' >"$T/x.csv"
"$DDX" eval $C --model expr:x --derivs u --points "$T/x.csv" --out "$T/th.csv" --threads 1024 2>"$T/err" &&
    grep -q "capped to" "$T/err" && ok || bad "--threads 1024: $(cat "$T/err")"

# --- messages: unknown function, control characters escaped, UTF-8 kept whole ---
expect_fail "unknown function" "unknown function 'foo'" "$DDX" info $C --model 'expr:foo(x)' --derivs u
"$DDX" info $C --model "$(printf 'expr:x+\033[31m\a')" --derivs u 2>"$T/err"
! LC_ALL=C grep -q "$(printf '\033')" "$T/err" && grep -q '\\x1b' "$T/err" && ok || bad "control chars not escaped: $(od -c "$T/err" | head -3)"
"$DDX" info $C --model "expr:x+$(python3 -c "print('é'*2000)")" --derivs u 2>"$T/err"
python3 -c "import sys; open(sys.argv[1],'rb').read().decode('utf-8')" "$T/err" && [ "$(wc -c <"$T/err")" -lt 1200 ] &&
    ok || bad "message is not valid UTF-8 or not shortened ($(wc -c <"$T/err") bytes)"

# NVRTC failure: the log's error lines in one message, not the whole log and source
"$DDX" info --model expr:x --derivs u --device cuda --arch foo >"$T/out" 2>"$T/err"
if grep -q "built without CUDA" "$T/err"; then
    echo "test_reliability: built without CUDA: --arch foo case skipped"
else
    [ "$(grep -c . "$T/err")" -le 2 ] && grep -q "invalid value for --gpu-architecture.*--verbose" "$T/err" && ok ||
        bad "--arch foo: $(grep -c . "$T/err") stderr lines: $(head -c 300 "$T/err")"
    "$DDX" info --model expr:x --derivs u --device cuda --arch foo --verbose >/dev/null 2>"$T/err"
    grep -q "generated source, numbered" "$T/err" && ok || bad "--verbose does not show the source"
fi

# --- ambiguous derivative names, input named like an output ---
expect_fail "u_ab with inputs a,b,ab" "ambiguous: write D(u, ab) or D(u, a, b)" \
    "$DDX" info $C --model 'expr:a*b+ab' --inputs a,b,ab --derivs u_ab
expect_fail "input named u" "input 'u' has the name of an output" "$DDX" info $C --model 'expr:u*x' --inputs u,x --derivs u
expect_fail "mlp input named u" "input 'u' has the name of an output" "$DDX" info $C --model mlp:2-4-1 --inputs u,x --derivs u
"$DDX" info $C --model 'expr:a*b+ab' --inputs a,b,ab --derivs 'D(u,ab),D(u,a,b)' >/dev/null 2>&1 && ok || bad "D() spelling refused"

# --- CSV header names matched to the inputs ---
M='expr:sin(t)*exp(x)'
printf 't,x\n0.7,0.1\n' >"$T/tx.csv"
printf 'x,t\n0.1,0.7\n' >"$T/xt.csv"
printf 'a,b\n0.7,0.1\n' >"$T/ab.csv"
"$DDX" eval $C --model "$M" --derivs u,u_x --points "$T/tx.csv" --out "$T/o1.csv" --precision f64 2>/dev/null &&
    "$DDX" eval $C --model "$M" --derivs u,u_x --points "$T/xt.csv" --out "$T/o2.csv" --precision f64 2>/dev/null &&
    cmp -s "$T/o1.csv" "$T/o2.csv" && ok || bad "x,t header not reordered: $(cat "$T/o1.csv" "$T/o2.csv" 2>&1)"
expect_fail "a,b header" "header names a,b do not match the model's inputs t,x" \
    "$DDX" eval $C --model "$M" --derivs u --points "$T/ab.csv" --out "$T/o3.csv"
"$DDX" eval $C --model "$M" --derivs u,u_x --points "$T/ab.csv" --out "$T/o3.csv" --precision f64 --header-names ignore 2>/dev/null &&
    cmp -s "$T/o1.csv" "$T/o3.csv" && ok || bad "--header-names ignore"

# --- f64 -> f32 narrowing is said, with overflow/underflow counts ---
printf 'x\n1\n2\n3\n' >"$T/x3.csv"
"$DDX" eval $C --model 'expr:x*1e39' --inputs x --derivs u --points "$T/x3.csv" --out "$T/big.npy" --precision f64 2>/dev/null
"$DDX" eval $C --model expr:x --derivs u --points "$T/big.npy" --out "$T/n.csv" 2>"$T/err" &&
    grep -q "narrowed to float32.*3 overflow to inf, 0 underflow" "$T/err" && ok || bad "narrowing note: $(cat "$T/err")"
printf 'x\n1e-46\n1e39\n0.5\n' >"$T/tiny.csv"
"$DDX" eval $C --model expr:x --derivs u --points "$T/tiny.csv" --out "$T/n.csv" 2>"$T/err" &&
    grep -q "1 overflow to inf, 1 underflow to 0" "$T/err" && ok || bad "csv narrowing note: $(cat "$T/err")"
"$DDX" check $C --model expr:x --derivs u --points "$T/tiny.csv" >/dev/null 2>"$T/err"
grep -q "check: note: .*1 overflow to inf, 1 underflow to 0" "$T/err" && ok || bad "check narrowing note: $(cat "$T/err")"

# --- one error rule: FD reference 0 where ddx gives 1.7e-17 is no failure ---
printf 'x\n20\n' >"$T/x20.csv"
"$DDX" check $C --model 'expr:tanh(x)' --derivs u,u_x --points "$T/x20.csv" --precision f64 >"$T/chk" 2>&1 && ok ||
    bad "check tanh(x) at x=20: $(cat "$T/chk")"
# ... and a real error still fails: u_x of a kink-free function vs a wrong column is caught by the tests of check itself

# --- output == input refused, input untouched ---
cp "$T/tx.csv" "$T/in.csv"
expect_fail "--out == --points" "is the input file" "$DDX" eval $C --model "$M" --derivs u --points "$T/in.csv" --out "$T/in.csv"
cmp -s "$T/tx.csv" "$T/in.csv" && ok || bad "input changed"
ln -sf in.csv "$T/in_link.csv"
expect_fail "--out is a link to --points" "is the input file" "$DDX" eval $C --model "$M" --derivs u --points "$T/in.csv" --out "$T/in_link.csv"

# --- output paths checked before the run ---
expect_fail "bench --json in a missing directory" "does not exist" "$DDX" bench $C --model expr:x --derivs u --json "$T/nope/x.json" --n 10
grep -q "points/s" "$T/out" && bad "bench ran before refusing --json" || ok
expect_fail "eval --out in a missing directory" "does not exist" "$DDX" eval $C --model expr:x --derivs u --points "$T/x.csv" --out "$T/nope/o.csv"
expect_fail "eval --out bad extension" "unknown file extension" "$DDX" eval $C --model expr:x --derivs u --points "$T/x.csv" --out "$T/o.txt"

# --- atomic outputs: a full disk or a signal leaves the old file and no temporary ---
python3 -c "
import random; random.seed(1); print('t,x')
for _ in range(20000): print(f'{random.random()},{random.random()}')" >"$T/big.csv"
MB=mlp:2-16-1:tanh
"$DDX" eval $C --model $MB --derivs u --points "$T/tx.csv" --out "$T/good.csv" 2>/dev/null
cp "$T/good.csv" "$T/good.ref"
notemp() { ! ls -a "$T" | grep -q '\.tmp-'; }
if [ -f "$SHIM" ]; then
    for out in good.csv good.npy; do
        "$DDX" eval $C --model $MB --derivs u --points "$T/tx.csv" --out "$T/$out" 2>/dev/null
        cp "$T/$out" "$T/$out.ref"
        expect_fail "full disk ($out)" "write error: No space left on device" \
            env LD_PRELOAD="$SHIM" DDX_FAULT_WRITE_AFTER=4096 "$DDX" eval $C --model $MB --derivs u,u_x,u_t --points "$T/big.csv" --out "$T/$out"
        cmp -s "$T/$out" "$T/$out.ref" && ok || bad "full disk: previous $out lost or changed"
        notemp && ok || bad "full disk: temporary left: $(ls -a "$T")"
        expect_fail "fsync fails ($out)" "write error" \
            env LD_PRELOAD="$SHIM" DDX_FAULT_FSYNC=1 "$DDX" eval $C --model $MB --derivs u --points "$T/big.csv" --out "$T/$out"
        cmp -s "$T/$out" "$T/$out.ref" && ok || bad "fsync failure: previous $out changed"
        env LD_PRELOAD="$SHIM" DDX_FAULT_SIGNAL_AFTER=8192 "$DDX" eval $C --model $MB --derivs u,u_x,u_t --points "$T/big.csv" \
            --out "$T/$out" >/dev/null 2>&1
        rc=$?
        [ $rc -eq 130 ] && ok || bad "SIGINT mid-write: rc $rc, want 130 (killed by SIGINT)"
        cmp -s "$T/$out" "$T/$out.ref" && ok || bad "SIGINT mid-write: previous $out changed"
        notemp && ok || bad "SIGINT mid-write: temporary left: $(ls -a "$T")"
    done
    # export: every file staged first, so a full disk leaves the old directory whole
    mkdir -p "$T/exp"
    "$DDX" export --model mlp:2-32-32-1:tanh:seed=1 --out "$T/exp" >/dev/null && (cd "$T/exp" && md5sum * >"$T/exp.md5")
    expect_fail "export on a full disk" "write error" \
        env LD_PRELOAD="$SHIM" DDX_FAULT_WRITE_AFTER=9000 "$DDX" export --model mlp:2-32-32-1:tanh:seed=2 --out "$T/exp"
    (cd "$T/exp" && md5sum -c --quiet "$T/exp.md5") && ok || bad "export full disk: old files changed"
    ! ls -a "$T/exp" | grep -q '\.tmp-' && ok || bad "export: temporaries left: $(ls -a "$T/exp")"
    # bench JSON on a full disk
    echo '{"old": true}' >"$T/b.json"
    expect_fail "bench json on a full disk" "cannot write" \
        env LD_PRELOAD="$SHIM" DDX_FAULT_WRITE_AFTER=10 "$DDX" bench $C --model expr:x --derivs u --n 100 --repeat 1 --json "$T/b.json"
    grep -q '"old": true' "$T/b.json" && ok || bad "bench json: old file lost"
else
    echo "test_reliability: $SHIM not built; fault-injection cases skipped"
fi
# a real full disk where mounting is allowed (root): a 64 KiB tmpfs
mkdir -p "$T/small"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$T/small" 2>/dev/null; then
    cp "$T/good.ref" "$T/small/o.csv"
    expect_fail "tmpfs full" "No space left on device" "$DDX" eval $C --model $MB --derivs u,u_x,u_t --points "$T/big.csv" --out "$T/small/o.csv"
    cmp -s "$T/small/o.csv" "$T/good.ref" && ok || bad "tmpfs full: previous output lost"
    [ "$(ls -A "$T/small")" = o.csv ] && ok || bad "tmpfs full: left $(ls -A "$T/small")"
    umount "$T/small"
else
    echo "test_reliability: cannot mount a tmpfs here (not root or not permitted): real full-disk case skipped"
fi
# a real signal from outside (timeout -s INT) during a long run: old file intact, no temporary
python3 -c "
import random; random.seed(3); print('t,x')
for _ in range(300000): print(f'{random.random()},{random.random()}')" >"$T/huge.csv"
# (a network big enough that the run takes over a minute: the signal always
# lands mid-run, whatever the machine's speed)
rc=0
timeout -s INT 2 "$DDX" eval $C --model mlp:2-512-512-512-512-1:tanh --derivs 'u,hessian(u)' --points "$T/huge.csv" --out "$T/good.csv" --threads 1 >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] && ok || bad "timeout -s INT: the run finished before the signal (test inconclusive)"
cmp -s "$T/good.csv" "$T/good.ref" && ok || bad "timeout -s INT: previous output changed"
notemp && ok || bad "timeout -s INT: temporary left"

# --- symlinks: a link to a device is written through and kept; a link to a file keeps the link ---
ln -sf /dev/null "$T/null.csv"
"$DDX" eval $C --model expr:x --derivs u --points "$T/x.csv" --out "$T/null.csv" 2>/dev/null && [ -L "$T/null.csv" ] &&
    [ "$(readlink "$T/null.csv")" = /dev/null ] && ok || bad "--out link to /dev/null was replaced or removed"
expect_fail "full disk on a link to /dev/null" "write error\|No space" \
    env LD_PRELOAD="$SHIM" DDX_FAULT_WRITE_AFTER=0 "$DDX" eval $C --model expr:x --derivs u --points "$T/big.csv" --out "$T/null.csv" --inputs t,x --header-names ignore
[ -L "$T/null.csv" ] && [ -c /dev/null ] && ok || bad "link to /dev/null deleted on failure"
cp "$T/good.ref" "$T/target.csv"
ln -sf target.csv "$T/link.csv"
"$DDX" eval $C --model $MB --derivs u,u_x --points "$T/tx.csv" --out "$T/link.csv" 2>/dev/null && [ -L "$T/link.csv" ] &&
    head -1 "$T/target.csv" | grep -q '^u,u_x$' && ok || bad "--out link to a file: link not kept or target not written"

# --- concurrent writers of one path: each file whole, the last rename wins ---
for i in 1 2 3; do
    "$DDX" eval $C --model $MB --derivs u,u_x --points "$T/big.csv" --out "$T/conc.csv" --threads 1 2>/dev/null &
done
wait
[ "$(wc -l <"$T/conc.csv")" = 20001 ] && ok || bad "concurrent writers: $(wc -l <"$T/conc.csv") lines, want 20001"
notemp && ok || bad "concurrent writers left a temporary"

echo "test_reliability: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
