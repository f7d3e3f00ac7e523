#!/usr/bin/env python3
"""Self-check of the anchors without ddx.

Builds random networks (ddx-mlp-1 exports under a temp dir), evaluates every
benchmark workload with every JAX and PyTorch method in float64, and checks

  * all methods agree with each other (max rel err <= 1e-10 per column),
  * u_x, u_t, u_xx (and the laplacian) against central finite differences of
    a plain numpy float64 forward pass,
  * each column of the 1-D high-order workload against a finite difference of
    the column before it,
  * the Burgers residual column against u_t + u*u_x - c*u_xx assembled from
    the separately computed columns,
  * the CLIs end to end: --check against a saved result, --json output.

  python3 bench/anchors/selfcheck.py [--quick] [--keep DIR]

Prints 'N passed, N failed' and exits non-zero on any failure.  PyTorch or
JAX missing: that system's checks are skipped (and said so).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402

import common  # noqa: E402

BURGERS = "u_t + u*u_x - 0.0031831*u_xx"
AGREE_TOL = 1e-10

# name, model spec, derivs, jax methods, torch methods
WORKLOADS = [
    ("W1", "mlp:2-64-64-64-64-1:tanh", "u,grad(u),hessian(u)",
     ["hessian", "jacfwd_jacrev", "grad", "jet"], ["func_hessian", "autograd"]),
    ("W2", "mlp:2-64-64-64-64-1:tanh", BURGERS,
     ["hessian", "jacfwd_jacrev", "grad", "jet"], ["func_hessian", "autograd"]),
    ("W3", "mlp:10-256-256-256-1:tanh", "laplacian(u)",
     ["hessian", "jacfwd_jacrev", "grad", "jet"], ["func_hessian", "autograd"]),
    ("W4", "mlp:1-32-32-32-1:tanh", "u,u_x,u_xx,u_xxx,u_xxxx",
     ["hessian", "jacfwd_jacrev", "grad", "jet"], ["func_hessian", "autograd"]),
]
# every activation on a small net with mixed partials
ACT_WORKLOAD = ("mlp:2-16-16-1", "u,u_t,u_x,u_tx,u_xx,laplacian(u)")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok    {what} {detail}")
        else:
            self.failed += 1
            print(f"  FAIL  {what} {detail}")

    def skip(self, what):
        self.skipped += 1
        print(f"  skip  {what}")


def have(mod):
    try:
        __import__(mod)
        return True
    except Exception:
        return False


def evaluators(systems):
    out = {}
    if "jax" in systems:
        import jax_anchor
        out["jax"] = (jax_anchor.make_evaluator, None)
    if "torch" in systems:
        import torch_anchor
        out["torch"] = (torch_anchor.make_evaluator, None)
    return out


def eval_all(model, spec, P, systems, jax_methods, torch_methods):
    """{(system, method): N x K float64}"""
    res = {}
    mk = evaluators(systems)
    for sysname, methods in (("jax", jax_methods), ("torch", torch_methods)):
        if sysname not in mk:
            continue
        for m in methods:
            ev = mk[sysname][0](model, spec, np.float64, m, "cpu")
            res[(sysname, m)] = common.evaluate_numpy(ev, P, P.shape[0])
    return res


def fd_partial(model, P, idx, h):
    """Central finite differences of the numpy f64 forward pass (output 0),
    one Richardson step (h, h/2) so the error is O(h^4)."""
    return (4.0 * _fd(model, P, idx, h / 2) - _fd(model, P, idx, h)) / 3.0


def _fd(model, P, idx, h):
    f = lambda X: common.numpy_forward(model, X)[:, 0]  # noqa: E731
    if len(idx) == 1:
        i = idx[0]
        E = np.zeros(P.shape[1]); E[i] = h
        return (f(P + E) - f(P - E)) / (2 * h)
    if len(idx) == 2 and idx[0] == idx[1]:
        i = idx[0]
        E = np.zeros(P.shape[1]); E[i] = h
        return (f(P + E) - 2 * f(P) + f(P - E)) / (h * h)
    if len(idx) == 2:
        i, j = idx
        Ei = np.zeros(P.shape[1]); Ei[i] = h
        Ej = np.zeros(P.shape[1]); Ej[j] = h
        return (f(P + Ei + Ej) - f(P + Ei - Ej) - f(P - Ei + Ej) + f(P - Ei - Ej)) \
            / (4 * h * h)
    raise ValueError(idx)


def worst(errs):
    k = max(errs, key=lambda c: errs[c])
    return errs[k], k


def check_agreement(T, name, labels, res):
    keys = list(res)
    if not keys:
        T.skip(f"{name}: no system available")
        return None
    ref_key = keys[0]
    ref = res[ref_key]
    for k in keys[1:]:
        e, col = worst(common.rel_errors(res[k], ref, labels))
        T.check(e <= AGREE_TOL, f"{name}: {k[0]}/{k[1]} vs {ref_key[0]}/{ref_key[1]}",
                f"max rel err {e:.2e} ({col})")
    return ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="points per workload")
    ap.add_argument("--quick", action="store_true", help="skip the CLI runs")
    ap.add_argument("--keep", help="build the models here instead of a temp dir")
    args = ap.parse_args()

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    systems = [s for s in ("jax", "torch") if have(s)]
    for s in ("jax", "torch"):
        if s not in systems:
            print(f"note: {s} is not importable; its checks are skipped "
                  f"(pip install {s})")
    if "jax" in systems:
        import jax
        jax.config.update("jax_enable_x64", True)

    T = Tally()
    tmp = args.keep or tempfile.mkdtemp(prefix="ddx_anchor_selfcheck_")
    rng_seed = 1234

    for wi, (name, mspec, derivs, jm, tm) in enumerate(WORKLOADS):
        print(f"{name}: {mspec}  {derivs!r}")
        mdir = common.write_random_model(mspec, os.path.join(tmp, name), seed=rng_seed + wi)
        model = common.load_model(mdir)
        spec = common.DerivSpec(derivs, model.inputs, model.outputs)
        labels = common.unique_labels(spec.labels)
        P = common.make_points(args.n, model.d, seed=wi, dtype=np.float64)
        res = eval_all(model, spec, P, systems, jm, tm)
        ref = check_agreement(T, name, labels, res)
        if ref is None:
            continue
        np.save(os.path.join(tmp, f"{name}_ref.npy"), ref)
        np.save(os.path.join(tmp, f"{name}_points.npy"), P)
        col = {l: ref[:, k] for k, l in enumerate(labels)}

        def fd_cmp(label, idx, h, tol):
            fd = fd_partial(model, P, idx, h)
            e, _ = worst(common.rel_errors(col[label][:, None], fd[:, None], [label]))
            T.check(e <= tol, f"{name}: {label} vs finite differences",
                    f"max rel err {e:.2e} (tol {tol:g})")

        if name == "W1":
            fd_cmp("grad(u)[x]", (1,), 1e-3, 1e-8)
            fd_cmp("grad(u)[t]", (0,), 1e-3, 1e-8)
            fd_cmp("hessian(u)[x,x]", (1, 1), 2e-3, 1e-6)
            fd_cmp("hessian(u)[t,x]", (0, 1), 2e-3, 1e-6)
            H = ref[:, 3:7]
            asym = np.max(np.abs(H[:, 1] - H[:, 2])) / np.max(np.abs(H))
            T.check(asym <= 1e-12, f"{name}: hessian symmetric", f"{asym:.1e}")
        elif name == "W2":
            # the residual assembled from separately computed columns
            spec1 = common.DerivSpec("u,u_t,u_x,u_xx", model.inputs, model.outputs)
            parts = eval_all(model, spec1, P, systems[:1], ["hessian"], ["func_hessian"])
            u, ut, ux, uxx = next(iter(parts.values())).T
            burg = ut + u * ux - 0.0031831 * uxx
            e, _ = worst(common.rel_errors(ref, burg[:, None], labels))
            T.check(e <= AGREE_TOL, f"{name}: residual == u_t + u*u_x - c*u_xx",
                    f"max rel err {e:.2e}")
            ux_fd = fd_partial(model, P, (1,), 1e-3)
            e, _ = worst(common.rel_errors(ux[:, None], ux_fd[:, None], ["u_x"]))
            T.check(e <= 1e-8, f"{name}: u_x vs finite differences", f"max rel err {e:.2e}")
        elif name == "W3":
            lap = sum(fd_partial(model, P, (i, i), 2e-3) for i in range(model.d))
            e, _ = worst(common.rel_errors(ref, lap[:, None], labels))
            # a sum of 10 FD second derivatives: rounding-limited near 1e-7
            T.check(e <= 5e-6, f"{name}: laplacian vs finite differences",
                    f"max rel err {e:.2e} (tol 5e-06)")
        elif name == "W4":
            fd_cmp("u_x", (0,), 1e-3, 1e-8)
            fd_cmp("u_xx", (0, 0), 2e-3, 1e-6)
            # u_xxx, u_xxxx: central difference of the previous column
            h = 1e-5
            first = next(iter(res))
            mk = evaluators([first[0]])[first[0]][0]
            ev = mk(model, spec, np.float64, first[1], "cpu")
            plus = common.evaluate_numpy(ev, P + h, P.shape[0])
            minus = common.evaluate_numpy(ev, P - h, P.shape[0])
            for k in (3, 4):
                fd = (plus[:, k - 1] - minus[:, k - 1]) / (2 * h)
                e, _ = worst(common.rel_errors(ref[:, k:k + 1], fd[:, None], [labels[k]]))
                T.check(e <= 1e-6, f"{name}: {labels[k]} vs FD of {labels[k - 1]}",
                        f"max rel err {e:.2e} (tol 1e-06)")

    print(f"activations: {ACT_WORKLOAD[0]}  {ACT_WORKLOAD[1]!r}")
    for ai, act in enumerate(common.ACTIVATIONS):
        mdir = common.write_random_model(ACT_WORKLOAD[0] + ":" + act,
                                         os.path.join(tmp, f"act_{act}"), seed=99 + ai)
        model = common.load_model(mdir)
        spec = common.DerivSpec(ACT_WORKLOAD[1], model.inputs, model.outputs)
        labels = common.unique_labels(spec.labels)
        P = common.make_points(args.n, model.d, seed=7, dtype=np.float64) * 4 - 2
        res = eval_all(model, spec, P, systems, ["hessian", "grad", "jet"],
                       ["func_hessian", "autograd"])
        ref = check_agreement(T, f"act={act}", labels, res)
        if ref is not None:
            fd = fd_partial(model, P, (1,), 1e-3)
            e, _ = worst(common.rel_errors(ref[:, 2:3], fd[:, None], ["u_x"]))
            T.check(e <= 1e-8, f"act={act}: u_x vs finite differences", f"max rel err {e:.2e}")

    if not args.quick:
        print("CLIs:")
        name, mspec, derivs = WORKLOADS[0][:3]
        mdir = os.path.join(tmp, name)
        for sysname, script, method in (("jax", "jax_anchor.py", "jet"),
                                        ("torch", "torch_anchor.py", "autograd")):
            if sysname not in systems:
                T.skip(f"{sysname} CLI")
                continue
            js = os.path.join(tmp, f"cli_{sysname}.json")
            cmd = [sys.executable, os.path.join(HERE, script), "--model-dir", mdir,
                   "--points", os.path.join(tmp, f"{name}_points.npy"),
                   "--derivs", derivs, "--precision", "f64", "--method", method,
                   "--repeat", "2", "--max-seconds", "10", "--chunk", "24",
                   "--check", os.path.join(tmp, f"{name}_ref.npy"), "--json", js]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            ok = p.returncode == 0 and os.path.exists(js)
            if ok:
                with open(js) as fh:
                    r = json.load(fh)
                ok = (r["system"] == sysname and r["n"] == args.n
                      and r["points_per_s"] > 0 and r["worst_rel_err"] is not None
                      and r["worst_rel_err"] <= AGREE_TOL
                      and len(r["max_rel_err"]) == 7)
                T.check(ok, f"{sysname} CLI --check/--json (chunk 24, last chunk padded)",
                        f"worst rel err {r['worst_rel_err']}")
            else:
                T.check(False, f"{sysname} CLI", (p.stderr or p.stdout)[-800:])

    print(f"(models under {tmp})")
    print(f"{T.passed} passed, {T.failed} failed, {T.skipped} skipped")
    sys.exit(1 if T.failed else 0)


if __name__ == "__main__":
    main()
