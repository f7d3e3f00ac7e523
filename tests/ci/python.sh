#!/usr/bin/env bash
# python.sh — the Python package in CI (called by tests/run-all.sh): installs
# what is missing (test deps from PyPI; torch as the CPU wheel when it must
# be downloaded), builds and installs the package with `pip install .`
# (scikit-build-core over the top-level CMake, incremental in build-py/),
# then runs the pytest suite. Exits non-zero on any failure, including
# "no tests collected" (pytest exit 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
PIP=("$PY" -m pip install -q --disable-pip-version-check)

have() { "$PY" -c "import $1" >/dev/null 2>&1; }
need=()
have numpy || need+=("numpy>=1.22")
have pytest || need+=("pytest>=7")
have scikit_build_core || need+=("scikit-build-core>=0.10")
have onnx || need+=(onnx)
have jax || need+=("jax>=0.4.20")
if [ ${#need[@]} -gt 0 ]; then
    echo "python.sh: installing ${need[*]}"
    "${PIP[@]}" "${need[@]}"
fi
if ! have torch; then  # the CPU wheel is ~200 MB, the default one several GB
    echo "python.sh: installing torch (CPU wheel)"
    "${PIP[@]}" torch --index-url https://download.pytorch.org/whl/cpu || "${PIP[@]}" torch
fi

echo "== Python package: pip install . and pytest"
"${PIP[@]}" --no-build-isolation -Cbuild-dir=build-py .
# run from outside the source tree: the installed package is what is tested
rc=0
(cd tests/python && "$PY" -m pytest -q -p no:cacheprovider .) || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "python.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
