"""A torch.nn.Module compiled directly (exported to ONNX in memory) against
torch.autograd in float64 on the same weights: value, gradient, Hessian,
Laplacian, a 4th-order derivative, the Navier-Stokes system."""
import itertools

import numpy as np
import pytest

import ddx
from conftest import assert_close, torch_partial

torch = pytest.importorskip("torch")


def mlp(widths, act, seed):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(act())
    return torch.nn.Sequential(*layers)


def points(n, d, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, (n, d))


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_grad_hessian_laplacian(precision):
    net = mlp([2, 24, 24, 1], torch.nn.Tanh, 1)
    prog = ddx.compile(net, derivs=["u", "grad(u)", "hessian(u)", "laplacian(u)"], inputs=["t", "x"],
                       precision=precision)
    assert prog.columns == ("u", "u_t", "u_x", "u_tt", "u_tx", "u_xt", "u_xx", "laplacian(u)")
    assert prog.inputs == ("t", "x") and prog.orders == (0, 1, 1, 2, 2, 2, 2, 2)
    pts = points(64, 2, 2)
    X = torch.tensor(pts, requires_grad=True)
    ref64 = net.double()
    u = ref64(X)[:, 0]
    cols = [u] + [torch_partial(u, X, [i]) for i in range(2)]
    cols += [torch_partial(u, X, [i, j]) for i, j in itertools.product(range(2), repeat=2)]
    cols.append(cols[3] + cols[6])
    ref = torch.stack(cols, 1).detach().numpy()
    assert_close("torch_module", precision, prog.columns, prog.orders, prog(pts), ref)


def test_float64_module_weights():
    """A .double() module exports double initializers; ddx reads them as they are."""
    net = mlp([3, 16, 16, 1], torch.nn.SiLU, 3).double()
    prog = ddx.compile(net, derivs="u,laplacian(u),D(u,x1,x2,x3)", precision="float64")
    assert prog.inputs == ("x1", "x2", "x3")
    pts = points(32, 3, 4)
    X = torch.tensor(pts, requires_grad=True)
    u = net(X)[:, 0]
    lap = sum(torch_partial(u, X, [i, i]) for i in range(3))
    ref = torch.stack([u, lap, torch_partial(u, X, [0, 1, 2])], 1).detach().numpy()
    assert_close("torch_module", "float64", prog.columns, [0, 2, 3], prog(pts), ref)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_fourth_order(precision):
    net = mlp([1, 32, 32, 32, 1], torch.nn.Tanh, 5)
    prog = ddx.compile(net, derivs="u,u_x,u_xx,u_xxx,u_xxxx", precision=precision)
    pts = points(50, 1, 6)
    X = torch.tensor(pts, requires_grad=True)
    u = net.double()(X)[:, 0]
    ref = torch.stack([torch_partial(u, X, [0] * k) for k in range(5)], 1).detach().numpy()
    got = prog(pts[:, 0])  # (N,) points for a one-input model
    assert got.shape == (50, 5)
    assert_close("torch_module", precision, prog.columns, range(5), got, ref)


def test_navier_stokes_module():
    """3 inputs (t, x, y), 3 outputs (u1, u2, u3 = u, v, p): continuity and
    both momentum residuals of 2-D incompressible Navier-Stokes."""
    net = mlp([3, 24, 24, 3], torch.nn.SiLU, 7)
    nu = 0.01
    derivs = ["D(u1,x) + D(u2,y)",
              f"D(u1,t) + u1*D(u1,x) + u2*D(u1,y) + D(u3,x) - {nu}*(D(u1,x,x) + D(u1,y,y))",
              f"D(u2,t) + u1*D(u2,x) + u2*D(u2,y) + D(u3,y) - {nu}*(D(u2,x,x) + D(u2,y,y))"]
    prog = ddx.compile(net, derivs=derivs, inputs="t,x,y", precision="float64")
    pts = points(40, 3, 8)
    X = torch.tensor(pts, requires_grad=True)
    o = net.double()(X)
    u, v, p = o[:, 0], o[:, 1], o[:, 2]
    P = lambda f, *a: torch_partial(f, X, list(a))  # noqa: E731
    t, x, y = 0, 1, 2
    cont = P(u, x) + P(v, y)
    mx = P(u, t) + u * P(u, x) + v * P(u, y) + P(p, x) - nu * (P(u, x, x) + P(u, y, y))
    my = P(v, t) + u * P(v, x) + v * P(v, y) + P(p, y) - nu * (P(v, x, x) + P(v, y, y))
    ref = torch.stack([cont, mx, my], 1).detach().numpy()
    assert_close("torch_ns", "float64", prog.columns, [1, 2, 2], prog(pts), ref)


def test_module_training_mode_restored_and_result_is_torch():
    net = mlp([2, 8, 1], torch.nn.Tanh, 9).train()
    prog = ddx.compile(net, derivs="u_x", inputs=["t", "x"])
    assert net.training
    x = torch.rand(5, 2)
    r = prog(x)
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float32 and r.shape == (5, 1)


def test_module_with_relu_is_refused():
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    with pytest.raises(ddx.UnsupportedOpError, match="Relu"):
        ddx.compile(net, derivs="u")
