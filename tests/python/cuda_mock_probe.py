"""Run by test_cuda_mock.py in a subprocess with DDX_CUDA_DRIVER pointing at
tests/cuda_mock_driver.c's library: "device" memory is host memory and the
fused kernel writes out[i, k] = points[i, 0] + k, so the Python device path
(__cuda_array_interface__ -> ddx_program_eval_device) can be checked end to
end without a GPU: pointers, row count, shapes, refusals."""
import ctypes
import os

import numpy as np

import ddx

lib = ctypes.CDLL(os.environ["DDX_CUDA_DRIVER"])
K, D, N = 3, 2, 1000


def dalloc(nbytes):
    p = ctypes.c_uint64()
    assert lib.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(nbytes)) == 0
    return p.value


class Dev:
    """A minimal CUDA array (what cupy/numba/torch expose)."""

    def __init__(self, ptr, shape, typestr="<f4", ro=False, strides=None):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (ptr, ro), "version": 3,
                                         "strides": strides}


def expect(exc, fn, word):
    try:
        fn()
    except exc as e:
        assert word in str(e), (word, str(e))
        return
    raise AssertionError(f"no {exc.__name__} ({word})")


prog = ddx.compile("mlp:2-8-1:tanh", "u,u_x,u_xx", device="cuda")
assert prog.device == "cuda", prog.device
pts = np.zeros((N, D), np.float32)
pts[:, 0] = np.arange(N)
pts[:, 1] = -1
want = pts[:, :1] + np.arange(K, dtype=np.float32)
pp, op = dalloc(pts.nbytes), dalloc(N * K * 4)
ctypes.memmove(pp, pts.ctypes.data, pts.nbytes)
x, out = Dev(pp, (N, D)), Dev(op, (N, K))
assert prog(x, out=out) is out
got = np.frombuffer(ctypes.string_at(op, N * K * 4), np.float32).reshape(N, K)
assert np.array_equal(got, want), "device path: wrong rows"
assert np.array_equal(prog(pts), want), "host arrays into a CUDA program"

expect(ValueError, lambda: prog(Dev(pp, (N, D), "<f8"), out=out), "float32")
expect(ddx.ShapeError, lambda: prog(Dev(pp, (N, 3)), out=out), "expected shape")
expect(ddx.ShapeError, lambda: prog(x, out=Dev(op, (N - 1, K))), "rows")
expect(ValueError, lambda: prog(x, out=Dev(op, (N, K), ro=True)), "read-only")
expect(ValueError, lambda: prog(x, out=Dev(op, (N, K), strides=(4, 4 * N))), "contiguous")
expect(ValueError, lambda: prog(x, out=np.empty((N, K), np.float32)), "CUDA memory")
expect(ValueError, lambda: prog(x), "output array")  # no module to allocate with
host = np.empty((N, K), np.float32)  # a host pointer dressed as device memory: the library refuses it
expect(ddx.Error, lambda: prog(x, out=Dev(host.ctypes.data, (N, K))), "d_out")
assert lib.ddx_mock_violations() == 0, "the mock saw an out-of-bounds access"
print("cuda mock probe: ok")
