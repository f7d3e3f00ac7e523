#!/usr/bin/env bash
# cpu_baseline_isa.sh OBJDIR — the library's x86 baseline objects contain
# no AVX instruction (VEX/EVEX: every such mnemonic starts with "v"; no
# ymm/zmm/mask register): only kernels/cpu/isa_avx2.c and isa_avx512.c may,
# and those must (else this check could not tell them apart).
set -uo pipefail
dir=$1
command -v objdump >/dev/null || { echo "objdump missing (binutils)"; exit 1; }
objs=$(find "$dir" -name '*.o' | sort)
[ -n "$objs" ] || { echo "no objects under $dir"; exit 1; }
avx() { objdump -d --no-show-raw-insn "$1" | awk -F'\t' '$2 ~ /^v/ || /%[yz]mm|%k[1-7]/' | head -3; }
bad=0
for o in $objs; do
    case $o in
    *isa_avx2.c.o | *isa_avx512.c.o)
        [ -n "$(avx "$o")" ] || { echo "FAIL: $o has no AVX instruction (variant flags lost?)"; bad=1; } ;;
    *)
        hits=$(avx "$o")
        [ -z "$hits" ] || { echo "FAIL: baseline object $o uses AVX:"; echo "$hits"; bad=1; } ;;
    esac
done
[ $bad = 0 ] && echo "ok: $(echo "$objs" | wc -l) objects, AVX only in the avx2/avx512 variants"
exit $bad
