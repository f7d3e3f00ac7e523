#!/bin/bash
# install.sh BUILD_DIR SOURCE_DIR — `cmake --install` into a temporary
# prefix, then examples/seed.c built against the installed package twice:
# with find_package(ddx) (a tiny CMake project, target ddx::ddx) and with
# pkg-config; both must run and print the exact derivatives of log(x + 2).
set -eu
build=${1:?usage: install.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: install.sh BUILD_DIR SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pfx=$tmp/prefix
cmake --install "$build" --prefix "$pfx" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in include/ddx.h include/ddx_ops.def lib/libddx.a lib/libddx.so lib/libddx.so.0 lib/libddx.so.0.1.0 \
         bin/ddx lib/cmake/ddx/ddxConfig.cmake lib/cmake/ddx/ddxTargets.cmake lib/pkgconfig/ddx.pc; do
    [ -e "$pfx/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
soname=$(readelf -d "$pfx/lib/libddx.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libddx.so.0 ] || { echo "FAIL: SONAME is '$soname', want libddx.so.0"; exit 1; }
"$pfx/bin/ddx" info --model 'expr:sin(x)' --derivs u > /dev/null 2>&1 || { echo "FAIL: the installed ddx command"; exit 1; }

expect="$tmp/expect"
printf 'log 3 = 1.098612288668110\n1/3 = 0.333333333333333\n-1/9 = -0.111111111111111\n2/27 = 0.074074074074074\n-2/27 = -0.074074074074074\n' > "$expect"

# 1. find_package(ddx): a consumer project of its own
mkdir -p "$tmp/proj"
cp "$src/examples/seed.c" "$tmp/proj/"
cat > "$tmp/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(seed_consumer C)
find_package(ddx 0.1 REQUIRED)
add_executable(seed seed.c)
target_link_libraries(seed PRIVATE ddx::ddx)
add_executable(seed_static seed.c)
target_link_libraries(seed_static PRIVATE ddx::ddx_static)
CM
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$pfx" > "$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; exit 1; }
cmake --build "$tmp/proj/build" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
for exe in seed seed_static; do
    "$tmp/proj/build/$exe" > "$tmp/out_$exe" 2>/dev/null || { echo "FAIL: $exe (find_package) did not run"; exit 1; }
    diff "$expect" "$tmp/out_$exe" || { echo "FAIL: $exe (find_package) output differs"; exit 1; }
done
readelf -d "$tmp/proj/build/seed" | grep -q 'NEEDED.*libddx.so.0' || { echo "FAIL: seed does not link libddx.so.0"; exit 1; }
echo "ok: find_package(ddx): ddx::ddx and ddx::ddx_static build and run seed.c"

# 2. pkg-config
export PKG_CONFIG_PATH="$pfx/lib/pkgconfig"
[ "$(pkg-config --modversion ddx)" = 0.1.0 ] || { echo "FAIL: pkg-config --modversion ddx"; exit 1; }
# shellcheck disable=SC2046
cc "$src/examples/seed.c" $(pkg-config --cflags --libs ddx) -Wl,-rpath,"$pfx/lib" -o "$tmp/seed_pc"
"$tmp/seed_pc" > "$tmp/out_pc" 2>/dev/null || { echo "FAIL: seed (pkg-config) did not run"; exit 1; }
diff "$expect" "$tmp/out_pc" || { echo "FAIL: seed (pkg-config) output differs"; exit 1; }
echo "ok: pkg-config ddx builds and runs seed.c"
