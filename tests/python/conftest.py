"""Shared pieces of the Python tests: fixture paths, the torch.autograd
reference, and the record of the largest error per derivative order
(printed at the end of the run)."""
import ast
import os
from collections import defaultdict

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "onnx")

_worst = defaultdict(float)  # (source, precision, order) -> largest error


def fixture_table():
    """COLUMNS and ORDERS of make_fixtures.py, read without running it (it needs onnx)."""
    tree = ast.parse(open(os.path.join(FIXTURES, "make_fixtures.py")).read())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id in ("COLUMNS", "ORDERS"):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out["COLUMNS"], out["ORDERS"]


def rel_to_scale(got, ref):
    """Per column: max |got - ref| / max(max|ref|, 1e-3) (the C tests' measure)."""
    scale = np.maximum(np.max(np.abs(ref), axis=0), 1e-3)
    return np.max(np.abs(np.asarray(got, np.float64) - ref), axis=0) / scale


# per-order tolerances against float64 autodiff (tests/test_onnx.c's; order 4 added)
TOL = {"float64": [2e-13, 2e-13, 2e-13, 2e-13, 1e-12], "float32": [3e-6, 5e-6, 1e-5, 2e-5, 2e-4]}


def assert_close(source, precision, names, orders, got, ref):
    errs = rel_to_scale(got, ref)
    bad = []
    for name, order, e in zip(names, orders, errs):
        key = (source, precision, order)
        _worst[key] = max(_worst[key], float(e))
        if not e <= TOL[precision][order]:
            bad.append(f"{name} (order {order}): {e:.3g} > {TOL[precision][order]:.0e}")
    assert not bad, f"{source} {precision}: " + "; ".join(bad)


def torch_partial(u, X, alpha):
    """d^alpha u by nested torch.autograd.grad; alpha lists input indices."""
    import torch

    g = u
    for i in alpha:
        g = torch.autograd.grad(g.sum(), X, create_graph=True)[0][:, i]
    return g


def pytest_terminal_summary(terminalreporter):
    if not _worst:
        return
    tr = terminalreporter
    tr.section("largest error vs float64 autodiff (relative to the column's max |ref|), per derivative order")
    by = defaultdict(dict)
    for (src, prec, order), e in _worst.items():
        by[(src, prec)][order] = e
    for (src, prec) in sorted(by):
        cells = "  ".join(f"order {o}: {e:.2e}" for o, e in sorted(by[(src, prec)].items()))
        tr.write_line(f"{src:>14} {prec}: {cells}")
    overall = defaultdict(float)
    for (src, prec, order), e in _worst.items():
        overall[(prec, order)] = max(overall[(prec, order)], e)
    for prec in ("float32", "float64"):
        cells = "  ".join(f"order {o}: {e:.2e}" for (p, o), e in sorted(overall.items()) if p == prec)
        tr.write_line(f"{'all':>14} {prec}: {cells}")


@pytest.fixture
def fixtures_dir():
    return FIXTURES
