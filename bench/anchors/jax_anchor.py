#!/usr/bin/env python3
"""JAX peer benchmark ("anchor") for ddx: the same derivatives, written the
way JAX users write them.

  python3 bench/anchors/jax_anchor.py --model-dir DIR --points P.npy \
      --derivs 'u,grad(u),hessian(u)' --precision f32 --method hessian \
      --repeat 5 [--check ddx_out.npy] [--json OUT.json] [--device cpu|gpu]

Methods (per point x, then jax.jit(jax.vmap(...)) over a chunk):
  hessian        u = f(x), grad = jax.grad(f), H = jax.hessian(f);
                 order k > 2: jax.jacfwd applied k-2 times on top of jax.hessian
  jacfwd_jacrev  the same with explicit jax.jacfwd(jax.jacrev(f)) / jax.jacrev(f)
  grad           nested scalar jax.grad, one nesting per derivative letter
                 (u_x = grad(f)[x], u_xx = grad(lambda x: grad(f)(x)[x])[x], ...)
  jet            Taylor mode, jax.experimental.jet on the batched network, one
                 jet per input direction (order = highest pure derivative in
                 that direction); mixed 2nd derivatives by polarization along
                 e_i + e_j.  Mixed derivatives of order > 2 are not supported.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import common  # noqa: E402

METHODS = ["hessian", "jacfwd_jacrev", "grad", "jet"]


def _act(name):
    import jax
    import jax.numpy as jnp
    if name == "tanh":
        return jnp.tanh
    if name == "sigmoid":
        return jax.nn.sigmoid
    if name == "softplus":
        # jax.nn.softplus (logaddexp) has no jet rule; this form is exact,
        # stable, and works under every transformation used here.
        return lambda z: jnp.maximum(z, 0) + jnp.log1p(jnp.exp(-jnp.abs(z)))
    if name == "silu":
        return jax.nn.silu
    if name == "sin":
        return jnp.sin
    return lambda z: z


def mlp_apply(params, acts, x):
    """x: (d,) or (N, d) -> (m,) or (N, m)."""
    a = x
    for (W, b), act in zip(params, acts):
        a = act(a @ W.T + b)
    return a


def _point_fn(spec, acts, method):
    """Per-point function (params, x(d,)) -> (K,) columns."""
    import jax
    import jax.numpy as jnp

    outs = sorted({p[0] for p in spec.partials})

    if method in ("hessian", "jacfwd_jacrev"):
        def fn(params, x):
            f = lambda y: mlp_apply(params, acts, y)  # noqa: E731
            vals = {}
            uval = None
            for o in outs:
                f_o = lambda y, o=o: f(y)[o]  # noqa: E731
                orders = {len(p[1]) for p in spec.partials if p[0] == o}
                if 0 in orders:
                    if uval is None:
                        uval = f(x)
                    vals[(o, ())] = uval[o]
                if 1 in orders:
                    g = (jax.grad(f_o) if method == "hessian" else jax.jacrev(f_o))(x)
                    for p in spec.partials:
                        if p[0] == o and len(p[1]) == 1:
                            vals[p] = g[p[1][0]]
                if any(k >= 2 for k in orders):
                    T = jax.hessian(f_o) if method == "hessian" \
                        else jax.jacfwd(jax.jacrev(f_o))
                    for k in range(2, max(orders) + 1):
                        if k > 2:
                            T = jax.jacfwd(T)
                        if k in orders:
                            Tx = T(x)
                            for p in spec.partials:
                                if p[0] == o and len(p[1]) == k:
                                    vals[p] = Tx[p[1]]
            return spec.assemble(vals, jnp.stack)
        return fn

    if method == "grad":
        def fn(params, x):
            f = lambda y: mlp_apply(params, acts, y)  # noqa: E731
            vals = {}
            for o in outs:
                scal = {(): (lambda y, o=o: f(y)[o])}   # idx -> scalar function
                grads = {}                              # prefix -> grad function

                def scalar(idx):
                    if idx not in scal:
                        prefix, j = idx[:-1], idx[-1]
                        if prefix not in grads:
                            grads[prefix] = jax.grad(scalar(prefix))
                        gp = grads[prefix]
                        scal[idx] = lambda y, gp=gp, j=j: gp(y)[j]
                    return scal[idx]

                for p in spec.partials:
                    if p[0] == o:
                        vals[p] = scalar(p[1])(x)
            return spec.assemble(vals, jnp.stack)
        return fn

    raise ValueError(method)


def _batch_jet_fn(spec, acts, d):
    """Batched Taylor-mode function (params, X(N,d)) -> (N, K)."""
    import jax.numpy as jnp
    from jax.experimental.jet import jet

    pure = {}    # direction index -> max order
    mixed = set()
    for o, idx in spec.partials:
        if len(idx) == 0:
            continue
        if len(set(idx)) == 1:
            pure[idx[0]] = max(pure.get(idx[0], 0), len(idx))
        elif len(idx) == 2:
            i, j = idx
            mixed.add((i, j))
            pure[i] = max(pure.get(i, 0), 2)
            pure[j] = max(pure.get(j, 0), 2)
        else:
            raise ValueError(f"--method jet: mixed derivative {idx} of order "
                             f"{len(idx)} > 2 is not supported")

    def fn(params, X):
        f = lambda Y: mlp_apply(params, acts, Y)  # noqa: E731
        vals = {}
        series = {}
        y0 = None

        def run(v, k):
            V = jnp.broadcast_to(v.astype(X.dtype), X.shape)
            zeros = jnp.zeros_like(X)
            y, ys = jet(f, (X,), ((V,) + (zeros,) * (k - 1),))
            return y, ys

        for i, k in sorted(pure.items()):
            y, ys = run(jnp.eye(d, dtype=X.dtype)[i], k)
            y0 = y
            series[(i,)] = ys
        for i, j in sorted(mixed):
            e = jnp.eye(d, dtype=X.dtype)
            y, ys = run(e[i] + e[j], 2)
            series[(i, j)] = ys
        if y0 is None:
            y0 = f(X)
        for o, idx in spec.partials:
            if len(idx) == 0:
                vals[(o, idx)] = y0[:, o]
            elif len(set(idx)) == 1:
                vals[(o, idx)] = series[(idx[0],)][len(idx) - 1][:, o]
            else:
                i, j = idx
                dd = series[(i, j)][1][:, o]
                vals[(o, idx)] = 0.5 * (dd - series[(i,)][1][:, o]
                                        - series[(j,)][1][:, o])
        return spec.assemble(vals, lambda cols: jnp.stack(cols, axis=-1))
    return fn


class JaxEvaluator(common.Evaluator):
    def __init__(self, model, spec, np_dtype, method="hessian", device="cpu"):
        import jax
        import jax.numpy as jnp
        if np_dtype == np.float64 and not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)
        platform = "gpu" if device in ("gpu", "cuda") else "cpu"
        try:
            self.device = jax.devices(platform)[0]
        except RuntimeError as e:
            raise SystemExit(f"error: jax has no {platform} device: {e}")
        self.dtype = jnp.float64 if np_dtype == np.float64 else jnp.float32
        self.params = jax.device_put(
            [(jnp.asarray(l.W, self.dtype), jnp.asarray(l.b, self.dtype))
             for l in model.layers], self.device)
        acts = [_act(l.activation) for l in model.layers]
        if method == "jet":
            batch = _batch_jet_fn(spec, acts, model.d)
        else:
            batch = jax.vmap(_point_fn(spec, acts, method), in_axes=(None, 0))
        self.fn = jax.jit(batch)
        self.method = method
        self._jax = jax

    def prepare(self, chunks):
        return [self._jax.device_put(np.asarray(c), self.device) for c in chunks]

    def run(self, handle):
        return [self.fn(self.params, c) for c in handle]

    def sync(self, result):
        return self._jax.block_until_ready(result)

    def to_numpy(self, result, valid_rows):
        return np.concatenate([np.asarray(r, dtype=np.float64)[:v]
                               for r, v in zip(result, valid_rows)], axis=0)

    def info(self):
        import jaxlib
        return {"jax_version": self._jax.__version__,
                "jaxlib_version": getattr(jaxlib, "__version__", None),
                "device_name": str(self.device),
                "device_kind": getattr(self.device, "device_kind", None)}


def make_evaluator(model, spec, np_dtype, method="hessian", device="cpu"):
    return JaxEvaluator(model, spec, np_dtype, method, device)


def main(argv=None):
    ap = common.base_arg_parser("jax_anchor.py", METHODS, ["cpu", "gpu"])
    args = ap.parse_args(argv)
    if args.device == "cpu":
        # must happen before jax is imported: keeps jax off any GPU
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    if args.precision == "f64":
        jax.config.update("jax_enable_x64", True)
    return common.run_anchor(
        args, "jax",
        lambda model, spec, dt: make_evaluator(model, spec, dt, args.method, args.device))


if __name__ == "__main__":
    main()
