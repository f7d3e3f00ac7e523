#!/usr/bin/env bash
# python.sh — the Python package in CI (called by tests/run-all.sh): installs
# what is missing (test deps from PyPI) into a venv (build-py-venv/), builds and installs the
# package there with `pip install .` (scikit-build-core over the top-level
# CMake, incremental in build-py/), then runs the pytest suite. Exits non-zero on any failure, including
# "no tests collected" (pytest exit 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
# a fresh Debian has python3 but maybe not venv or the headers the extension needs
py_include_ok() { "$PY" -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" 2>/dev/null; }
if ! command -v "$PY" >/dev/null || ! "$PY" -c "import venv, ensurepip" 2>/dev/null || ! py_include_ok; then
    echo "python.sh: installing python3, python3-venv, python3-dev"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv python3-dev python3-pip >/dev/null
fi
# A venv (PEP 668 systems refuse pip into the system Python) that sees the
# system's packages, so an installed torch/jax is reused, not downloaded.
VENV=build-py-venv
[ -x "$VENV/bin/python" ] || "$PY" -m venv --system-site-packages "$VENV"
PY=$PWD/$VENV/bin/python
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
if ! have torch; then  # from PyPI (the only registry CI reaches): large, but only once per machine
    echo "python.sh: installing torch"
    "${PIP[@]}" torch
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
