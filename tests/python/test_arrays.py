"""How arrays get in and out: zero-copy for C-contiguous arrays of the
program's dtype (checked by pointer), one conversion otherwise, out= filled
and returned, numpy / torch / JAX in and out, several threads at once."""
import threading

import numpy as np
import pytest

import ddx

SPEC = "expr:sin(t)*exp(-x^2)"


def spy(prog):
    """Replaces the program's C eval by one that records the buffers it gets."""
    seen = []
    inner = prog._eval

    def rec(points, out):
        seen.append((np.asarray(points).__array_interface__["data"][0], np.asarray(out).__array_interface__["data"][0]))
        return inner(points, out)

    prog._eval = rec
    return seen


@pytest.fixture
def prog():
    return ddx.compile(SPEC, derivs="u,u_t,u_x,u_xx", precision="float64")


def closed_form(p):
    t, x = p[:, 0], p[:, 1]
    e = np.exp(-x * x)
    return np.stack([np.sin(t) * e, np.cos(t) * e, -2 * x * np.sin(t) * e, (4 * x * x - 2) * np.sin(t) * e], 1)


def test_numpy_zero_copy_and_out_identity(prog):
    x = np.random.default_rng(0).uniform(-1, 1, (100, 2))
    y = np.empty((100, 4))
    seen = spy(prog)
    r = prog(x, out=y)
    assert r is y
    assert seen == [(x.ctypes.data, y.ctypes.data)]  # the caller's buffers, no intermediate copy
    np.testing.assert_allclose(y, closed_form(x), rtol=1e-13, atol=1e-13)


def test_converted_once_or_refused(prog):
    base = np.random.default_rng(1).uniform(-1, 1, (50, 4))
    strided = base[:, ::2]  # not C-contiguous
    seen = spy(prog)
    r = prog(strided)
    assert len(seen) == 1 and seen[0][0] != strided.__array_interface__["data"][0]
    np.testing.assert_allclose(r, closed_form(strided), rtol=1e-13, atol=1e-13)
    f32 = strided.astype(np.float32)  # other dtype: converted to float64
    np.testing.assert_allclose(prog(f32), closed_form(f32.astype(np.float64)), rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="copy=False"):
        prog(strided, copy=False)
    with pytest.raises(ValueError, match="copy=False"):
        prog(f32, copy=False)
    assert prog([[0.5, 0.25]]).shape == (1, 4)  # lists go through np.asarray
    assert prog(np.empty((0, 2))).shape == (0, 4)


def test_bad_out_is_refused(prog):
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="float64"):
        prog(x, out=np.empty((10, 4), np.float32))
    with pytest.raises(ddx.ShapeError):
        prog(x, out=np.empty((10, 3)))
    with pytest.raises(ddx.ShapeError, match="rows"):
        prog(x, out=np.empty((11, 4)))
    with pytest.raises(ValueError, match="contiguous"):
        prog(x, out=np.empty((10, 8))[:, ::2])
    ro = np.empty((10, 4))
    ro.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        prog(x, out=ro)
    buf = np.zeros((10, 4))
    with pytest.raises(ValueError, match="overlaps"):
        prog(buf.reshape(20, 2)[:10], out=buf)  # points are a view of out


def test_torch_zero_copy():
    torch = pytest.importorskip("torch")
    prog = ddx.compile(SPEC, derivs="u,u_t,u_x,u_xx")  # float32
    x = torch.rand(64, 2)
    y = torch.empty(64, 4)
    seen = spy(prog)
    r = prog(x, out=y)
    assert r is y and seen == [(x.data_ptr(), y.data_ptr())]
    np.testing.assert_allclose(y.numpy(), closed_form(x.double().numpy()), rtol=2e-5, atol=2e-6)
    z = prog(x.requires_grad_(True))  # a leaf with grad is read, not differentiated
    assert isinstance(z, torch.Tensor) and not z.requires_grad and z.dtype == torch.float32
    w = prog(x.detach().double())  # float64 tensor into a float32 program: converted
    assert w.dtype == torch.float32
    with pytest.raises(ValueError):
        prog(x, out=np.empty((64, 4), np.float32))


