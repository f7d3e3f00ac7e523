#!/usr/bin/env bash
# test_highdim_cli.sh — issue 16 through the command: thousands of inputs,
# hessdiag(u), the stochastic Laplacian laplacian(u, samples=S, seed=K):
# channel counts in `ddx info`, column names, `ddx check` against float64
# finite differences, one-line refusals. Usage: test_highdim_cli.sh path/to/ddx
set -u
DDX=${1:?usage: test_highdim_cli.sh path/to/ddx}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/harness.sh"

# channels SPEC LIST: the "network channels" line of ddx info
channels() { "$DDX" info --device cpu --model "$1" --derivs "$2" 2>/dev/null | sed -n 's/^network channels.*: //p'; }

M1000=mlp:1000-16-16-1:tanh
[ "$(channels $M1000 'laplacian(u)')" = 1002 ] && ok || bad "d=1000 laplacian channels: $(channels $M1000 'laplacian(u)')"
[ "$(channels $M1000 'hessdiag(u)')" = 2001 ] && ok || bad "d=1000 hessdiag channels: $(channels $M1000 'hessdiag(u)')"
[ "$(channels $M1000 'laplacian(u, samples=16, seed=1)')" = 33 ] && ok || bad "d=1000 STDE channels"
[ "$(channels mlp:3-16-1:tanh 'hessian(u)')" = 10 ] && ok || bad "d=3 hessian channels"
[ "$(channels mlp:3-16-1:tanh 'hessdiag(u)')" = 7 ] && ok || bad "d=3 hessdiag channels"
[ "$(channels mlp:4096-8-1:tanh 'laplacian(u)')" = 4098 ] && ok || bad "d=4096 laplacian channels"
[ "$(channels mlp:3-16-1:tanh 'biharmonic(u, samples=4, seed=2)')" = 17 ] && ok || bad "biharmonic STDE channels"
[ "$(channels mlp:3-16-1:tanh 'op2(u, 1,0,0, 0,2,0, 0,0,3)')" = 5 ] && ok || bad "op2 channels"
# the collapsed biharmonic: 3 + 2d + d(d+1)/2 channels; --collapse off: every u_iijj (1 + d + d^2 + d(d+1))
channels_off() { "$DDX" info --device cpu --collapse off --model "$1" --derivs "$2" 2>/dev/null | sed -n 's/^network channels.*: //p'; }
[ "$(channels mlp:5-16-1:tanh 'biharmonic(u)')" = 28 ] && ok || bad "d=5 biharmonic channels: $(channels mlp:5-16-1:tanh 'biharmonic(u)')"
[ "$(channels mlp:5-16-1:tanh 'laplacian(laplacian(u))')" = 28 ] && ok || bad "d=5 laplacian(laplacian) channels"
[ "$(channels_off mlp:5-16-1:tanh 'biharmonic(u)')" = 61 ] && ok || bad "d=5 uncollapsed biharmonic channels"
[ "$(channels mlp:50-8-1:tanh 'biharmonic(u)')" = 1378 ] && ok || bad "d=50 biharmonic channels"
[ "$(channels_off mlp:50-8-1:tanh 'biharmonic(u)')" = 5101 ] && ok || bad "d=50 uncollapsed biharmonic channels"
"$DDX" info --device cpu --model mlp:2-8-1:tanh --derivs 'biharmonic(u)' 2>/dev/null | grep -qF '{0,t,x,tt,tx,xx,lap,lap t,lap x,lap^2}' &&
    ok || bad "describe lists the collapsed biharmonic channels"

# the estimator is named in describe
"$DDX" info --device cpu --model $M1000 --derivs 'laplacian(u, samples=16, seed=1)' 2>/dev/null |
    grep -q 'random directions v0..v15: 16 rademacher, seed 1' && ok || bad "describe names the STDE directions"

