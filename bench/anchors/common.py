"""Shared pieces of the ddx peer benchmarks ("anchors").

Everything here is framework-neutral (numpy + stdlib): loading a ddx model
export, loading/making points, parsing the ddx derivative LIST syntax into
columns, the timing protocol, chunking, and the agreement check against a
ddx output .npy.  The JAX and PyTorch anchors import this module.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import operator
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("tanh", "sigmoid", "softplus", "silu", "sin", "none")

# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------


@dataclass
class Layer:
    W: np.ndarray  # (out, in) float64
    b: np.ndarray  # (out,)   float64
    activation: str


@dataclass
class Model:
    inputs: list
    outputs: list
    layers: list = field(default_factory=list)

    @property
    def d(self) -> int:
        return len(self.inputs)

    @property
    def m(self) -> int:
        return len(self.outputs)

    @property
    def widths(self) -> list:
        return [l.W.shape[0] for l in self.layers]


def load_model(model_dir: str) -> Model:
    """Read DIR/manifest.json (format ddx-mlp-1) and the .npy weights."""
    with open(os.path.join(model_dir, "manifest.json")) as fh:
        man = json.load(fh)
    fmt = man.get("format")
    if fmt != "ddx-mlp-1":
        raise ValueError(f"{model_dir}: unsupported manifest format {fmt!r}")
    inputs = list(man["inputs"])
    outputs = list(man["outputs"])
    layers = []
    fan_in = len(inputs)
    for i, spec in enumerate(man["layers"]):
        W = np.load(os.path.join(model_dir, spec["W"])).astype(np.float64)
        b = np.load(os.path.join(model_dir, spec["b"])).astype(np.float64).reshape(-1)  # ddx writes b as (out, 1)
        act = spec.get("activation", "none")
        if act not in ACTIVATIONS:
            raise ValueError(f"layer {i}: unknown activation {act!r}")
        if W.ndim != 2 or W.shape[1] != fan_in or b.shape != (W.shape[0],):
            raise ValueError(
                f"layer {i}: W{W.shape} b{b.shape} do not fit fan-in {fan_in}")
        layers.append(Layer(W, b, act))
        fan_in = W.shape[0]
    if fan_in != len(outputs):
        raise ValueError(f"last layer has {fan_in} outputs, manifest names {len(outputs)}")
    return Model(inputs, outputs, layers)


def default_input_names(d: int) -> list:
    """Input naming used by the benchmarks: x | t,x | x1..xd."""
    if d == 1:
        return ["x"]
    if d == 2:
        return ["t", "x"]
    return [f"x{i + 1}" for i in range(d)]


def parse_mlp_spec(spec: str):
    """'mlp:2-64-64-1:tanh' -> (sizes, activation)."""
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] != "mlp":
        raise ValueError(f"bad model spec {spec!r} (want mlp:D-H-...-M[:act])")
    sizes = [int(s) for s in parts[1].split("-")]
    act = parts[2] if len(parts) > 2 else "tanh"
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}")
    return sizes, act


def write_random_model(spec: str, out_dir: str, seed: int = 0,
                       activation: str | None = None, input_names=None) -> str:
    """Write a ddx-mlp-1 export with random (Xavier-ish) weights.

    Used by selfcheck.py and by compare.py --no-ddx; a real comparison uses
    `ddx export` so that ddx and the peers see the same weights.
    """
    sizes, act = parse_mlp_spec(spec)
    if activation is not None:
        act = activation
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    layers = []
    for i in range(len(sizes) - 1):
        fin, fout = sizes[i], sizes[i + 1]
        W = rng.normal(0.0, math.sqrt(2.0 / (fin + fout)) * 1.5, size=(fout, fin))
        b = rng.normal(0.0, 0.1, size=(fout,))
        np.save(os.path.join(out_dir, f"W{i}.npy"), W.astype(np.float64))
        np.save(os.path.join(out_dir, f"b{i}.npy"), b.astype(np.float64))
        last = i == len(sizes) - 2
        layers.append({"W": f"W{i}.npy", "b": f"b{i}.npy",
                       "activation": "none" if last else act})
    names = input_names or default_input_names(sizes[0])
    outs = ["u"] if sizes[-1] == 1 else [f"u{j + 1}" for j in range(sizes[-1])]
    man = {"format": "ddx-mlp-1", "inputs": names, "outputs": outs, "layers": layers}
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(man, fh, indent=1)
    return out_dir


def numpy_forward(model: Model, X: np.ndarray) -> np.ndarray:
    """Plain float64 numpy forward pass, (N, d) -> (N, m). For finite differences."""
    a = np.asarray(X, dtype=np.float64)
    for l in model.layers:
        z = a @ l.W.T + l.b
        a = numpy_act(l.activation, z)
    return a


def numpy_act(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "softplus":
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    if name == "silu":
        return z / (1.0 + np.exp(-z))
    if name == "sin":
        return np.sin(z)
    return z


# --------------------------------------------------------------------------
# Points
# --------------------------------------------------------------------------


def make_points(n: int, d: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Uniform [0,1]^d points, seeded (numpy PCG64)."""
    rng = np.random.default_rng(seed)
    return rng.random((n, d), dtype=np.float64).astype(dtype)