def test_jax_in_jax_out():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    prog = ddx.compile(SPEC, derivs="u,u_t,u_x,u_xx")
    x = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (32, 2)).astype(np.float32))
    seen = spy(prog)
    r = prog(x)
    assert isinstance(r, jax.Array) and r.shape == (32, 4) and r.dtype == jnp.float32
    assert seen[0][0] == x.unsafe_buffer_pointer()  # JAX's own CPU buffer, not a copy
    np.testing.assert_allclose(np.asarray(r), closed_form(np.asarray(x, np.float64)), rtol=2e-5, atol=2e-6)
    y = np.empty((32, 4), np.float32)
    assert prog(x, out=y) is y
    with pytest.raises(ValueError, match="immutable"):
        prog(x, out=jnp.zeros((32, 4)))


def test_threads_share_a_program():
    prog = ddx.compile("mlp:2-32-32-1:tanh", derivs="u,grad(u),laplacian(u)", threads=1)
    rng = np.random.default_rng(3)
    inputs = [rng.uniform(0, 1, (int(n), 2)).astype(np.float32) for n in rng.integers(1, 3000, 24)]
    serial = [prog(x) for x in inputs]
    results = [None] * len(inputs)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                results[i] = prog(inputs[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for a, b in zip(serial, results):
        np.testing.assert_array_equal(a, b)


def test_properties():
    prog = ddx.compile("mlp:2-64-64-1:tanh", derivs="u_t,u_xx")
    assert prog.columns == ("u_t", "u_xx") and prog.inputs == ("t", "x")
    assert prog.channels == 4  # {0, t, x, xx}: not all six second-order channels
    assert prog.device == "cpu" and prog.precision == "float32" and prog.dtype == np.float32
    assert prog.flops_per_point > 2 * 64 * 64
    assert "network channels" in prog.info() and "Program" in repr(prog)


def gil_free_during(call):
    """True when another Python thread ran while call() was inside. With a
    30 s switch interval the interpreter never forces a switch, so the other
    thread (woken just before the call) can only run if call() releases the
    GIL; otherwise it runs after, and sees done."""
    import sys

    go, done, seen = threading.Event(), [False], []

    def other():
        go.wait()
        seen.append(not done[0])

    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    t = threading.Thread(target=other)
    t.start()
    try:
        go.set()
        call()
        done[0] = True
    finally:
        t.join()
        sys.setswitchinterval(old)
    return seen[0]


def test_gil_released_during_eval():
    assert not gil_free_during(lambda: sum(range(3_000_000)))  # the probe sees a held GIL
    prog = ddx.compile("mlp:2-64-64-1:tanh", derivs="u,hessian(u)", threads=1)
    x = np.random.default_rng(4).uniform(0, 1, (100_000, 2)).astype(np.float32)
    assert gil_free_during(lambda: prog(x))


def test_jax_large_result():
    jax = pytest.importorskip("jax")
    prog = ddx.compile(SPEC, derivs="u,u_t,u_x,u_xx")
    x = np.random.default_rng(5).uniform(-1, 1, (100_000, 2)).astype(np.float32)  # 1.6 MB out: DLPack path
    r = prog(jax.numpy.asarray(x))
    assert isinstance(r, jax.Array) and r.shape == (100_000, 4)
    np.testing.assert_allclose(np.asarray(r), closed_form(x.astype(np.float64)), rtol=2e-5, atol=2e-6)


def test_concurrent_compiles():
    """compile releases the GIL too; several at once must not interfere."""
    specs = [("expr:sin(t)*exp(-x^2)", "u,u_t,u_x,u_xx"), ("mlp:2-32-1:tanh", "u,hessian(u)"),
             ("expr:log(x+2)", "u,u_x,u_xx"), ("mlp:3-16-16-1:silu", "laplacian(u)")] * 3
    serial = [ddx.compile(m, d, precision="float64") for m, d in specs]
    got = [None] * len(specs)

    def work(i):
        got[i] = ddx.compile(*specs[i], precision="float64")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(specs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(serial, got):
        x = np.random.default_rng(6).uniform(0, 1, (20, len(a.inputs)))
        assert a.columns == b.columns
        np.testing.assert_array_equal(a(x), b(x))
