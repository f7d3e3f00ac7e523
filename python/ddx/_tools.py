"""ddx.check and ddx.bench: the CLI's `ddx check` and `ddx bench`, as
functions returning dicts."""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any, Dict

import numpy as np

from . import _ddx


def _points(prog: Any, points: Any, n: int, seed: int) -> np.ndarray:
    if points is None:  # uniform in [0, 1]^d, like the CLI's defaults
        return np.random.default_rng(seed).uniform(0.0, 1.0, (n, len(prog.inputs)))
    return np.asarray(points, dtype=np.float64)


def check(prog: Any, points: Any = None, *, rows: int = 16, seed: int = 7) -> Dict[str, Any]:
    """Every column of ``prog`` against float64 Richardson-extrapolated finite
    differences (an independent interpreter of the graph) on the first
    ``rows`` points. Relative error: ``|ddx - ref| / max(|ref|, F max|ref|)``
    over the column (F = 1e-3 in float64, 1e-2 in float32); ``ok`` is False
    when a column is above its derivative order's tolerance (the CLI's)."""
    pts = _points(prog, points, rows, seed)[:rows]
    if pts.ndim == 1:
        pts = pts[:, None]
    got = np.asarray(prog(pts.astype(prog.dtype)), dtype=np.float64)
    # the reference sees each point as ddx saw it (rounded to the program's dtype)
    x = np.ascontiguousarray(pts.astype(prog.dtype).astype(np.float64))
    ref = np.empty((x.shape[0], len(prog.columns)))
    prog._c.reference(x, ref)
    f64 = prog.dtype == np.float64
    cols = []
    for k, name in enumerate(prog.columns):
        r = np.ascontiguousarray(ref[:, k])
        v = np.ascontiguousarray(got[:, k])
        tol, _ = _ddx.tolerance(f64, prog.orders[k])
        worst = _ddx.column_error(r, v, f64)  # the one rule of ddx check, demo and bench
        cols.append({"name": name, "order": prog.orders[k], "max_rel_err": float(worst), "tolerance": tol,
                     "ok": bool(worst <= tol)})
    return {"ok": all(c["ok"] for c in cols), "rows": int(x.shape[0]), "precision": prog.precision,
            "device": prog.device, "reference": "float64 finite differences", "columns": cols}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(prog: Any, *, n: int = 1 << 20, repeat: int = 5, points: Any = None, seed: int = 7,
          calibrate: bool = True) -> Dict[str, Any]:
    """One warm-up call, then ``repeat`` timed calls of ``prog`` on ``n``
    points (uniform in [0, 1]^d, or the rows of ``points`` cycled) into a
    preallocated output: median/min/max seconds, points/s, useful GFLOP/s
    (the compiler's FLOP count) and, on the CPU, the fraction of a
    calibration GEMM measured now on this machine."""
    src = _points(prog, points, n, seed)
    pts = np.ascontiguousarray(np.resize(src, (n, src.shape[1])), dtype=prog.dtype)
    out = np.empty((n, len(prog.columns)), prog.dtype)
    prog(pts, out)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        prog(pts, out)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    gflops = prog.flops_per_point * n / med / 1e9
    res: Dict[str, Any] = {
        "n": n, "repeat": repeat, "columns": list(prog.columns), "precision": prog.precision,
        "device": prog.device, "median_s": med, "min_s": min(times), "max_s": max(times),
        "points_per_s": n / med, "flops_per_point": prog.flops_per_point, "gflops": gflops,
        "cpu": _cpu_model(), "cores": os.cpu_count(),
    }
    if calibrate and prog.device == "cpu":
        g = _ddx.gemm_gflops(prog.dtype == np.float64)
        res["gemm_gflops"] = g
        res["fraction_of_gemm"] = gflops / g if g > 0 else float("nan")
    return res