def load_points(path: str, d: int, n: int | None = None) -> np.ndarray:
    P = np.load(path, mmap_mode="r")
    if P.ndim == 1 and d == 1:
        P = P.reshape(-1, 1)
    if P.ndim != 2 or P.shape[1] != d:
        raise ValueError(f"{path}: shape {P.shape}, model wants N x {d}")
    if P.dtype not in (np.float32, np.float64):
        raise ValueError(f"{path}: dtype {P.dtype}, want float32 or float64")
    if n is not None:
        if n > P.shape[0]:
            raise ValueError(f"{path}: --n {n} > {P.shape[0]} rows")
        P = P[:n]
    return np.array(P)  # read into memory (writable, contiguous)


# --------------------------------------------------------------------------
# Derivative LIST syntax
# --------------------------------------------------------------------------
#
# A derivative of output o is a "partial": (o, idx) with idx a sorted tuple of
# input indices (() = the value itself).  Every column is either a partial, a
# sum of partials (laplacian) or an arithmetic expression over partials.


def split_top_level(text: str) -> list:
    """Split on commas that are not inside parentheses."""
    items, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in {text!r}")
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise ValueError(f"unbalanced '(' in {text!r}")
    items.append("".join(cur).strip())
    if any(not it for it in items):
        raise ValueError(f"empty item in derivative list {text!r}")
    return items


def _tokenize_suffix(suffix: str, inputs: list) -> tuple:
    """'tx' -> (0, 1) for inputs [t, x]; longest input name wins (x10 vs x1)."""
    names = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
    out, pos = [], 0
    while pos < len(suffix):
        for i in names:
            nm = inputs[i]
            if suffix.startswith(nm, pos):
                out.append(i)
                pos += len(nm)
                break
        else:
            raise ValueError(f"cannot read {suffix!r} as input names {inputs}")
    return tuple(sorted(out))


def name_to_partial(name: str, inputs: list, outputs: list):
    """'u' -> (0, ()), 'u_tx' -> (0, (0,1)); None if not a derivative name."""
    if name in outputs:
        return (outputs.index(name), ())
    if "_" in name:
        o, suffix = name.split("_", 1)
        if o in outputs and suffix:
            return (outputs.index(o), _tokenize_suffix(suffix, inputs))
    return None


@dataclass
class Column:
    label: str
    kind: str            # "partial" | "sum" | "expr"
    partials: tuple      # partials the column reads
    expr: object = None  # ast node for kind == "expr"


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub,
           ast.Mult: operator.mul, ast.Div: operator.truediv}


