"""Many inputs through the Python package (issue 16): a torch module with
d = 100 inputs, imported through ONNX, and its collapsed Laplacian, Hessian
diagonal, weighted operator sum_ij a_ij u_ij (A from a .npy file) and STDE
estimate, against torch.func's float64 Hessian of the same module."""
import numpy as np
import pytest

import ddx

torch = pytest.importorskip("torch")

D = 100


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(D, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                               torch.nn.Linear(32, 1)).double()


def hessians(m, x):
    f = lambda p: m(p.unsqueeze(0)).squeeze()  # noqa: E731
    return np.stack([torch.func.hessian(f)(torch.from_numpy(r)).detach().numpy() for r in x])


@pytest.fixture(scope="module")
def case():
    m = net()
    x = np.random.default_rng(0).uniform(-1, 1, (6, D))
    return m, x, hessians(m, x)


def test_laplacian_and_hessdiag_d100(case):
    m, x, H = case
    prog = ddx.compile(m, derivs="laplacian(u),hessdiag(u)", precision="float64")
    assert len(prog.columns) == 1 + D and prog.inputs[0] == "x1" and len(prog.inputs) == D
    out = prog(x)
    scale = np.abs(np.diagonal(H, axis1=1, axis2=2)).max()
    np.testing.assert_allclose(out[:, 0], np.trace(H, axis1=1, axis2=2), rtol=0, atol=1e-12 * max(scale, 1))
    np.testing.assert_allclose(out[:, 1:], np.diagonal(H, axis1=1, axis2=2), rtol=0, atol=1e-12 * max(scale, 1))
    # collapsed: one Laplacian channel (value, d first-order, lap), not the d(d+1)/2 second partials
    assert ddx.compile(m, derivs="laplacian(u)").channels == D + 2
    f32 = ddx.compile(m, derivs="laplacian(u)", precision="float32")(x.astype(np.float32))
    np.testing.assert_allclose(f32[:, 0], np.trace(H, axis1=1, axis2=2), rtol=0, atol=1e-4 * max(scale, 1))


def test_weighted_operator_from_a_file(case, tmp_path):
    m, x, H = case
    rng = np.random.default_rng(1)
    B = rng.normal(size=(D, D))
    A = B @ B.T / D  # any d x d matrix; symmetric positive definite so its STDE form is allowed too
    path = tmp_path / "A.npy"
    np.save(path, A)
    prog = ddx.compile(m, derivs=f"op2(u, A=@{path})", precision="float64")
    want = np.einsum("ij,nij->n", A, H)
    np.testing.assert_allclose(prog(x)[:, 0], want, rtol=0, atol=1e-11 * max(np.abs(want).max(), 1))
    bad = tmp_path / "bad.npy"
    np.save(bad, A[:, :-1])
    with pytest.raises(ddx.Error, match="d x d"):
        ddx.compile(m, derivs=f"op2(u, A=@{bad})")


def test_stochastic_laplacian_is_unbiased(case):
    m, x, H = case
    exact = np.trace(H, axis1=1, axis2=2)
    est = lambda seed: ddx.compile(m, derivs=f"laplacian(u, samples=32, seed={seed})",  # noqa: E731
                                   precision="float64")(x[:2])[:, 0]
    np.testing.assert_array_equal(est(7), est(7))  # reproducible from its seed
    runs = np.stack([est(s) for s in range(1, 41)])
    assert not np.array_equal(runs[0], runs[1])
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(runs.mean(axis=0) - exact[:2]) < 4 * se + 1e-12)
