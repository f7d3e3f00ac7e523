#!/bin/bash
# exported_symbols.sh LIBDDX_SO — libddx.so exports the ddx_* API and nothing
# else (the library is built with -fvisibility=hidden; DDX_API in ddx.h marks
# what is exported). Lists the count; fails on any symbol not named ddx_*.
set -u
lib=${1:?usage: exported_symbols.sh path/to/libddx.so}
command -v nm > /dev/null || { echo "nm not found (binutils)"; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u) || exit 1
n=$(printf '%s\n' "$syms" | grep -c .)
bad=$(printf '%s\n' "$syms" | grep -v '^ddx_' || true)
echo "libddx.so exports $n symbols"
if [ "$n" -lt 20 ]; then echo "FAIL: too few exported symbols ($n): is the API missing?"; exit 1; fi
if [ -n "$bad" ]; then
    echo "FAIL: exported symbols outside the ddx_ API:"
    printf '  %s\n' $bad
    exit 1
fi
# the API a user links against is there
for f in ddx_graph_create ddx_compile ddx_program_eval ddx_gelu ddx_unary_op_name; do
    printf '%s\n' "$syms" | grep -qx "$f" || { echo "FAIL: $f is not exported"; exit 1; }
done
echo "ok: every exported symbol is ddx_*"
