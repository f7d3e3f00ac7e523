"""A torch.nn.Module as ONNX bytes, in memory, for ddx's ONNX importer.

The legacy (TorchScript) exporter at opset 17 is used: it emits the plain
Gemm/MatMul/Tanh/... graph ddx reads, without the dynamo exporter's
extra dependencies. The module is exported as one input tensor ``x`` of
shape (N, d) and one output ``u`` (a width-m output gives u1..um)."""
from __future__ import annotations

import io
import warnings
from typing import Any, Optional, Sequence

from . import _errors


def _input_width(module: Any, inputs: Optional[Sequence[str]]) -> int:
    if inputs:
        return len(inputs)
    import torch

    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            return m.in_features
    raise _errors.InvalidArgumentError(
        "compile: cannot tell the input width of this module (no nn.Linear); pass inputs=[...]")


def module_to_onnx(module: Any, inputs: Optional[Sequence[str]]) -> bytes:
    import torch

    d = _input_width(module, inputs)
    params = list(module.parameters())
    dtype = params[0].dtype if params else torch.float32
    example = torch.zeros(2, d, dtype=dtype)
    buf = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), buf, input_names=["x"], output_names=["u"],
                              dynamic_axes={"x": {0: "N"}, "u": {0: "N"}}, opset_version=17, dynamo=False)
    except Exception as e:  # the exporter's own refusal, as a ddx error
        raise _errors.UnsupportedError(f"compile: torch.onnx.export failed: {type(e).__name__}: {e}") from e
    finally:
        module.train(was_training)
    return buf.getvalue()
