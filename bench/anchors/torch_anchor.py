#!/usr/bin/env python3
"""PyTorch peer benchmark ("anchor") for ddx: the same derivatives, written
the way PyTorch users (PINN code) write them.

  python3 bench/anchors/torch_anchor.py --model-dir DIR --points P.npy \
      --derivs 'u,grad(u),hessian(u)' --precision f32 --method func_hessian \
      --repeat 5 [--check ddx_out.npy] [--json OUT.json] [--device cpu|cuda]

Methods:
  func_hessian  torch.func: u = net(X), grad = vmap(jacrev(f)),
                H = vmap(hessian(f)) (hessian = jacfwd(jacrev));
                order k > 2: jacfwd applied k-2 times on top of hessian.
  autograd      PINN style: X.requires_grad_(True); U = net(X);
                G = torch.autograd.grad(U.sum(), X, create_graph=True)[0];
                u_x = G[:, x]; u_xx = grad(u_x.sum(), X, create_graph=True)[0][:, x]
                ... one backward pass per derivative prefix (shared, so u_tx
                and u_xx reuse the same pass over u_x).  create_graph=True
                throughout, as training code does.
"""

from __future__ import annotations

import os
import sys
import warnings

# torch.func's forward-mode AD loads decompositions through torch.jit.script,
# which warns on recent torch; it is torch-internal and not actionable here.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated",
                        category=FutureWarning)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import common  # noqa: E402

METHODS = ["func_hessian", "autograd"]


def _act(name):
    import torch
    import torch.nn.functional as F
    if name == "tanh":
        return torch.tanh
    if name == "sigmoid":
        return torch.sigmoid
    if name == "softplus":
        # same closed form as the JAX anchor (F.softplus switches to the
        # identity above its threshold, which changes higher derivatives)
        return lambda z: torch.clamp_min(z, 0) + torch.log1p(torch.exp(-torch.abs(z)))
    if name == "silu":
        return F.silu
    if name == "sin":
        return torch.sin
    return lambda z: z


class TorchEvaluator(common.Evaluator):
    def __init__(self, model, spec, np_dtype, method="func_hessian", device="cpu"):
        import torch
        import torch.nn.functional as F
        self.torch = torch
        if device in ("cuda", "gpu"):
            if not torch.cuda.is_available():
                raise SystemExit("error: torch.cuda is not available")
            self.device = torch.device("cuda")
            self.cuda_events = True
        else:
            self.device = torch.device("cpu")
        self.dtype = torch.float64 if np_dtype == np.float64 else torch.float32
        self.params = [(torch.as_tensor(l.W, dtype=self.dtype, device=self.device),
                        torch.as_tensor(l.b, dtype=self.dtype, device=self.device))
                       for l in model.layers]
        self.acts = [_act(l.activation) for l in model.layers]
        self.spec = spec
        self.method = method
        self.d = model.d

        params, acts = self.params, self.acts

        def net(x):  # (d,) -> (m,)  or  (N, d) -> (N, m)
            a = x
            for (W, b), act in zip(params, acts):
                a = act(F.linear(a, W, b))
            return a
        self.net = net

        if method == "func_hessian":
            self._build_func()
        elif method == "autograd":
            self.run_chunk = self._autograd_chunk
        else:
            raise ValueError(method)

    # -- torch.func ------------------------------------------------------
    def _build_func(self):
        from torch.func import hessian, jacfwd, jacrev, vmap
        spec, net = self.spec, self.net
        plan = []   # (o, order, batched fn)
        for o in sorted({p[0] for p in spec.partials}):
            f_o = lambda x, o=o: net(x)[o]  # noqa: E731
            orders = sorted({len(p[1]) for p in spec.partials if p[0] == o})
            for k in orders:
                if k == 0:
                    continue
                if k == 1:
                    fk = jacrev(f_o)
                else:
                    fk = hessian(f_o)
                    for _ in range(k - 2):
                        fk = jacfwd(fk)
                plan.append((o, k, vmap(fk)))
        need_value = any(len(p[1]) == 0 for p in spec.partials)

        def run_chunk(X):
            vals = {}
            if need_value:
                U = net(X)
                for p in spec.partials:
                    if len(p[1]) == 0:
                        vals[p] = U[:, p[0]]
            for o, k, fk in plan:
                T = fk(X)                # (N,) + (d,)*k
                for p in spec.partials:
                    if p[0] == o and len(p[1]) == k:
                        vals[p] = T[(slice(None),) + p[1]]
            return spec.assemble(vals, lambda cols: self.torch.stack(cols, dim=-1))
        self.run_chunk = run_chunk

    # -- nested torch.autograd.grad --------------------------------------
    def _autograd_chunk(self, X0):
        torch = self.torch
        spec = self.spec
        with torch.enable_grad():
            X = X0.detach().requires_grad_(True)
            U = self.net(X)
            vals = {}
            for o in sorted({p[0] for p in spec.partials}):
                D = {(): U[:, o]}
                G = {}

                def deriv(idx):
                    if idx not in D:
                        prefix, j = idx[:-1], idx[-1]
                        if prefix not in G:
                            src = deriv(prefix)
                            if src.requires_grad:
                                g = torch.autograd.grad(src.sum(), X, create_graph=True,
                                                        allow_unused=True)[0]
                            else:
                                g = None
                            G[prefix] = g if g is not None else torch.zeros_like(X)
                        D[idx] = G[prefix][:, j]
                    return D[idx]

                for p in spec.partials:
                    if p[0] == o:
                        vals[p] = deriv(p[1])
            out = spec.assemble(vals, lambda cols: torch.stack(cols, dim=-1))
        return out.detach()

    # -- Evaluator interface ---------------------------------------------
    def prepare(self, chunks):
        return [self.torch.as_tensor(np.asarray(c), dtype=self.dtype).to(self.device)
                for c in chunks]

    def run(self, handle):
        return [self.run_chunk(c) for c in handle]

    def sync(self, result):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()
        return result

    def to_numpy(self, result, valid_rows):
        return np.concatenate([r[:v].detach().cpu().double().numpy()
                               for r, v in zip(result, valid_rows)], axis=0)

    def info(self):
        torch = self.torch
        inf = {"torch_version": torch.__version__,
               "torch_threads": torch.get_num_threads(),
               "device_name": str(self.device)}
        if self.device.type == "cuda":
            inf["device_kind"] = torch.cuda.get_device_name(self.device)
        return inf


def make_evaluator(model, spec, np_dtype, method="func_hessian", device="cpu"):
    return TorchEvaluator(model, spec, np_dtype, method, device)


def main(argv=None):
    ap = common.base_arg_parser("torch_anchor.py", METHODS, ["cpu", "cuda"])
    args = ap.parse_args(argv)
    return common.run_anchor(
        args, "torch",
        lambda model, spec, dt: make_evaluator(model, spec, dt, args.method, args.device))


if __name__ == "__main__":
    main()