class DerivSpec:
    """Parsed derivative LIST: ordered columns + the set of partials needed."""

    def __init__(self, text: str, inputs: list, outputs: list):
        self.text = text
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.columns = []
        for item in split_top_level(text):
            self.columns.extend(self._parse_item(item))
        need = set()
        for c in self.columns:
            need.update(c.partials)
        self.partials = sorted(need, key=lambda p: (p[0], len(p[1]), p[1]))

    # -- parsing -------------------------------------------------------
    def _output_arg(self, item, fname):
        inner = item[len(fname) + 1:-1].strip()
        if inner not in self.outputs:
            raise ValueError(f"{item!r}: {inner!r} is not an output {self.outputs}")
        return self.outputs.index(inner), inner

    def _parse_item(self, item: str) -> list:
        d = len(self.inputs)
        for fname in ("grad", "hessian", "laplacian"):
            if item.startswith(fname + "(") and item.endswith(")") \
                    and item.count("(") == 1:
                o, oname = self._output_arg(item, fname)
                if fname == "grad":
                    return [Column(f"grad({oname})[{self.inputs[i]}]", "partial",
                                   ((o, (i,)),)) for i in range(d)]
                if fname == "hessian":
                    return [Column(f"hessian({oname})[{self.inputs[i]},{self.inputs[j]}]",
                                   "partial", ((o, tuple(sorted((i, j)))),))
                            for i in range(d) for j in range(d)]
                return [Column(f"laplacian({oname})", "sum",
                               tuple((o, (i, i)) for i in range(d)))]
        try:
            tree = ast.parse(item, mode="eval").body
        except SyntaxError as e:
            raise ValueError(f"cannot parse derivative item {item!r}: {e}") from None
        if isinstance(tree, ast.Name):
            p = name_to_partial(tree.id, self.inputs, self.outputs)
            if p is None:
                raise ValueError(f"unknown derivative {tree.id!r}")
            return [Column(item, "partial", (p,))]
        parts = set()
        self._check_expr(tree, parts, item)
        return [Column(item, "expr", tuple(sorted(parts)), tree)]

    def _check_expr(self, node, parts, item):
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check_expr(node.left, parts, item)
            self._check_expr(node.right, parts, item)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            self._check_expr(node.left, parts, item)
            if not (isinstance(node.right, ast.Constant)
                    and isinstance(node.right.value, int)):
                raise ValueError(f"{item!r}: only integer constant powers")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self._check_expr(node.operand, parts, item)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            pass
        elif isinstance(node, ast.Name):
            p = name_to_partial(node.id, self.inputs, self.outputs)
            if p is None:
                raise ValueError(f"{item!r}: unknown name {node.id!r}")
            parts.add(p)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "laplacian" and len(node.args) == 1
              and isinstance(node.args[0], ast.Name)
              and node.args[0].id in self.outputs):
            o = self.outputs.index(node.args[0].id)
            parts.update((o, (i, i)) for i in range(len(self.inputs)))
        else:
            raise ValueError(f"{item!r}: unsupported expression part "
                             f"{ast.dump(node)[:60]}")

    # -- evaluation ----------------------------------------------------
    @property
    def labels(self) -> list:
        return [c.label for c in self.columns]

    @property
    def max_order(self) -> int:
        return max((len(p[1]) for p in self.partials), default=0)

    def assemble(self, vals: dict, stack):
        """vals: partial -> array (batch,) ; returns stack([col...], axis=-1)."""
        cols = []
        for c in self.columns:
            if c.kind == "partial":
                cols.append(vals[c.partials[0]])
            elif c.kind == "sum":
                acc = vals[c.partials[0]]
                for p in c.partials[1:]:
                    acc = acc + vals[p]
                cols.append(acc)
            else:
                cols.append(self._eval(c.expr, vals))
        return stack(cols)

    def _eval(self, node, vals):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return self._eval(node.left, vals) ** node.right.value
            return _BINOPS[type(node.op)](self._eval(node.left, vals),
                                          self._eval(node.right, vals))
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, vals)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return vals[name_to_partial(node.id, self.inputs, self.outputs)]
        if isinstance(node, ast.Call):  # laplacian(o)
            o = self.outputs.index(node.args[0].id)
            acc = None
            for i in range(len(self.inputs)):
                v = vals[(o, (i, i))]
                acc = v if acc is None else acc + v
            return acc
        raise AssertionError(node)


