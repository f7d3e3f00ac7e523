#!/usr/bin/env python3
"""W5b: the Laplacian with a block-structured first layer (issue 16 point 3), CPU, f32.

d = 300 inputs = 100 "electrons" x 3 coordinates; the first layer's units
come in 100 contiguous blocks, each reading one electron's 3 coordinates
(`mlp:300-H-256-1:tanh:blocks=100`: W1 zero outside the blocks), then a
dense 256-wide layer and the output. Systems, same weights (ddx export)
and points:
  ddx sparse   laplacian(u), first-layer block sparsity (host/compiler/sparsity.c)
  ddx dense    the same with DDX_SPARSE=0 (the dense constant-jet path)
  folx dense   folx.forward_laplacian of u written with the full W1 (zeros
               as values: folx cannot see them), sparsity_threshold=0
  folx blocks  (H = 300 only: 3 units per electron) u written per electron,
               einsum('eij,ej->ei', W1 blocks, x.reshape(100, 3)), with
               folx's sparsity propagation (sparsity_threshold=0.6)
The machine may be shared and loaded: the systems run interleaved, --rounds
times, each a median of --repeat runs; the table shows the median over the
rounds and the median of the per-round ratios. ddx's error is its f64
`ddx eval` (folx's: f32). Every system is checked against a float64 JAX Hessian trace at 4
points.

usage: python3 bench/w5b_blocksparse.py --ddx build/ddx [--n 1024] [--rounds 5] [--hidden 256 --hidden 300]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "anchors"))
from common import load_model, time_fn  # noqa: E402

NE, DIM = 100, 3


def ddx_time(ddx, spec, pts, n, repeat, sparse):
    env = dict(os.environ, DDX_SPARSE="1" if sparse else "0")
    out = subprocess.run([ddx, "bench", "--model", spec, "--derivs", "laplacian(u)", "--points", pts, "--n", str(n),
                          "--repeat", str(repeat), "--precision", "f32", "--device", "cpu"],
                         capture_output=True, text=True, check=True, env=env).stdout
    return float(re.search(r"run median ([0-9.eE+-]+) s", out).group(1))


def ddx_eval(ddx, spec, pts, out, sparse):
    env = dict(os.environ, DDX_SPARSE="1" if sparse else "0")
    subprocess.run([ddx, "eval", "--model", spec, "--derivs", "laplacian(u)", "--points", pts, "--out", out,
                    "--precision", "f64", "--device", "cpu"], capture_output=True, text=True, check=True, env=env)
    return np.load(out)[:, 0]


def jax_fns(model, H):
    import jax
    import jax.numpy as jnp
    import folx
    jax.config.update("jax_enable_x64", True)

    def make(dtype, blocks):
        Ws = [jnp.asarray(l.W, dtype) for l in model.layers]
        bs = [jnp.asarray(l.b, dtype) for l in model.layers]
        W1 = np.asarray(model.layers[0].W)
        k = H // NE  # units per electron (blocks form: H = k * 100)
        W1b = jnp.asarray(np.stack([W1[e * k:(e + 1) * k, e * DIM:(e + 1) * DIM] for e in range(NE)]), dtype)

        def u(x):
            if blocks:
                a = jnp.tanh(jnp.einsum("eij,ej->ei", W1b, x.reshape(NE, DIM)).reshape(H) + bs[0])
            else:
                a = jnp.tanh(Ws[0] @ x + bs[0])
            for i in range(1, len(Ws)):
                a = Ws[i] @ a + bs[i]
                if i + 1 < len(Ws):
                    a = jnp.tanh(a)
            return a[0]
        return u

    fns = {"folx dense": jax.jit(jax.vmap(lambda x: folx.forward_laplacian(make(jnp.float32, False))(x).laplacian))}
    if H % NE == 0:
        fns["folx blocks"] = jax.jit(jax.vmap(
            lambda x: folx.forward_laplacian(make(jnp.float32, True), sparsity_threshold=0.6)(x).laplacian))
    u64 = make(jnp.float64, False)
    ref = jax.jit(jax.vmap(lambda x: jnp.trace(jax.hessian(u64)(x))))
    return fns, ref


def median_time(fn, repeat):
    return time_fn(fn, repeats=repeat, warmup=0)["median_s"]  # anchors/common.py; compiled before


def run(args, H):
    spec = f"mlp:{NE * DIM}-{H}-256-1:tanh:blocks={NE}"
    n = args.n
    tmp = tempfile.mkdtemp(prefix="w5b_")
    mdir = os.path.join(tmp, "model")
    subprocess.run([args.ddx, "export", "--model", spec, "--out", mdir], capture_output=True, check=True)
    model = load_model(mdir)
    X = np.random.default_rng(5).uniform(-1, 1, size=(n, NE * DIM)).astype(np.float32)
    pts = os.path.join(tmp, "pts.npy")
    np.save(pts, X)
    chk = os.path.join(tmp, "chk.npy")
    np.save(chk, X[:4].astype(np.float64))
    import jax.numpy as jnp
    fns, ref_fn = jax_fns(model, H)
    ref = np.asarray(ref_fn(jnp.asarray(X[:4], jnp.float64)))
    scale = np.max(np.abs(ref))

    def err(v):
        return float(np.max(np.abs(np.asarray(v, np.float64) - ref)) / scale)
    errs = {"ddx sparse": err(ddx_eval(args.ddx, spec, chk, os.path.join(tmp, "o1.npy"), True)),
            "ddx dense (DDX_SPARSE=0)": err(ddx_eval(args.ddx, spec, chk, os.path.join(tmp, "o2.npy"), False))}
    Xj = jnp.asarray(X)
    for k, f in fns.items():
        errs[k] = err(f(jnp.asarray(X[:4])))
        f(Xj).block_until_ready()  # compile
    times = {k: [] for k in errs}
    for r in range(args.rounds):  # interleaved
        times["ddx sparse"].append(ddx_time(args.ddx, spec, pts, n, args.repeat, True))
        times["ddx dense (DDX_SPARSE=0)"].append(ddx_time(args.ddx, spec, pts, n, args.repeat, False))
        for k, f in fns.items():
            times[k].append(median_time(lambda: f(Xj).block_until_ready(), args.repeat))
    t_sp = statistics.median(times["ddx sparse"])
    la = os.getloadavg()[0]
    print(f"\nW5b: {spec}, laplacian(u), N={n}, f32, CPU, median over {args.rounds} interleaved rounds "
          f"of medians of {args.repeat} (load average {la:.1f})")
    print(f"{'system':26s} {'time s':>9s} {'points/s':>10s} {'ddx sparse is':>14s} {'per round':>10s} "
          f"{'rel err vs f64':>15s}  rounds (s)")
    for k, ts in times.items():
        t = statistics.median(ts)
        # the median of the per-round ratios: robust to load that changes between rounds
        rr = statistics.median(x / y for x, y in zip(ts, times["ddx sparse"]))
        print(f"{k:26s} {t:9.4f} {n / t:10.1f} {t / t_sp:13.2f}x {rr:9.2f}x {errs[k]:15.2e}  " +
              " ".join(f"{x:.3f}" for x in ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddx", default="build/ddx")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hidden", type=int, action="append", help="first-layer width (default 256 and 300)")
    args = ap.parse_args()
    for H in args.hidden or [256, 300]:
        run(args, H)


if __name__ == "__main__":
    main()
