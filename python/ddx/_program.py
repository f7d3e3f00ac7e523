"""Program: a compiled network + derivatives, called on arrays.

Array rules (the same for every kind of array):

* points are ``(N, d)`` (or ``(N,)`` when ``d == 1``), the result is ``(N, K)``
  with ``K = len(prog.columns)``, in the program's dtype (float32 or float64).
* A C-contiguous array of the program's dtype is handed to the library as it
  is: no copy (numpy arrays, CPU torch tensors, CPU JAX arrays through a
  zero-copy numpy view; CUDA tensors/arrays through ``__cuda_array_interface__``).
  A JAX result is a new JAX array: made without a copy (DLPack) above 1 MiB,
  by a copy below (JAX's array creation costs ~50 us either way; pass a numpy
  ``out=`` to avoid it).
* Points of another dtype or with strides are converted once (one copy) —
  unless ``copy=False``, then ``ValueError``. A wrong width or rank is a
  :class:`ddx.ShapeError` (a ``ValueError``).
* ``out=`` must already be right: C-contiguous, the program's dtype, ``(N, K)``,
  writeable, same kind and device as the points; it is filled and returned
  (the same object). Anything else is a ``ValueError``.
* The GIL is released while the library runs; one program may be called from
  several threads at once.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _errors


def _numpy_call(prog: "Program", points: np.ndarray, out: Optional[np.ndarray], copy: bool) -> np.ndarray:
    if points.dtype != prog._dtype or not points.flags.c_contiguous:
        if points.dtype.kind not in "fiub":  # complex, object, strings: no silent conversion
            raise ValueError(f"points: expected real numbers, got dtype {points.dtype}")
        if not copy:
            raise ValueError(f"points: expected a C-contiguous {prog._dtype} array (copy=False), got "
                             f"{points.dtype}{'' if points.flags.c_contiguous else ', strided'}")
        points = np.ascontiguousarray(points, dtype=prog._dtype)
    if points.ndim not in (1, 2):
        raise _errors.ShapeError(f"points: expected shape (N, {prog._d}), got {points.shape}")
    if out is None:
        out = np.empty((points.shape[0], prog._K), prog._dtype)
    elif type(out) is not np.ndarray:
        raise ValueError(f"out: expected a numpy array for numpy points, got {type(out).__name__}")
    prog._eval(points, out)
    return out


_torch = None  # the torch module, once a tensor has been seen


def _torch_call(prog: "Program", x: Any, out: Any, copy: bool) -> Any:
    global _torch
    if _torch is None:
        import torch as _t

        _torch = _t
    torch = _torch
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"unsupported points type {type(x).__name__}")
    if not x.is_cpu:
        if x.device.type != "cuda":
            raise _errors.DeviceError(f"points: torch tensors on '{x.device.type}' are not supported (cpu or cuda)")
        return _cuda_call(prog, x, out, copy)
    if x.requires_grad:  # read, not differentiated
        x = x.detach()
    dtype = torch.float64 if prog._c.is_f64 else torch.float32
    if x.dtype != dtype or not x.is_contiguous():
        if not copy:
            raise ValueError(f"points: expected a contiguous {dtype} tensor (copy=False), got {x.dtype}")
        x = x.to(dtype).contiguous()
    xn = x.numpy()  # a view: no copy
    if xn.ndim not in (1, 2):
        raise _errors.ShapeError(f"points: expected shape (N, {prog._d}), got {tuple(x.shape)}")
    if out is None:  # numpy allocates faster than torch.empty; from_numpy shares it
        o = np.empty((xn.shape[0], prog._K), prog._dtype)
        prog._eval(xn, o)
        return torch.from_numpy(o)
    if not isinstance(out, torch.Tensor) or not out.is_cpu:
        raise ValueError("out: expected a CPU torch tensor for CPU torch points")
    prog._eval(xn, out.detach().numpy())
    return out


# Below this many output bytes a JAX result is made by copying (jnp.asarray,
# ~50 us here), above it by DLPack without a copy (~80 us fixed, no copy).
_JAX_COPY_BYTES = 1 << 20


def _jax_call(prog: "Program", x: Any, out: Any, copy: bool) -> Any:
    import jax

    if any(d.platform != "cpu" for d in x.devices()):
        raise _errors.DeviceError("points: JAX arrays on an accelerator are not supported yet; "
                                  "pass a CPU array, or a torch/cupy CUDA array")
    if out is not None and type(out) is not np.ndarray:
        raise ValueError("out: JAX arrays are immutable; pass a numpy array as out= (it is returned)")
    host = np.asarray(x)  # a view of the CPU buffer, no copy
    res = _numpy_call(prog, host, out, copy)
    if out is not None:
        return out
    if res.nbytes > _JAX_COPY_BYTES:
        try:
            return jax.dlpack.from_dlpack(res)  # zero-copy where jax accepts the buffer
        except Exception:  # alignment or version: one copy
            pass
    return jax.numpy.asarray(res)


_TYPESTR = {np.dtype(np.float32): ("<f4", 4), np.dtype(np.float64): ("<f8", 8)}


def _cai_pointer(obj: Any, what: str, rows: Optional[int], width: int, prog: "Program") -> Tuple[int, int]:
    cai = getattr(obj, "__cuda_array_interface__", None)
    if not isinstance(cai, dict):
        raise ValueError(f"{what}: expected CUDA memory (__cuda_array_interface__) like the points, "
                         f"got {type(obj).__name__}")
    typestr, size = _TYPESTR[prog._dtype]
    shape = tuple(cai["shape"])
    if cai["typestr"] != typestr:
        raise ValueError(f"{what}: expected {prog._dtype} ({typestr}) CUDA memory, got {cai['typestr']}")
    if not (len(shape) == 2 and shape[1] == width) and not (len(shape) == 1 and width == 1):
        raise _errors.ShapeError(f"{what}: expected shape (N, {width}), got {shape}")
    strides = cai.get("strides")
    if strides is not None and shape[0] > 1 and tuple(strides) != tuple(
            size * int(np.prod(shape[i + 1:])) for i in range(len(shape))):
        raise ValueError(f"{what}: not C-contiguous")
    if rows is not None and shape[0] != rows:
        raise _errors.ShapeError(f"{what}: has {shape[0]} rows, points have {rows}")
    if cai["data"][1] and what == "out":
        raise ValueError("out: read-only CUDA memory")
    return int(cai["data"][0]), shape[0]


def _cuda_call(prog: "Program", x: Any, out: Any, copy: bool) -> Any:
    """Device arrays: passed by pointer to ddx_program_eval_device (CUDA programs only)."""
    if not prog._c.is_cuda:
        raise _errors.DeviceError(
            "points are in CUDA memory but the program runs on the CPU (compile with device='cuda', "
            "or move the points to the host)")
    is_torch = type(x).__module__.startswith("torch")
    if is_torch:
        import torch

        dtype = torch.float64 if prog._dtype == np.float64 else torch.float32
        x = x.detach()
        if x.dtype != dtype or not x.is_contiguous():
            if not copy:
                raise ValueError(f"points: expected a contiguous {dtype} CUDA tensor (copy=False)")
            x = x.to(dtype).contiguous()
        if out is None:
            out = torch.empty((x.shape[0], prog._K), dtype=dtype, device=x.device)
        # ddx runs on its own stream: what torch queued on x must be done
        torch.cuda.current_stream(x.device).synchronize()
    elif out is None:
        mod = __import__(type(x).__module__.split(".")[0])
        if not hasattr(mod, "empty"):
            raise ValueError("out=: pass an output array for this kind of CUDA array")
        out = mod.empty((x.__cuda_array_interface__["shape"][0], prog._K), dtype=prog._dtype)
    pp, n = _cai_pointer(x, "points", None, prog._d, prog)
    op, _ = _cai_pointer(out, "out", n, prog._K, prog)
    prog._c.eval_device(pp, op, n)
    return out


class Program:
    """A compiled program; make one with :func:`ddx.compile`.

    ``prog(points, out=None, *, copy=True)`` evaluates every column at every
    point: numpy in, numpy out; torch in, torch out (same device); JAX in, JAX
    out. See the module docstring for the array rules.
    """

    __slots__ = ("_c", "_dtype", "_d", "_K", "_eval", "__weakref__")

    def __init__(self, cprog: Any):
        self._c = cprog
        self._dtype = np.dtype(np.float64 if cprog.is_f64 else np.float32)
        self._d = cprog.num_inputs
        self._K = cprog.num_outputs
        self._eval = cprog.eval

    def __call__(self, points: Any, out: Any = None, *, copy: bool = True) -> Any:
        if type(points) is np.ndarray:
            return _numpy_call(self, points, out, copy)
        mod = type(points).__module__
        if mod.startswith("torch"):
            return _torch_call(self, points, out, copy)
        if mod.startswith("jax"):
            return _jax_call(self, points, out, copy)
        if hasattr(points, "__cuda_array_interface__"):
            return _cuda_call(self, points, out, copy)
        return _numpy_call(self, np.asarray(points), out, copy)

    @property
    def columns(self) -> Tuple[str, ...]:
        """Names of the output columns (``grad(u)`` gives one per input)."""
        return self._c.columns

    @property
    def inputs(self) -> Tuple[str, ...]:
        """Input names, in the column order of the points."""
        return self._c.inputs

    @property
    def orders(self) -> Tuple[int, ...]:
        """Derivative order of each column (a residual: its highest)."""
        return self._c.orders

    @property
    def channels(self) -> int:
        """Taylor channels the network carries (the largest over the dense layers)."""
        return self._c.network_channels

    @property
    def column_channels(self) -> Tuple[int, ...]:
        """Channels each column's node carries."""
        return self._c.column_channels()

    @property
    def flops_per_point(self) -> float:
        """Useful FLOPs per point (dense layers + elementwise jet rules)."""
        return self._c.flops_per_point

    @property
    def device(self) -> str:
        """``"cpu"`` or ``"cuda"`` (what ``device="auto"`` resolved to)."""
        return "cuda" if self._c.is_cuda else "cpu"

    @property
    def precision(self) -> str:
        return "float64" if self._c.is_f64 else "float32"

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def info(self) -> str:
        """The library's description: coefficient set per node, FLOPs, strategy."""
        return self._c.describe()

    def __repr__(self) -> str:
        return (f"<ddx.Program inputs={list(self.inputs)} columns={list(self.columns)} "
                f"{self.precision} on {self.device}, {self.channels} channels>")
