"""Every bad input is a ddx.Error subclass (or ValueError) with the
library's one-line message — never a crash."""
import os

import numpy as np
import pytest

import ddx
from conftest import FIXTURES


@pytest.fixture(scope="module")
def prog():
    return ddx.compile("mlp:2-16-16-1:tanh", derivs="u,u_x,u_xx")


def test_hierarchy():
    for cls in (ddx.ParseError, ddx.ShapeError, ddx.UnknownNameError, ddx.LimitError, ddx.InvalidArgumentError):
        assert issubclass(cls, ddx.Error) and issubclass(cls, ValueError)
    assert issubclass(ddx.NoDeviceError, ddx.DeviceError) and issubclass(ddx.DeviceError, ddx.Error)
    assert ddx.UnsupportedOpError is ddx.UnsupportedError and ddx.ParseError.status == "DDX_ERR_PARSE"


@pytest.mark.parametrize("shape", [(5, 3), (5, 1), (2, 5, 2), ()])
def test_wrong_shapes(prog, shape):
    with pytest.raises(ddx.ShapeError, match="expected shape"):
        prog(np.zeros(shape, np.float32))


def test_wrong_shapes_torch(prog):
    torch = pytest.importorskip("torch")
    with pytest.raises(ddx.ShapeError):
        prog(torch.zeros(4, 3))
    with pytest.raises(ddx.ShapeError):
        prog(torch.zeros(4, 2), out=torch.zeros(4, 2))


def test_nan_rows_stay_in_their_row(prog):
    x = np.random.default_rng(0).uniform(0, 1, (300, 2)).astype(np.float32)
    clean = prog(x)
    bad = x.copy()
    bad[7, 0] = np.nan
    bad[150, 1] = np.inf
    bad[299, :] = np.nan
    got = prog(bad)
    for r in (7, 299):
        assert np.isnan(got[r]).all()
    np.testing.assert_array_equal(got[150], prog(bad[150:151])[0])  # tanh(inf) is finite: just its own row
    keep = np.ones(300, bool)
    keep[[7, 150, 299]] = False
    np.testing.assert_array_equal(got[keep], clean[keep])


@pytest.mark.parametrize("derivs,cls,word", [
    ("u_q", ddx.Error, "'q'"),            # no input q
    ("v", ddx.ParseError, "unknown name 'v'"),                # no output v
    ("D(u,zz)", ddx.Error, "zz"),
    ("hessian(w)", ddx.Error, "w"),
    ("u_x +", ddx.ParseError, ""),
    ("u,,u_x", ddx.ParseError, "empty item"),
    ("D(u,x,x,x,x,x,x,x,x,x)", ddx.LimitError, "order above 8"),  # order 9 > DDX_MAX_ORDER
])
def test_unknown_or_bad_derivative_names(derivs, cls, word):
    with pytest.raises(cls) as ei:
        ddx.compile("mlp:2-16-1:tanh", derivs=derivs)
    msg = str(ei.value)
    assert word in msg and "\n" not in msg and len(msg) < 600
    assert isinstance(ei.value, ValueError) or isinstance(ei.value, ddx.Error)


@pytest.mark.parametrize("name,cls,word", [
    ("refuse_relu", ddx.UnsupportedOpError, "Relu"),
    ("refuse_opset12", ddx.UnsupportedError, "opset 12"),
    ("refuse_dyndim", ddx.UnsupportedError, "dynamic"),
    ("refuse_int_input", ddx.UnsupportedError, "int64"),
    ("refuse_cycle", ddx.ParseError, "cycle"),
])
def test_unsupported_onnx(name, cls, word):
    path = os.path.join(FIXTURES, name + ".onnx")
    with pytest.raises(cls, match=word):
        ddx.compile(path, derivs="u")
    with open(path, "rb") as f:  # the in-memory entry refuses the same way
        with pytest.raises(cls, match=word):
            ddx.compile(f.read(), derivs="u")


def test_garbage_onnx_bytes():
    good = open(os.path.join(FIXTURES, "burgers_torch.onnx"), "rb").read()
    for data in (b"", b"\x00" * 100, b"not a model at all", good[: len(good) // 2], bytes(reversed(good))):
        with pytest.raises(ddx.Error):
            ddx.compile(data, derivs="u")


def test_missing_file_and_bad_spec():
    with pytest.raises(ddx.FileError, match="nowhere.onnx"):
        ddx.compile("/nowhere.onnx", derivs="u")
    with pytest.raises(ddx.ParseError):
        ddx.compile("mlp:2-x-1:tanh", derivs="u")
    with pytest.raises(ddx.ParseError):
        ddx.compile("rubbish", derivs="u")
    with pytest.raises(ddx.InvalidArgumentError):
        ddx.compile(12345, derivs="u")


def test_bad_options():
    with pytest.raises(ddx.InvalidArgumentError, match="precision"):
        ddx.compile("expr:x", derivs="u", precision="float16")
    with pytest.raises(ddx.InvalidArgumentError, match="device"):
        ddx.compile("expr:x", derivs="u", device="tpu")
    with pytest.raises(ddx.InvalidArgumentError):
        ddx.compile("expr:x", derivs="")
    with pytest.raises(ddx.InvalidArgumentError):
        ddx.compile("expr:x", derivs="u", threads=-1)
    assert ddx.compile("expr:x", derivs="u", precision=np.float64).precision == "float64"
    import pathlib

    p = ddx.compile(pathlib.Path(FIXTURES) / "burgers_torch.onnx", derivs=["u", "u_x"], inputs=("a", "x"))
    assert p.inputs == ("a", "x") and p.columns == ("u", "u_x")


def _have_gpu():
    try:
        return ddx.compile("expr:x", derivs="u", device="cuda").device == "cuda"
    except ddx.DeviceError:
        return False


def test_cuda_without_gpu():
    if _have_gpu():
        pytest.skip("a GPU is present: the refusal path cannot be reached")
    with pytest.raises(ddx.DeviceError) as ei:
        ddx.compile("mlp:2-16-1:tanh", derivs="u", device="cuda")
    assert isinstance(ei.value, ddx.NoDeviceError) and str(ei.value)
    assert ddx.compile("mlp:2-16-1:tanh", derivs="u", device="auto").device == "cpu"


class FakeCudaArray:
    """Anything with __cuda_array_interface__ (cupy, numba, torch CUDA)."""

    def __init__(self, shape, typestr="<f4"):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (0x7F0000000000, False),
                                         "version": 3, "strides": None}


def test_device_arrays_on_a_cpu_program(prog):
    with pytest.raises(ddx.DeviceError, match="CUDA memory"):
        prog(FakeCudaArray((8, 2)))


def test_torch_cuda_tensor():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    p = ddx.compile("mlp:2-16-1:tanh", derivs="u,u_x", device="cuda")
    x = torch.rand(1000, 2, device="cuda")
    y = p(x)
    assert y.device == x.device
    np.testing.assert_allclose(y.cpu().numpy(), p(x.cpu().numpy()), rtol=1e-5, atol=1e-6)


def test_torch_meta_tensor_is_refused(prog):
    torch = pytest.importorskip("torch")
    with pytest.raises(ddx.DeviceError, match="meta"):
        prog(torch.empty(4, 2, device="meta"))


def test_non_real_points_are_refused(prog):
    with pytest.raises(ValueError, match="real numbers"):
        prog(np.zeros((3, 2), np.complex64))
    with pytest.raises(ValueError, match="real numbers"):
        prog(np.array([["a", "b"]]))
    assert prog(np.ones((3, 2), np.int64)).shape == (3, 3)  # integers convert
