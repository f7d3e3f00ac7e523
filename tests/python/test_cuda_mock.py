"""The device path (__cuda_array_interface__ -> ddx_program_eval_device)
against the mock CUDA driver built with the C tests (build/libddx_cuda_mock.so,
CUDA toolkit builds only), in a subprocess: the driver is chosen once per
process."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))


def mock_lib():
    for p in (os.environ.get("DDX_MOCK_LIB"), os.path.join(ROOT, "build", "libddx_cuda_mock.so")):
        if p and os.path.exists(p):
            return p
    return None


def test_device_path_with_mock_driver(tmp_path):
    lib = mock_lib()
    if not lib:
        pytest.skip("no mock CUDA driver (build/libddx_cuda_mock.so: a CUDA-toolkit build of the C tests)")
    env = dict(os.environ, DDX_CUDA_DRIVER=lib, DDX_CUBLAS=lib, DDX_MOCK_D="2", DDX_MOCK_K="3", DDX_MOCK_RSZ="4",
               DDX_CACHE_DIR=str(tmp_path))
    p = subprocess.run([sys.executable, os.path.join(HERE, "cuda_mock_probe.py")], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "cuda mock probe: ok" in p.stdout
