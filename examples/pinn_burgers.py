#!/usr/bin/env python3
"""pinn_burgers.py — train a small Burgers PINN in PyTorch, then evaluate its
PDE residual with ddx at a million points and plot |residual| over (t, x).

    pip install .  torch matplotlib       # from the repository root
    python3 examples/pinn_burgers.py [--steps 300] [--out burgers_residual.png]

Burgers: u_t + u u_x - (0.01/pi) u_xx = 0 on t in [0, 1], x in [-1, 1],
u(0, x) = -sin(pi x), u(t, -1) = u(t, 1) = 0. A few hundred Adam steps on the
CPU take seconds; the network is far from converged, which is the point of
looking at where the residual is large (the shock forming at x = 0).
"""
import argparse
import math
import time

import numpy as np
import torch

import ddx

NU = 0.01 / math.pi


def make_net():
    torch.manual_seed(0)
    w = [2, 20, 20, 20, 1]
    layers = []
    for i in range(len(w) - 1):
        layers.append(torch.nn.Linear(w[i], w[i + 1]))
        if i + 2 < len(w):
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def residual_torch(net, tx):
    """The training loss's residual, by nested autograd (what ddx replaces)."""
    tx = tx.requires_grad_(True)
    u = net(tx)
    g = torch.autograd.grad(u.sum(), tx, create_graph=True)[0]
    u_t, u_x = g[:, 0:1], g[:, 1:2]
    u_xx = torch.autograd.grad(u_x.sum(), tx, create_graph=True)[0][:, 1:2]
    return u_t + u * u_x - NU * u_xx


def train(net, steps):
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(1)
    x0 = torch.linspace(-1, 1, 128).unsqueeze(1)
    ic = torch.cat([torch.zeros_like(x0), x0], 1)
    tb = torch.rand(64, 1, generator=gen)
    bc = torch.cat([torch.cat([tb, -torch.ones_like(tb)], 1), torch.cat([tb, torch.ones_like(tb)], 1)])
    for step in range(steps):
        col = torch.rand(256, 2, generator=gen) * torch.tensor([1.0, 2.0]) - torch.tensor([0.0, 1.0])
        loss = (residual_torch(net, col) ** 2).mean() + ((net(ic) + torch.sin(math.pi * x0)) ** 2).mean() \
            + (net(bc) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--n", type=int, default=1000, help="grid side: n x n points (default 1000 -> 1M)")
    ap.add_argument("--out", default="burgers_residual.png")
    args = ap.parse_args()

    torch.set_num_threads(min(4, torch.get_num_threads()))  # small batches: more threads only contend
    net = make_net()
    t0 = time.perf_counter()
    train(net, args.steps)
    print(f"trained {args.steps} steps in {time.perf_counter() - t0:.1f} s")

    # the three lines a user needs: compile once, evaluate arrays
    prog = ddx.compile(net, derivs=f"u_t + u*u_x - {NU!r}*u_xx", inputs=["t", "x"])
    t, x = np.meshgrid(np.linspace(0, 1, args.n, dtype=np.float32), np.linspace(-1, 1, args.n, dtype=np.float32),
                       indexing="ij")
    pts = np.stack([t.ravel(), x.ravel()], 1)  # (n*n, 2) float32, C-contiguous: passed without a copy
    t0 = time.perf_counter()
    res = prog(pts)
    dt = time.perf_counter() - t0
    print(f"ddx: residual at {len(pts):,} points in {dt * 1e3:.1f} ms ({len(pts) / dt:.3g} points/s) on {prog.device}")

    # a spot check against the autograd residual the network was trained with
    idx = np.random.default_rng(2).choice(len(pts), 1000, replace=False)
    ref = residual_torch(net.double(), torch.tensor(pts[idx], dtype=torch.float64)).detach().numpy()
    err = np.max(np.abs(res[idx] - ref)) / np.max(np.abs(ref))
    print(f"max |ddx - autograd (float64)| / max|residual| on 1000 points: {err:.2e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = np.abs(res[:, 0]).reshape(args.n, args.n)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    # clipped below: the zero crossings of the residual would dominate the scale
    im = ax.imshow(np.log10(r.T + 1e-12), origin="lower", extent=[0, 1, -1, 1], aspect="auto", cmap="magma",
                   vmin=-4)
    fig.colorbar(im, ax=ax, label="log10 |residual|")
    ax.set_xlabel("t")
    ax.set_ylabel("x")
    ax.set_title(f"Burgers PINN after {args.steps} steps: |u_t + u u_x - (0.01/pi) u_xx| (ddx, {len(pts):,} points)",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