# --------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------


def default_chunk(model: Model, spec: DerivSpec, precision: str, gpu: bool) -> int:
    """2^16 points per call, halved until a rough live-memory estimate fits.

    The estimate: every hidden unit keeps ~8 tensors alive per derivative
    "direction" (d + 2 of them for a Hessian-like workload, order+1 for a
    pure high-order one).  Budget 1 GiB on CPU, 4 GiB on GPU.
    """
    bytes_per = 8 if precision == "f64" else 4
    width = sum(model.widths) + model.d
    dirs = max(model.d + 2, spec.max_order + 1)
    budget = (4 << 30) if gpu else (1 << 30)
    chunk = 1 << 16
    while chunk > 256 and chunk * width * bytes_per * dirs * 8 > budget:
        chunk //= 2
    return chunk


def chunk_bounds(n: int, chunk: int) -> list:
    return [(s, min(s + chunk, n)) for s in range(0, n, chunk)]


def pad_chunks(P: np.ndarray, chunk: int) -> list:
    """Split P into equal-size chunks (the last padded by repeating its last
    row) so a jitted/compiled function sees one shape.  Returns
    [(array, valid_rows), ...]."""
    n = P.shape[0]
    if n <= chunk:
        return [(P, n)]
    out = []
    for s, e in chunk_bounds(n, chunk):
        c = P[s:e]
        if e - s < chunk:
            c = np.concatenate([c, np.repeat(c[-1:], chunk - (e - s), axis=0)])
        out.append((np.ascontiguousarray(c), e - s))
    return out


# --------------------------------------------------------------------------
# Timing protocol
# --------------------------------------------------------------------------


def time_fn(fn, repeats: int = 5, warmup: int = 1, sync=None, cuda_events=False,
            max_seconds: float | None = None) -> dict:
    """Time fn() `repeats` times after `warmup` untimed calls.

    sync(result) must block until the result is computed (jax:
    jax.block_until_ready; torch on cuda: torch.cuda.synchronize).  With
    cuda_events=True the interval is measured by CUDA events recorded on the
    current stream around the call (the host clock is not used).  With
    max_seconds, repeats stop early once the timed total exceeds it (at
    least one timed call is always made).
    Returns {"median_s", "min_s", "max_s", "times_s", "repeats"}.
    """
    sync = sync or (lambda r: r)
    for _ in range(max(0, warmup)):
        sync(fn())
    times = []
    total = 0.0
    if cuda_events:
        import torch
        for _ in range(max(1, repeats)):
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            r = fn()
            end.record()
            end.synchronize()
            sync(r)
            del r
            t = start.elapsed_time(end) / 1e3
            times.append(t)
            total += t
            if max_seconds is not None and total >= max_seconds:
                break
    else:
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            r = fn()
            sync(r)
            t = time.perf_counter() - t0
            del r
            times.append(t)
            total += t
            if max_seconds is not None and total >= max_seconds:
                break
    return {"median_s": statistics.median(times), "min_s": min(times),
            "max_s": max(times), "times_s": times, "repeats": len(times)}


