# harness.sh — sourced by the CLI test scripts (tests/cli/*.sh): a scratch
# folder $T removed on exit, pass/fail counters, and expect_fail.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_fail NAME PATTERN CMD...: non-zero exit that is no crash or hang
# (rc < 124), exactly one stderr line, matching PATTERN
expect_fail() {
    local name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
    if [ $rc -ge 124 ]; then bad "$name: crashed or hung (rc $rc): $(head -c 300 "$T/err")"; return; fi
    if [ "$(grep -c . "$T/err")" -ne 1 ]; then bad "$name: stderr not one line: $(head -c 300 "$T/err")"; return; fi
    if ! grep -q -- "$pat" "$T/err"; then bad "$name: stderr '$(cat "$T/err")' lacks '$pat'"; return; fi
    ok
}