# eval at d = 1000: columns and their names
awk 'BEGIN { srand(3); for (r = 0; r < 4; r++) { s = ""; for (i = 0; i < 1000; i++) s = s (i ? "," : "") rand(); print s } }' >"$T/p.csv"
{ printf 'x1'; for i in $(seq 2 1000); do printf ',x%d' "$i"; done; echo; cat "$T/p.csv"; } >"$T/pts.csv"
if "$DDX" eval --device cpu --model $M1000 --derivs 'u,laplacian(u),laplacian(u, samples=8, seed=3),hessdiag(u)' \
    --points "$T/pts.csv" --out "$T/o.csv" 2>"$T/err"; then
    hdr=$(head -1 "$T/o.csv")
    ncol=$(echo "$hdr" | tr ',' '\n' | wc -l)
    # u, laplacian, the STDE column (3 commas in its name), 1000 entries D(u,xi,xi) (2 each)
    [ "$ncol" -eq $((1 + 1 + 4 + 3 * 1000)) ] && ok || bad "d=1000 eval: $ncol header fields"
    echo "$hdr" | grep -q 'laplacian(u, samples=8, seed=3, dist=rademacher)' && ok || bad "STDE column name: $hdr"
    echo "$hdr" | grep -q 'D(u,x1000,x1000)' && ok || bad "hessdiag column names"
    [ "$(wc -l <"$T/o.csv")" -eq 5 ] && ok || bad "d=1000 eval rows"
else
    bad "d=1000 eval failed: $(cat "$T/err")"
fi

# ddx check: exact forms and the estimator against float64 FD
{ echo x1,x2,x3,x4,x5,x6; awk 'BEGIN { srand(5); for (r = 0; r < 5; r++) { s = ""; for (i = 0; i < 6; i++) s = s (i ? "," : "") rand(); print s } }'; } >"$T/p6.csv"
if "$DDX" check --device cpu --points "$T/p6.csv" --model mlp:6-16-16-1:tanh --derivs 'hessdiag(u),laplacian(u),laplacian(u, samples=4, seed=9, dist=gaussian)' \
    --precision f64 >"$T/chk" 2>&1; then ok; else bad "ddx check hessdiag/laplacian/STDE: $(tail -5 "$T/chk")"; fi

expect_fail "samples=0" "samples= must be 1..65536" "$DDX" info --model mlp:3-8-1 --derivs 'laplacian(u, samples=0)'
expect_fail "unknown keyword" "unknown keyword 'foo='" "$DDX" info --model mlp:3-8-1 --derivs 'laplacian(u, foo=1)'
expect_fail "seed without samples" "needs samples=S" "$DDX" info --model mlp:3-8-1 --derivs 'laplacian(u, seed=1)'
expect_fail "STDE over a subset" "over all inputs only" "$DDX" info --model mlp:3-8-1 --inputs a,b,c --derivs 'laplacian(u, a, samples=4)'
expect_fail "biharmonic rademacher" "dist=gaussian only" "$DDX" info --model mlp:3-8-1 --derivs 'biharmonic(u, samples=4, dist=rademacher)'
expect_fail "op2 wrong count" "d\*d = 9 numbers" "$DDX" info --model mlp:3-8-1 --derivs 'op2(u, 1, 2)'
{ echo x1,x2,x3; awk 'BEGIN { srand(7); for (r = 0; r < 4; r++) print rand() "," rand() "," rand() }'; } >"$T/p3.csv"
if "$DDX" check --device cpu --points "$T/p3.csv" --model mlp:3-16-16-1:tanh --derivs 'biharmonic(u),D(laplacian(u),x1)' \
    --precision f64 >"$T/chk3" 2>&1; then ok; else bad "ddx check biharmonic: $(tail -4 "$T/chk3")"; fi
expect_fail "collapse value" "expected on or off" "$DDX" info --model mlp:3-8-1 --derivs 'u' --collapse maybe
expect_fail "keyword elsewhere" "takes no keyword" "$DDX" info --model mlp:3-8-1 --derivs 'D(u, x1, samples=4)'

echo "test_highdim_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
