"""ddx.check and ddx.bench: the CLI's check and bench as dicts."""
import numpy as np
import pytest

import ddx


def test_check_passes_and_reports_every_column():
    r = ddx.check("expr:log(x+2)", "u,u_x,u_xx,u_xxx,u_xxxx", precision="float64", rows=8)
    assert r["ok"] and r["rows"] == 8 and r["precision"] == "float64"
    assert [c["order"] for c in r["columns"]] == [0, 1, 2, 3, 4]
    assert all(c["max_rel_err"] <= c["tolerance"] for c in r["columns"])


def test_check_catches_a_wrong_result():
    """A program whose output is corrupted after the fact must fail check."""
    prog = ddx.compile("mlp:2-16-16-1:tanh", derivs="u,u_xx")
    inner = prog._eval

    def corrupt(points, out):
        inner(points, out)
        np.asarray(out)[:, 1] *= 1.01  # u_xx off by 1 %

    prog._eval = corrupt
    r = ddx.check(prog, rows=6)
    assert not r["ok"]
    assert r["columns"][0]["ok"] and not r["columns"][1]["ok"]


def test_check_given_points():
    pts = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    r = ddx.check("expr:sin(t)*exp(-x^2)", "u_t,u_xx,u_txx", pts, rows=5, precision="float64")
    assert r["ok"] and r["rows"] == 5


def test_bench_dict():
    r = ddx.bench("mlp:2-16-16-1:tanh", "u,u_x", n=2048, repeat=3, calibrate=False)
    assert r["n"] == 2048 and r["repeat"] == 3 and r["min_s"] <= r["median_s"] <= r["max_s"]
    assert r["points_per_s"] > 0 and r["gflops"] > 0 and r["device"] == "cpu"
    with pytest.raises(ddx.InvalidArgumentError):
        ddx.bench(ddx.compile("expr:x", "u"), "u")


def test_check_derivative_that_vanishes():
    # d/dx tanh(x) at x = 20 is 1.7e-17 and its FD reference exactly 0: judged
    # absolutely against the column scale (the CLI's rule), not as a 1e283 error
    pts = np.array([[20.0], [19.0], [-20.0]])
    for prec in ("float32", "float64"):
        r = ddx.check("expr:tanh(x)", "u,u_x", pts, precision=prec)
        assert r["ok"], r
