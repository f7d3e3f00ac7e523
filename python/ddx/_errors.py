"""Exceptions: one class per ddx_status of the C API, each carrying the
library's one-line message. All derive from :class:`ddx.Error`; those about
bad arguments also derive from ``ValueError`` (so ``except ValueError``
works as Python users expect), device problems from ``RuntimeError``."""
from __future__ import annotations

from . import _ddx


class Error(Exception):
    """Base class of every error ddx raises. ``status`` names the C status."""

    status = "DDX_ERR_INTERNAL"


class InvalidArgumentError(Error, ValueError):
    """A bad argument (count, option, pointer)."""

    status = "DDX_ERR_INVALID_ARG"


class ShapeError(Error, ValueError):
    """Widths or dimensions do not match (points of the wrong width, out of the wrong shape)."""

    status = "DDX_ERR_SHAPE"


class NotScalarError(Error, ValueError):
    """A derivative or output of a non-scalar node."""

    status = "DDX_ERR_NOT_SCALAR"


class UnknownNameError(Error, ValueError):
    """No input or output of that name (e.g. ``u_q`` when there is no input q)."""

    status = "DDX_ERR_UNKNOWN_NAME"


class ParseError(Error, ValueError):
    """Syntax of an expression, model spec, derivative list or file."""

    status = "DDX_ERR_PARSE"


class UnsupportedError(Error):
    """A valid request ddx does not do (an ONNX op, dtype or opset; host memory on a device path)."""

    status = "DDX_ERR_UNSUPPORTED"


UnsupportedOpError = UnsupportedError


class LimitError(Error, ValueError):
    """Order, inputs or size beyond a limit of the library."""

    status = "DDX_ERR_LIMIT"


class DeviceError(Error, RuntimeError):
    """A device API call failed, or arrays are on a device the program is not."""

    status = "DDX_ERR_DEVICE"


class NoDeviceError(DeviceError):
    """The device asked for (``device="cuda"``) is not present."""

    status = "DDX_ERR_NO_DEVICE"


class OutOfMemoryError(Error, MemoryError):
    status = "DDX_ERR_OUT_OF_MEMORY"


class FileError(Error, OSError):
    """A model file could not be read."""

    status = "DDX_ERR_IO"


class CompileError(Error, RuntimeError):
    """NVRTC or code generation failed."""

    status = "DDX_ERR_COMPILE"


class InternalError(Error, RuntimeError):
    status = "DDX_ERR_INTERNAL"


# index = ddx_status value (include/ddx.h order); 0 is DDX_OK
BY_STATUS = (Error, InvalidArgumentError, ShapeError, NotScalarError, UnknownNameError, ParseError,
             UnsupportedError, LimitError, NoDeviceError, OutOfMemoryError, FileError, CompileError,
             DeviceError, InternalError)
assert len(BY_STATUS) == _ddx.n_status, "ddx_status and ddx/_errors.py disagree"
_ddx.set_error_classes(BY_STATUS)

__all__ = [c.__name__ for c in BY_STATUS] + ["UnsupportedOpError"]
