#!/usr/bin/env bash
# tests/ci/mpi.sh — installs Open MPI (Debian's libopenmpi-dev + openmpi-bin)
# when it is missing, so that the configure step that follows finds MPI
# (cmake/mpi.cmake) and builds ddx-mpi; its tests (tests/mpi/test_mpi.sh)
# then run in ctest with the rest. Idempotent: nothing to do when mpicc and
# mpirun are there. Called by tests/run-all.sh before it configures.
set -euo pipefail
if command -v mpicc >/dev/null && command -v mpirun >/dev/null; then
    exit 0
fi
echo "ci/mpi: installing libopenmpi-dev openmpi-bin"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libopenmpi-dev openmpi-bin >/dev/null
