#!/usr/bin/env python3
"""python_overhead.py — what the Python binding adds per call, and the same
call in torch.func and JAX.

    python3 bench/python_overhead.py [--threads 0] [--rounds 7] [--json FILE]

Workload: the W1 network of bench/RESULTS.md (2-64-64-64-64-1 tanh, float32)
with u, grad(u), hessian(u) (7 columns), at N = 1 and N = 1024 points; the
same weights everywhere (one torch.nn.Module, compiled by ddx through its
in-memory ONNX export, copied into JAX).

Rows, per N (microseconds per call, the best of --rounds rounds that
interleave the rows, each the mean of a loop sized to ~0.1 s). N = 0 runs the
whole binding path (dispatch, buffer checks, output allocation) without the
library call: the binding's own cost.
  C API         ddx_program_eval called back to back from C (the extension's
                time_eval, GIL released): the library's own cost
  prog(x, out)  numpy in, preallocated numpy out
  prog(x)       numpy in, the result allocated per call
  torch         prog(tensor) -> tensor; prog(tensor, out=tensor)
  jax           prog(jax array) -> jax array (JAX's array creation, ~50 us,
                is most of it); prog(jax array, out=numpy)
  torch.func    vmap over (u, jacrev, hessian) of the module, per call
  jax.jit       jit(vmap(value, grad, hessian)) with block_until_ready
In parentheses: the ddx row minus the C API row of the same N.
"""
import argparse
import json
import time

import numpy as np

import ddx


def calibrate(fn, budget):
    fn()  # warm-up (and JIT compiles)
    t0 = time.perf_counter()
    fn()
    return max(1, min(200000, int(budget / max(time.perf_counter() - t0, 1e-7))))


BUDGET = 0.1  # seconds per timed loop (--budget)


def interleaved(variants, rounds, budget=None):
    """variants: name -> (fn, iters_or_None). Rounds interleave the variants
    (the machine drifts); each keeps its best mean-per-call."""
    budget = budget or BUDGET
    iters = {k: calibrate(f, budget) for k, f in variants.items()}
    best = {k: float("inf") for k in variants}
    for _ in range(rounds):
        for k, f in variants.items():
            n = iters[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            best[k] = min(best[k], (time.perf_counter() - t0) / n)
    return best


def build(threads):
    import torch

    torch.manual_seed(0)
    w = [2, 64, 64, 64, 64, 1]
    layers = []
    for i in range(len(w) - 1):
        layers.append(torch.nn.Linear(w[i], w[i + 1]))
        if i + 2 < len(w):
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers).eval()


def section_ddx(net, args, sizes):
    import torch

    prog = ddx.compile(net, derivs="u,grad(u),hessian(u)", inputs="t,x", threads=args.threads, tile=args.tile)
    try:
        import jax.numpy as jnp
    except ImportError:
        jnp = None
    rows = []
    for n in sizes:
        x = np.random.default_rng(1).uniform(0, 1, (n, 2)).astype(np.float32)
        out = np.empty((n, 7), np.float32)
        xt, outt = torch.from_numpy(x.copy()), torch.empty(n, 7)
        v = {}
        c_times = []
        if n:
            # one "call" of this lambda is k library calls, timed in C
            k = max(1, int(BUDGET / max(prog._c.time_eval(x, out, 1), 1e-7)))
            v["C API"] = lambda: c_times.append(prog._c.time_eval(x, out, k) / k)
        v["prog(x, out)"] = lambda: prog(x, out)
        v["prog(x)"] = lambda: prog(x)
        v["prog(tensor, out=tensor)"] = lambda: prog(xt, outt)
        v["prog(tensor)"] = lambda: prog(xt)
        if jnp is not None:
            xj = jnp.asarray(x)
            v["prog(jax)"] = lambda: prog(xj)
            v["prog(jax, out=numpy)"] = lambda: prog(xj, out)
        r = interleaved(v, args.rounds)
        if n:
            r["C API"] = min(c_times)
        rows.append(r)
    return rows, prog.device


def section_torch(net, args, sizes):
    import torch
    from torch.func import hessian, jacrev, vmap

    def f(p):
        return net(p.unsqueeze(0))[0, 0]

    tf = vmap(lambda p: (f(p), jacrev(f)(p), hessian(f)(p)))
    rows = []
    with torch.no_grad():
        for n in sizes:
            xt = torch.from_numpy(np.random.default_rng(1).uniform(0, 1, (max(n, 1), 2)).astype(np.float32))
            rows.append(interleaved({"torch.func": lambda: tf(xt)}, args.rounds) if n else {})
    return rows


def section_jax(net, args, sizes):
    import jax
    import jax.numpy as jnp
    import torch

    params = [(jnp.asarray(m.weight.detach().numpy()), jnp.asarray(m.bias.detach().numpy()))
              for m in net if isinstance(m, torch.nn.Linear)]

    def g(p):
        h = p
        for i, (W, b) in enumerate(params):
            h = W @ h + b
            if i + 1 < len(params):
                h = jnp.tanh(h)
        return h[0]

    jf = jax.jit(jax.vmap(lambda p: (g(p), jax.grad(g)(p), jax.hessian(g)(p))))
    rows = []
    for n in sizes:
        xj = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (max(n, 1), 2)).astype(np.float32))
        rows.append(interleaved({"jax.jit": lambda: jax.block_until_ready(jf(xj))}, args.rounds) if n else {})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="ddx CPU threads (0 = all cores)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--tile", type=int, default=0, help="ddx CPU tile (0 = tuned; small N is faster with 32)")
    ap.add_argument("--budget", type=float, default=0.1, help="seconds per timed loop")
    ap.add_argument("--json")
    ap.add_argument("--section", choices=["ddx", "torch", "jax"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = (0, 1, 1024)
    global BUDGET
    BUDGET = args.budget
    if args.section:  # one framework per process: their thread pools spin and steal cores
        net = build(args.threads)
        res = {"ddx": section_ddx, "torch": section_torch, "jax": section_jax}[args.section](net, args, sizes)
        print(json.dumps(res))
        return
    import subprocess
    import sys

    def run(sec):
        cmd = [sys.executable, __file__, "--section", sec, "--threads", str(args.threads), "--rounds", str(args.rounds),
               "--tile", str(args.tile), "--budget", str(args.budget)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            print(f"{sec}: failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
            return None
        return json.loads(p.stdout.strip().splitlines()[-1])

    (rows, device) = run("ddx")
    for sec in ("torch", "jax"):
        extra = run(sec)
        for r, e in zip(rows, extra or []):
            r.update(e)
    for r, n in zip(rows, sizes):
        r["n"] = n

    keys = [k for k in rows[-1] if k != "n"]
    print(f"ddx {ddx.__version__}, W1 net, u + grad + hessian (7 columns), float32, {device}, "
          f"threads={args.threads or 'all'}, tile={args.tile or 'tuned'}; microseconds per call (best of {args.rounds} rounds)")
    print("| call | " + " | ".join(f"N = {r['n']}" for r in rows) + " |")
    print("| --- | " + " | ".join("---" for _ in rows) + " |")
    for k in keys:
        cells = []
        for r in rows:
            if k not in r:
                cells.append("-")
                continue
            c = f"{r[k] * 1e6:.1f}"
            if k.startswith("prog") and "C API" in r:
                c += f" ({(r[k] - r['C API']) * 1e6:+.1f})"
            cells.append(c)
        print(f"| {k} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
