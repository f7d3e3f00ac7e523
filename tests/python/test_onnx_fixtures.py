"""The committed ONNX fixtures (PyTorch, JAX, Keras, hand-built) through
ddx.compile(path) and ddx.compile(bytes), against their float64 references
made by torch.autograd / jax (tests/fixtures/onnx/make_fixtures.py)."""
import os

import numpy as np
import pytest

import ddx
from conftest import FIXTURES, assert_close, fixture_table

COLUMNS, ORDERS = fixture_table()


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_fixture_vs_autodiff(name, precision):
    pts = np.load(os.path.join(FIXTURES, name + "_points.npy"))
    ref = np.load(os.path.join(FIXTURES, name + "_ref.npy"))
    prog = ddx.compile(os.path.join(FIXTURES, name + ".onnx"), derivs=COLUMNS[name], precision=precision)
    assert prog.columns == tuple(COLUMNS[name])
    assert list(prog.orders) == ORDERS[name]
    got = prog(pts)  # float64 points into a float32 program: converted once
    assert got.dtype == np.dtype(precision) and got.shape == ref.shape
    assert_close(name, precision, COLUMNS[name], ORDERS[name], got, ref)


def test_fixture_from_bytes_same_as_path():
    path = os.path.join(FIXTURES, "ns_torch.onnx")
    cols = COLUMNS["ns_torch"]
    a = ddx.compile(path, derivs=cols, precision="float64")
    with open(path, "rb") as f:
        b = ddx.compile(f.read(), derivs=cols, precision="float64")
    assert a.inputs == b.inputs == ("t", "x", "y")
    pts = np.load(os.path.join(FIXTURES, "ns_torch_points.npy"))
    np.testing.assert_array_equal(a(pts), b(pts))


def test_navier_stokes_system_runs_network_once():
    """Continuity + two momentum residuals over outputs u, v, p: one program."""
    prog = ddx.compile(os.path.join(FIXTURES, "ns_torch.onnx"), derivs=COLUMNS["ns_torch"][3:6], precision="float64")
    pts = np.load(os.path.join(FIXTURES, "ns_torch_points.npy"))
    ref = np.load(os.path.join(FIXTURES, "ns_torch_ref.npy"))[:, 3:6]
    assert_close("ns_torch", "float64", COLUMNS["ns_torch"][3:6], ORDERS["ns_torch"][3:6], prog(pts), ref)
    assert "dense" in prog.info() and prog.channels > 0


def test_onnx_model_proto():
    onnx = pytest.importorskip("onnx")
    model = onnx.load(os.path.join(FIXTURES, "burgers_torch.onnx"))
    prog = ddx.compile(model, derivs="u,u_x", inputs=["t", "x"], precision="float64")
    pts = np.load(os.path.join(FIXTURES, "burgers_torch_points.npy"))
    ref = np.load(os.path.join(FIXTURES, "burgers_torch_ref.npy"))[:, [0, 2]]
    assert_close("burgers_torch", "float64", ["u", "u_x"], [0, 1], prog(pts), ref)