def plan_run(t_chunk: float, n_chunks: int, repeats: int, max_seconds: float | None):
    """Decide (chunks_timed, repeats, warmup) so the measurement stays within
    max_seconds, given the measured warm time of one chunk."""
    if not max_seconds:
        return n_chunks, repeats, 1
    t_full = max(t_chunk * n_chunks, 1e-9)
    if t_full * (repeats + 1) <= max_seconds:
        return n_chunks, repeats, 1
    if t_full * repeats <= max_seconds:
        return n_chunks, repeats, 0
    if t_full <= max_seconds:
        return n_chunks, max(1, int(max_seconds // t_full)), 0
    return max(1, int(max_seconds // max(t_chunk, 1e-9))), 1, 0


# --------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------


def rel_errors(out: np.ndarray, ref: np.ndarray, labels: list) -> dict:
    """Max relative error per column: |a - r| / max(|r|, 1e-3 * colscale),
    colscale = max |r| over the column (1 if the column is all zero)."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.ndim == 1:
        ref = ref.reshape(-1, 1)
    if out.shape != ref.shape:
        raise ValueError(f"shape mismatch: peer {out.shape} vs reference {ref.shape}")
    res = {}
    for k in range(ref.shape[1]):
        r = ref[:, k]
        a = out[:, k]
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        if not np.isfinite(scale):
            res[labels[k]] = float("nan")
            continue
        if scale == 0.0:
            scale = 1.0
        denom = np.maximum(np.abs(r), 1e-3 * scale)
        err = np.abs(a - r) / denom
        res[labels[k]] = float(np.max(err)) if err.size else 0.0
    return res


def unique_labels(labels: list) -> list:
    seen, out = {}, []
    for l in labels:
        if l in seen:
            seen[l] += 1
            out.append(f"{l}#{seen[l]}")
        else:
            seen[l] = 0
            out.append(l)
    return out


# --------------------------------------------------------------------------
# CLI glue shared by both anchors
# --------------------------------------------------------------------------


def base_arg_parser(prog: str, methods: list, devices: list) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True, help="ddx export directory")
    ap.add_argument("--points", help="N x d .npy (float32/float64); "
                    "without it --n uniform [0,1]^d points are made (seed 0)")
    ap.add_argument("--n", type=int, help="use the first N points")
    ap.add_argument("--derivs", required=True, help="ddx derivative LIST")
    ap.add_argument("--precision", choices=["f32", "f64"], default="f32")
    ap.add_argument("--method", choices=methods, default=methods[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed full passes before timing (may be cut by --max-seconds)")
    ap.add_argument("--chunk", type=int, help="points per call (default: 2^16, "
                    "reduced for wide nets)")
    ap.add_argument("--max-seconds", type=float, default=60.0,
                    help="time budget for the timed passes; if one pass over N does "
                    "not fit, only the first chunks are timed (n_timed in the JSON)")
    ap.add_argument("--check", help="ddx output .npy (M x K); the peer evaluates "
                    "the first M points and reports max relative error per column")
    ap.add_argument("--json", help="write the summary JSON here")
    ap.add_argument("--out", help="also write the peer's own N x K result .npy")
    ap.add_argument("--device", choices=devices, default=devices[0])
    ap.add_argument("--label", help="free-form tag copied into the JSON")
    return ap


def summarize(args, system, method, n, n_timed, chunk, timing, first_call_s,
              errs, labels, extra) -> dict:
    pps = n_timed / timing["median_s"] if timing["median_s"] > 0 else float("inf")
    res = {
        "system": system, "method": method, "n": n, "n_timed": n_timed,
        "device": args.device, "precision": args.precision, "derivs": args.derivs,
        "columns": labels, "chunk": chunk,
        "median_s": timing["median_s"], "min_s": timing["min_s"],
        "max_s": timing["max_s"], "repeats": timing["repeats"],
        "points_per_s": pps, "first_call_s": first_call_s,
        "max_rel_err": errs,
        "worst_rel_err": (max(errs.values()) if errs else None),
    }
    if args.label:
        res["label"] = args.label
    res.update(extra)
    return res


def emit(res: dict, json_path: str | None):
    short = {k: res[k] for k in ("system", "method", "n", "n_timed", "median_s",
                                 "points_per_s", "worst_rel_err")}
    print(json.dumps(short))
    if json_path:
        d = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(d, exist_ok=True)
        with open(json_path, "w") as fh:
            json.dump(res, fh, indent=1)


def die(msg: str, code: int = 2):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


class Evaluator:
    """What an anchor implements; run_anchor() drives the protocol.

    prepare(list of np chunks) -> device-side handle (points moved to the
        device once, before timing, as ddx bench also does)
    run(handle) -> result (per-chunk outputs, left on the device)
    sync(result) -> blocks until result is computed
    to_numpy(result, valid_rows) -> (sum(valid_rows), K) float64 array
    cuda_events: time with CUDA events instead of the host clock
    """
    cuda_events = False

    def prepare(self, chunks):
        raise NotImplementedError

    def run(self, handle):
        raise NotImplementedError

    def sync(self, result):
        return result

    def to_numpy(self, result, valid_rows):
        raise NotImplementedError

    def info(self) -> dict:
        return {}


def evaluate_numpy(ev: Evaluator, P: np.ndarray, chunk: int) -> np.ndarray:
    """Evaluate all rows of P through ev, chunk by chunk, into numpy."""
    parts = []
    for s, e in chunk_bounds(P.shape[0], chunk):
        c = P[s:e]
        if e - s < chunk and P.shape[0] > chunk:
            c = np.concatenate([c, np.repeat(c[-1:], chunk - (e - s), axis=0)])
        h = ev.prepare([np.ascontiguousarray(c)])
        r = ev.run(h)
        ev.sync(r)
        parts.append(ev.to_numpy(r, [e - s]))
    return np.concatenate(parts, axis=0)


def run_anchor(args, system: str, make_evaluator):
    """The shared protocol. make_evaluator(model, spec, np_dtype) -> Evaluator."""
    model = load_model(args.model_dir)
    spec = DerivSpec(args.derivs, model.inputs, model.outputs)
    labels = unique_labels(spec.labels)
    np_dtype = np.float64 if args.precision == "f64" else np.float32
    if args.points:
        P = load_points(args.points, model.d, args.n)
    else:
        if not args.n:
            die("give --points or --n")
        P = make_points(args.n, model.d)
    P = P.astype(np_dtype, copy=False)
    n = P.shape[0]
    gpu = args.device in ("gpu", "cuda")
    chunk = args.chunk or default_chunk(model, spec, args.precision, gpu)
    chunk = min(chunk, n)

    ev = make_evaluator(model, spec, np_dtype)

    # compile / first call on one chunk, then one warm chunk to plan the budget
    chunks = pad_chunks(P, chunk)
    h1 = ev.prepare([chunks[0][0]])
    t0 = time.perf_counter()
    ev.sync(ev.run(h1))
    first_call_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev.sync(ev.run(h1))
    t_chunk = time.perf_counter() - t0
    del h1

    n_chunks, repeats, warmup = plan_run(t_chunk, len(chunks), args.repeat,
                                         args.max_seconds)
    warmup = args.warmup if warmup else 0
    timed = chunks[:n_chunks]
    n_timed = sum(v for _, v in timed)
    handle = ev.prepare([c for c, _ in timed])
    timing = time_fn(lambda: ev.run(handle), repeats=repeats, warmup=warmup,
                     sync=ev.sync, cuda_events=ev.cuda_events,
                     max_seconds=args.max_seconds)
    handle = None  # free the device copies

    errs = None
    if args.check:
        ref = np.load(args.check)
        if ref.ndim == 1:
            ref = ref.reshape(-1, 1)
        m = ref.shape[0]
        if m > n:
            die(f"--check has {m} rows but only {n} points were given")
        if ref.shape[1] != len(labels):
            die(f"--check has {ref.shape[1]} columns, {args.derivs!r} gives {len(labels)}")
        out = evaluate_numpy(ev, P[:m], min(chunk, m))
        errs = rel_errors(out, ref, labels)
    if args.out:
        np.save(args.out, evaluate_numpy(ev, P, chunk))

    extra = {"max_seconds": args.max_seconds, "truncated": n_timed < n,
             "warmup": warmup}
    extra.update(ev.info())
    res = summarize(args, system, args.method, n, n_timed, chunk, timing,
                    first_call_s, errs, labels, extra)
    emit(res, args.json)
    return res
