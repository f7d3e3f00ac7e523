#!/usr/bin/env python3
"""W5: the Laplacian of a many-input MLP (issue 16), CPU, f32.

Same weights (ddx export of the mlp: SPEC) and the same points for every
system:
  ddx exact    laplacian(u)                     collapsed channel, 1 + d + 1 channels
  ddx STDE     laplacian(u, samples=16, seed=1) 16 Rademacher directions, 33 channels
  folx         folx.forward_laplacian (JAX, jit + vmap)
  jax hessian  trace(jax.hessian(u)) (jit + vmap)
  torch.func   trace(torch.func.hessian(u)) (vmap; timed on --torch-points
               points and scaled to N, as it is ~100x slower)
Each row: one warm-up, then the median of --repeat timed runs. The exact
systems are checked against a float64 JAX Hessian trace at 8 points; STDE's
error is reported (it is an estimate). The machine may be shared: compare
ratios measured within one run only.

usage: python3 bench/w5_highdim.py --ddx build/ddx [--d 100 --n 2048] [--d 1000 --n 256]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "anchors"))
from common import load_model, time_fn  # noqa: E402


def median_time(fn, repeat):
    return time_fn(fn, repeats=repeat, warmup=1)["median_s"]  # anchors/common.py


def ddx_time(ddx, spec, derivs, pts_path, n, repeat, threads):
    cmd = [ddx, "bench", "--model", spec, "--derivs", derivs, "--points", pts_path, "--n", str(n),
           "--repeat", str(repeat), "--precision", "f32", "--device", "cpu"]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"run median ([0-9.eE+-]+) s", out).group(1))


def ddx_eval(ddx, spec, derivs, pts_path, out_path):
    subprocess.run([ddx, "eval", "--model", spec, "--derivs", derivs, "--points", pts_path, "--out", out_path,
                    "--precision", "f64", "--device", "cpu"], capture_output=True, text=True, check=True)
    return np.load(out_path)[:, 0]


def jax_fns(model):
    import jax
    import jax.numpy as jnp
    import folx
    jax.config.update("jax_enable_x64", True)

    def make(dtype):
        Ws = [jnp.asarray(l.W, dtype) for l in model.layers]
        bs = [jnp.asarray(l.b, dtype) for l in model.layers]
        acts = [l.activation for l in model.layers]

        def u(x):
            a = x
            for W, b, act in zip(Ws, bs, acts):
                a = W @ a + b
                if act == "tanh":
                    a = jnp.tanh(a)
            return a[0]
        return u

    u32, u64 = make(jnp.float32), make(jnp.float64)
    folx_lap = jax.jit(jax.vmap(lambda x: folx.forward_laplacian(u32)(x).laplacian))
    hess_tr = jax.jit(jax.vmap(lambda x: jnp.trace(jax.hessian(u32)(x))))
    hess_tr64 = jax.jit(jax.vmap(lambda x: jnp.trace(jax.hessian(u64)(x))))
    return folx_lap, hess_tr, hess_tr64


def torch_fn(model):
    import torch
    from torch.func import hessian, vmap
    Ws = [torch.tensor(l.W, dtype=torch.float32) for l in model.layers]
    bs = [torch.tensor(l.b, dtype=torch.float32) for l in model.layers]
    acts = [l.activation for l in model.layers]

    def u(x):
        a = x
        for W, b, act in zip(Ws, bs, acts):
            a = W @ a + b
            if act == "tanh":
                a = torch.tanh(a)
        return a[0]
    f = vmap(lambda x: torch.trace(hessian(u)(x)))
    return lambda X: f(X)


def run(args, d, n):
    spec = f"mlp:{d}-256-256-256-1:tanh"
    tmp = tempfile.mkdtemp(prefix="w5_")
    mdir = os.path.join(tmp, "model")
    subprocess.run([args.ddx, "export", "--model", spec, "--out", mdir], capture_output=True, check=True)
    model = load_model(mdir)
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, size=(n, d)).astype(np.float32)
    pts = os.path.join(tmp, "pts.npy")
    np.save(pts, X)
    chk = os.path.join(tmp, "chk.npy")
    np.save(chk, X[:8].astype(np.float64))
    rows = []
    exact = "laplacian(u)"
    stde = "laplacian(u, samples=16, seed=1)"
    t_exact = ddx_time(args.ddx, spec, exact, pts, n, args.repeat, args.threads)
    t_stde = ddx_time(args.ddx, spec, stde, pts, n, args.repeat, args.threads)
    import jax
    import jax.numpy as jnp
    folx_lap, hess_tr, hess_tr64 = jax_fns(model)
    ref = np.asarray(hess_tr64(jnp.asarray(X[:8], jnp.float64)))
    got_exact = ddx_eval(args.ddx, spec, exact, chk, os.path.join(tmp, "o1.npy"))
    got_stde = ddx_eval(args.ddx, spec, stde, chk, os.path.join(tmp, "o2.npy"))
    scale = np.max(np.abs(ref))

    def err(v):
        return float(np.max(np.abs(np.asarray(v, np.float64) - ref)) / scale)
    Xj = jnp.asarray(X)
    t_folx = median_time(lambda: folx_lap(Xj).block_until_ready(), args.repeat)
    e_folx = err(folx_lap(jnp.asarray(X[:8])))
    t_jh = median_time(lambda: hess_tr(Xj).block_until_ready(), args.repeat) if not args.skip_hessian else None
    e_jh = err(hess_tr(jnp.asarray(X[:8]))) if not args.skip_hessian else None
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    tf = torch_fn(model)
    nt = min(n, args.torch_points)  # torch.func is ~100x slower: time fewer points, report the rate
    Xt = torch.from_numpy(X[:nt])
    t_th = median_time(lambda: tf(Xt), args.repeat) * n / nt if not args.skip_hessian else None
    e_th = err(tf(torch.from_numpy(X[:8])).numpy()) if not args.skip_hessian else None
    rows = [("ddx exact collapsed", t_exact, err(got_exact)), ("ddx STDE S=16 (rademacher)", t_stde, err(got_stde)),
            ("folx forward_laplacian", t_folx, e_folx), ("jax hessian trace", t_jh, e_jh),
            ("torch.func hessian trace", t_th, e_th)]
    print(f"\nW5 d={d}: {spec}, N={n}, f32, CPU, median of {args.repeat}")
    print(f"{'system':30s} {'time s':>9s} {'points/s':>10s} {'vs ddx exact':>12s} {'rel err vs f64':>15s}")
    for name, t, e in rows:
        if t is None:
            continue
        print(f"{name:30s} {t:9.4f} {n / t:10.1f} {t_exact / t:11.2f}x {e:15.2e}")
    return dict(d=d, n=n, rows=[dict(system=r[0], seconds=r[1], rel_err=r[2]) for r in rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddx", default="build/ddx")
    ap.add_argument("--d", type=int, action="append")
    ap.add_argument("--n", type=int, action="append")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-hessian", action="store_true")
    ap.add_argument("--torch-points", type=int, default=64, help="points timed for torch.func (rate scaled to N)")
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = args.d or [100, 1000]
    ns = args.n or [2048, 256]
    res = [run(args, d, n) for d, n in zip(ds, ns)]
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
