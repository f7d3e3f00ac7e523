"""ddx — a network and its input derivatives (Taylor-mode jets), at millions of points.

    import ddx
    prog = ddx.compile("burgers.onnx", derivs="u_t + u*u_x - 0.01/pi*u_xx")
    residual = prog(points)          # numpy -> numpy, torch -> torch, JAX -> JAX

The model is a spec string (``expr:...``, ``mlp:2-64-64-1:tanh``, a path to
an ``.onnx`` file), ONNX bytes, or a ``torch.nn.Module`` (exported to ONNX in
memory). ``derivs`` uses the ``ddx`` command's list syntax (README). Errors
are :class:`ddx.Error` subclasses carrying the library's one-line message.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Union

from . import _ddx
from ._errors import *  # noqa: F401,F403  (the exception classes)
from ._errors import InvalidArgumentError, __all__ as _error_names
from ._program import Program
from . import _tools

__version__ = _ddx.version

_DEVICES = {"auto": 0, "cpu": 1, "cuda": 2, "gpu": 2}
_PRECISIONS = {"float32": False, "f32": False, "float64": True, "f64": True, "double": True}


def _names(v: Union[None, str, Sequence[str]], what: str) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    items = list(v)
    if not all(isinstance(s, str) for s in items):
        raise InvalidArgumentError(f"compile: {what} must be a string or a list of strings")
    return ",".join(items)


def _precision(p: Any) -> bool:
    key = p if isinstance(p, str) else str(getattr(p, "name", p)).replace("torch.", "")
    if key not in _PRECISIONS:
        import numpy as np

        try:
            key = np.dtype(p).name
        except TypeError:
            pass
    if key not in _PRECISIONS:
        raise InvalidArgumentError(f"compile: precision {p!r}: expected 'float32' or 'float64'")
    return _PRECISIONS[key]


def compile(model: Any, derivs: Union[str, Sequence[str]] = "u", *, inputs: Union[None, str, Sequence[str]] = None,
            precision: Any = "float32", device: str = "auto", threads: int = 0, tile: int = 0) -> Program:
    """Compiles ``model`` and the columns ``derivs`` into a :class:`Program`.

    model: ``"expr:log(x+2)"``, ``"mlp:2-64-64-1:tanh[:seed=N]"``, a path to an
        ``.onnx`` file (str or os.PathLike), ONNX bytes / ``onnx.ModelProto``,
        or a ``torch.nn.Module`` taking an (N, d) tensor.
    derivs: comma-separated string or list: ``u``, ``u_x``, ``u_tx``,
        ``D(u,x1,x1)``, ``grad(u)``, ``hessian(u)``, ``laplacian(u)``,
        ``laplacian(u, x, y)``, ``hessdiag(u)``, ``biharmonic(u)``,
        ``op2(u, A=@A.npy)`` (sum_ij a_ij u_ij), stochastic estimators
        ``laplacian(u, samples=16, seed=1)``, and arithmetic of them (a
        residual is one column); any number of inputs.
    inputs: names of the point columns (default: the model's, or x; t,x; x1..xd).
    precision: "float32" or "float64" (numpy/torch dtypes accepted) — of the
        points, outputs and arithmetic.
    device: "auto" (CUDA if present, else CPU), "cpu" or "cuda"
        (:class:`ddx.NoDeviceError` when there is no GPU).
    threads, tile: CPU threads (0 = all cores) and tile size (0 = tuned).
    """
    if device not in _DEVICES:
        raise InvalidArgumentError(f"compile: device {device!r}: expected 'auto', 'cpu' or 'cuda'")
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, (str, bytes, bytearray, memoryview)):
        if hasattr(model, "SerializeToString"):  # onnx.ModelProto
            model = model.SerializeToString()
        elif type(model).__module__.startswith("torch") or hasattr(model, "state_dict"):
            from ._torch_export import module_to_onnx

            names = _names(inputs, "inputs")
            model = module_to_onnx(model, names.split(",") if names else None)
        else:
            raise InvalidArgumentError(f"compile: cannot compile a {type(model).__name__} "
                                       "(expected a spec string, a path, ONNX bytes or a torch.nn.Module)")
    derivs_s = _names(derivs, "derivs")
    if not derivs_s or not derivs_s.strip():
        raise InvalidArgumentError("compile: derivs is empty (e.g. derivs='u,u_x,u_xx')")
    if not isinstance(threads, int) or not isinstance(tile, int) or threads < 0 or tile < 0:
        raise InvalidArgumentError("compile: threads and tile must be non-negative integers")
    c = _ddx.compile(model, derivs_s, _names(inputs, "inputs"), _precision(precision), _DEVICES[device], threads, tile)
    return Program(c)


def _program(model: Any, derivs: Any, kw: Dict[str, Any]) -> Program:
    if isinstance(model, Program):
        if derivs is not None or kw:
            raise InvalidArgumentError("a compiled Program takes no derivs/compile options")
        return model
    return compile(model, "u" if derivs is None else derivs, **kw)


def check(model: Any, derivs: Any = None, points: Any = None, *, rows: int = 16, **compile_kw: Any) -> Dict[str, Any]:
    """``ddx check`` as a function: a Program (or model + derivs + compile
    options) against float64 finite differences on the first ``rows`` points
    (default: uniform in [0, 1]^d). Returns ``{"ok", "rows", "precision",
    "device", "columns": [{"name", "order", "max_rel_err", "tolerance", "ok"}]}``."""
    return _tools.check(_program(model, derivs, compile_kw), points, rows=rows)


def bench(model: Any, derivs: Any = None, *, n: int = 1 << 20, repeat: int = 5, points: Any = None,
          calibrate: bool = True, **compile_kw: Any) -> Dict[str, Any]:
    """``ddx bench`` as a function: median/min/max seconds of ``repeat`` calls
    on ``n`` points after one warm-up, points/s, useful GFLOP/s and (CPU) the
    fraction of a calibration GEMM's rate."""
    return _tools.bench(_program(model, derivs, compile_kw), n=n, repeat=repeat, points=points, calibrate=calibrate)


# not "compile": `from ddx import *` would shadow the builtin; use ddx.compile
__all__ = ["check", "bench", "Program", "__version__"] + list(_error_names)
