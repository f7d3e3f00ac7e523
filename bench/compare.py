#!/usr/bin/env python3
"""Compare ddx with its JAX and PyTorch peers ("anchors") on the benchmark
workloads and print one table.

  python3 bench/compare.py --ddx build/ddx --workloads W1,W2,W3,W4 \
      --n 1048576 --device cpu --repeat 5 --out /tmp/ddx_compare

For each workload: `ddx export` the model, make seeded uniform [0,1]^d float32
points, time `ddx bench`, get a float64 reference from `ddx eval` on the first
--check-n points, then time every available peer method (bench/anchors/*.py,
each in its own process, bounded by --max-seconds) and check it against the
reference.  Table: workload, N, device, system/method, points/s,
ddx/peer ratio, agreement (worst max relative error over the columns).

--sweep additionally times W1 for N = 2^10, 2^12, ..., 2^22 and writes JSON
lines (OUT/sweep.jsonl) for plotting.  --no-ddx runs the peers alone on a
random export (agreement then is against the first peer's float64 result).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = os.path.join(HERE, "anchors")
sys.path.insert(0, ANCHORS)
import numpy as np  # noqa: E402

import common  # noqa: E402

BURGERS = "u_t + u*u_x - 0.0031831*u_xx"

WORKLOADS = {
    "W1": {"model": "mlp:2-64-64-64-64-1:tanh", "derivs": "u,grad(u),hessian(u)",
           "precision": "f32",
           "jax": ["hessian", "jacfwd_jacrev"], "torch": ["func_hessian", "autograd"]},
    "W2": {"model": "mlp:2-64-64-64-64-1:tanh", "derivs": BURGERS,
           "precision": "f32",
           "jax": ["grad", "hessian"], "torch": ["autograd", "func_hessian"]},
    "W3": {"model": "mlp:10-256-256-256-1:tanh", "derivs": "laplacian(u)",
           "precision": "f32",
           "jax": ["hessian", "jet"], "torch": ["func_hessian", "autograd"]},
    "W4": {"model": "mlp:1-32-32-32-1:tanh", "derivs": "u,u_x,u_xx,u_xxx,u_xxxx",
           "precision": "f64",
           "jax": ["grad", "jet", "hessian"], "torch": ["autograd", "func_hessian"]},
}
ALL_METHODS = {"jax": ["hessian", "jacfwd_jacrev", "grad", "jet"],
               "torch": ["func_hessian", "autograd"]}
SWEEP_NS = [1 << k for k in range(10, 23, 2)]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout, what):
    """Run cmd; return (ok, stdout+stderr tail)."""
    log("  $ " + " ".join(_q(c) for c in cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"{what}: timed out after {timeout:.0f}s"
    except OSError as e:
        return False, f"{what}: {e}"
    tail = (p.stdout + p.stderr)[-1500:]
    if p.returncode != 0:
        return False, f"{what}: exit {p.returncode}: {tail}"
    return True, tail


def _q(s):
    return s if s and all(c.isalnum() or c in "-_./:=,^" for c in s) else repr(s)


# --------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------


def probe_peer(system, device):
    """(ok, why) for `system` usable on `device` in this interpreter."""
    if system == "jax":
        plat = "gpu" if device == "cuda" else "cpu"
        code = f"import jax; assert jax.devices('{plat}'), 'no {plat}'"
        env = dict(os.environ)
        if plat == "cpu":
            env.setdefault("JAX_PLATFORMS", "cpu")
    else:
        code = "import torch" + ("; assert torch.cuda.is_available(), 'no cuda'"
                                 if device == "cuda" else "")
        env = os.environ
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, timeout=300, env=env)
    except subprocess.TimeoutExpired:
        return False, "import timed out"
    if p.returncode == 0:
        return True, ""
    last = (p.stderr.strip().splitlines() or ["?"])[-1]
    return False, last


def install_peer(system, device):
    if system == "jax":
        pkgs = ["jax[cuda12]"] if device == "cuda" else ["jax"]
    else:
        pkgs = ["torch"]
    cmd = [sys.executable, "-m", "pip", "install", "--quiet"] + pkgs
    ok, tail = run(cmd, 3600, "pip install " + " ".join(pkgs))
    if not ok:
        log(tail)
    return ok


def peer_cmd(system, method, mdir, points, derivs, precision, device, args,
             json_path, n=None, check=None, out=None, repeat=None):
    script = os.path.join(ANCHORS, f"{system}_anchor.py")
    dev = ("gpu" if device == "cuda" else "cpu") if system == "jax" else device
    cmd = [sys.executable, script, "--model-dir", mdir, "--points", points,
           "--derivs", derivs, "--precision", precision, "--method", method,
           "--repeat", str(repeat or args.repeat), "--max-seconds", str(args.max_seconds),
           "--device", dev, "--json", json_path]
    if n:
        cmd += ["--n", str(n)]
    if args.chunk:
        cmd += ["--chunk", str(args.chunk)]
    if check:
        cmd += ["--check", check]
    if out:
        cmd += ["--out", out]
    return cmd


def peer_timeout(args):
    # budget for the timed passes, plus compile, the probe, the check and import
    return 3 * args.max_seconds + 600


# --------------------------------------------------------------------------
# ddx
# --------------------------------------------------------------------------


NUMPY_GEMM = r"""
import json, time, numpy as np
try:
    import threadpoolctl
    info = threadpoolctl.threadpool_info()
    blas = [i for i in info if i.get("user_api") == "blas"]
    core = ", ".join(f"{i.get('internal_api')} {i.get('architecture')}, {i.get('num_threads')} threads"
                     for i in blas)
except Exception:
    core = "?"
n = 2048
a = np.random.default_rng(0).random((n, n), dtype=np.float32)
best = 0.0
for r in range(4):
    t0 = time.perf_counter(); a @ a; t = time.perf_counter() - t0
    if r: best = max(best, 2.0 * n ** 3 / t / 1e9)
print(json.dumps({"gflops": best, "core": core}))
"""


def numpy_sgemm(args):
    """numpy's SGEMM rate (2048^3 float32, all cores) in a fresh process, so
    OPENBLAS_CORETYPE applies: the reference printed beside every table."""
    try:
        p = subprocess.run([sys.executable, "-c", NUMPY_GEMM], capture_output=True, text=True,
                           timeout=300)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        return r["gflops"], r["core"]
    except Exception as e:  # noqa: BLE001 - a missing reference is a note, not a failure
        return None, f"numpy SGEMM failed: {e}"


def ddx_bench(args, spec, derivs, n, points, precision, json_path):
    cmd = [args.ddx, "bench", "--model", spec, "--derivs", derivs, "--n", str(n),
           "--points", points, "--device", args.device, "--precision", precision,
           "--repeat", str(args.repeat), "--json", json_path]
    ok, tail = run(cmd, peer_timeout(args), "ddx bench")
    if not ok:
        return None, tail
    try:
        with open(json_path) as fh:
            r = json.load(fh)
    except (OSError, ValueError) as e:
        return None, f"ddx bench: cannot read {json_path}: {e}"
    if "points_per_s" not in r and r.get("median_s"):
        r["points_per_s"] = n / r["median_s"]
    return r, ""


def prepare_model(args, wname, w, wdir):
    mdir = os.path.join(wdir, "model")
    if args.no_ddx:
        common.write_random_model(w["model"], mdir, seed=sorted(WORKLOADS).index(wname))
        return mdir, ""
    ok, tail = run([args.ddx, "export", "--model", w["model"], "--out", mdir], 600,
                   "ddx export")
    return (mdir if ok else None), tail


def write_points(path, n, d, seed):
    if not os.path.exists(path):
        np.save(path, common.make_points(n, d, seed=seed, dtype=np.float32))
    return path


# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------


def fmt_rate(x):
    if x is None:
        return "-"
    return f"{x:.3e}"


def fmt_err(row):
    if row.get("status") != "ok":
        return row.get("status", "-")
    e = row.get("worst_rel_err")
    if row.get("is_ref"):
        return "reference"
    if e is None:
        return "n/a"
    col = row.get("worst_col")
    return f"{e:.1e}" + (f" ({col})" if col else "")


def print_table(rows, device_note):
    hdr = ["workload", "N", "device", "system/method", "points/s", "ddx/peer",
           "agreement (max rel err)"]
    lines = []
    for r in rows:
        ratio = "-"
        if r.get("ddx_pps") and r.get("points_per_s") and not r.get("is_ddx"):
            ratio = f"{r['ddx_pps'] / r['points_per_s']:.3g}"
        elif r.get("is_ddx") and r.get("points_per_s"):
            ratio = "1.00"
        lines.append([r["workload"], str(r["n"]), r["device"],
                      f"{r['system']}/{r['method']}" if r.get("method") else r["system"],
                      fmt_rate(r.get("points_per_s")), ratio, fmt_err(r)])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
              for i, h in enumerate(hdr)]
    out = []
    out.append("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
    out.append("  ".join("-" * w for w in widths))
    for l in lines:
        out.append("  ".join(c.ljust(w) for c, w in zip(l, widths)))
    if device_note:
        out.append(device_note)
    text = "\n".join(out)
    print(text)
    return text


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ddx", help="path to the ddx binary")
    ap.add_argument("--no-ddx", action="store_true",
                    help="peers only, on a random export (no ddx needed)")
    ap.add_argument("--workloads", default="W1,W2,W3,W4")
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--max-seconds", type=float, default=30.0,
                    help="time budget of one peer measurement (timed passes)")
    ap.add_argument("--check-n", type=int, default=4096,
                    help="rows checked against ddx eval (float64)")
    ap.add_argument("--chunk", type=int, help="points per call for the peers")
    ap.add_argument("--systems", default="jax,torch")
    ap.add_argument("--all-methods", action="store_true",
                    help="run every method of each peer, not just the usual ones")
    ap.add_argument("--install-peers", action="store_true",
                    help="pip install missing peers (jax, torch) from PyPI")
    ap.add_argument("--sweep", action="store_true",
                    help="also time W1 at N = 2^10..2^22 (x4 steps) -> OUT/sweep.jsonl")
    ap.add_argument("--sweep-ns", help="comma list overriding the sweep sizes")
    ap.add_argument("--cpu-isa", help="DDX_CPU_ISA for ddx (avx512, avx2, generic, neon)")
    ap.add_argument("--openblas-coretype",
                    help="OPENBLAS_CORETYPE for numpy's reference SGEMM and the peers "
                         "(e.g. Haswell beside --cpu-isa avx2)")
    ap.add_argument("--peer-isa", choices=["avx2"],
                    help="cap the peers' kernels too: ATEN_CPU_CAPABILITY=avx2 (PyTorch), "
                         "XLA_FLAGS=--xla_cpu_max_isa=AVX2 (JAX), so an AVX-512 machine "
                         "stands in for an AVX2 one on both sides")
    args = ap.parse_args()
    if args.peer_isa == "avx2":
        os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX2").strip()
    if args.cpu_isa:
        os.environ["DDX_CPU_ISA"] = args.cpu_isa
    if args.openblas_coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype

    if not args.no_ddx:
        if not args.ddx:
            ap.error("--ddx PATH is required (or --no-ddx for peers only)")
        if not (os.path.exists(args.ddx) or shutil.which(args.ddx)):
            ap.error(f"ddx binary {args.ddx!r} not found")
        args.ddx = os.path.abspath(args.ddx) if os.path.exists(args.ddx) else args.ddx
    wnames = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in wnames:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r} (have {', '.join(WORKLOADS)})")
    os.makedirs(args.out, exist_ok=True)

    # which peers can run
    systems = []
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in wanted:
        if s not in ALL_METHODS:
            ap.error(f"unknown peer system {s!r} (have {', '.join(ALL_METHODS)})")
    for s in wanted:
        ok, why = probe_peer(s, args.device)
        if not ok and args.install_peers:
            log(f"{s} not usable ({why}); installing")
            if install_peer(s, args.device):
                ok, why = probe_peer(s, args.device)
        if ok:
            systems.append(s)
        else:
            print(f"peer {s}: not available on {args.device} ({why}); "
                  f"skipped{'' if args.install_peers else ' (--install-peers to pip install it)'}")

    rows = []
    results_path = os.path.join(args.out, "results.json")

    def methods_for(w, s):
        return ALL_METHODS[s] if args.all_methods else w[s]

    for wi, wname in enumerate(wnames):
        w = WORKLOADS[wname]
        wdir = os.path.join(args.out, wname)
        os.makedirs(wdir, exist_ok=True)
        sizes, _ = common.parse_mlp_spec(w["model"])
        d = sizes[0]
        log(f"== {wname}: {w['model']}  {w['derivs']!r}  {w['precision']}  N={args.n}")
        base = {"workload": wname, "n": args.n, "device": args.device,
                "model": w["model"], "derivs": w["derivs"], "precision": w["precision"]}
        mdir, why = prepare_model(args, wname, w, wdir)
        if mdir is None:
            rows.append(dict(base, system="ddx", method="export", is_ddx=True,
                             status="export failed"))
            log(why)
            continue
        points = write_points(os.path.join(wdir, f"points_n{args.n}.npy"), args.n, d,
                              seed=1000 + sorted(WORKLOADS).index(wname))
        check_n = min(args.check_n, args.n)

        ddx_pps = None
        ref = os.path.join(wdir, "ref_f64.npy")
        ref_ok = False
        if not args.no_ddx:
            r, why = ddx_bench(args, w["model"], w["derivs"], args.n, points,
                               w["precision"], os.path.join(wdir, "ddx_bench.json"))
            if r is None:
                log(why)
                rows.append(dict(base, system="ddx", method="bench", is_ddx=True,
                                 status="bench failed"))
            else:
                ddx_pps = r.get("points_per_s")
                rows.append(dict(base, system="ddx", method="bench", is_ddx=True,
                                 is_ref=True, status="ok", points_per_s=ddx_pps,
                                 median_s=r.get("median_s"), raw=r))
            cpts = os.path.join(wdir, "check_points.npy")
            np.save(cpts, np.load(points)[:check_n])
            ok, why = run([args.ddx, "eval", "--model", w["model"], "--derivs",
                           w["derivs"], "--points", cpts, "--device", args.device,
                           "--precision", "f64", "--out", ref], 600, "ddx eval")
            ref_ok = ok and os.path.exists(ref)
            if not ref_ok:
                log(why)
                log("  (no ddx reference: agreement is against the first peer's f64 result)")
                for r in rows:
                    if r["workload"] == wname and r.get("is_ddx"):
                        r["is_ref"] = False
        ref_source = "ddx eval f64" if ref_ok else None
        if not ref_ok and systems:
            s0 = systems[0]
            m0 = methods_for(w, s0)[0]
            ok, why = run(peer_cmd(s0, m0, mdir, points, w["derivs"], "f64", args.device,
                                   args, os.path.join(wdir, "ref_peer.json"), n=check_n,
                                   out=ref, repeat=1),
                          peer_timeout(args), f"{s0} reference")
            ref_ok = ok and os.path.exists(ref)
            ref_source = f"{s0}/{m0} f64" if ref_ok else None
            if not ref_ok:
                log(why)

        for s in systems:
            for m in methods_for(w, s):
                js = os.path.join(wdir, f"{s}_{m}.json")
                ok, why = run(peer_cmd(s, m, mdir, points, w["derivs"], w["precision"],
                                       args.device, args, js,
                                       check=ref if ref_ok else None),
                              peer_timeout(args), f"{s}/{m}")
                row = dict(base, system=s, method=m, ddx_pps=ddx_pps,
                           ref_source=ref_source)
                if not ok:
                    log(why)
                    row["status"] = "failed" if "timed out" not in why else "timeout"
                    row["error"] = why
                else:
                    with open(js) as fh:
                        r = json.load(fh)
                    errs = r.get("max_rel_err") or {}
                    wc = max(errs, key=lambda k: errs[k]) if errs else None
                    row.update(status="ok", points_per_s=r["points_per_s"],
                               median_s=r["median_s"], n_timed=r["n_timed"],
                               worst_rel_err=r.get("worst_rel_err"),
                               worst_col=wc if len(errs) > 1 else None, raw=r)
                rows.append(row)
        with open(results_path, "w") as fh:
            json.dump(rows, fh, indent=1)

    sweep_rows = []
    if args.sweep:
        w = WORKLOADS["W1"]
        wdir = os.path.join(args.out, "sweep")
        os.makedirs(wdir, exist_ok=True)
        mdir, why = prepare_model(args, "W1", w, wdir)
        ns = [int(x) for x in args.sweep_ns.split(",")] if args.sweep_ns else SWEEP_NS
        sweep_path = os.path.join(args.out, "sweep.jsonl")
        with open(sweep_path, "w") as sf:
            for n in ns if mdir else []:
                log(f"== sweep W1 N={n}")
                points = write_points(os.path.join(wdir, f"points_n{n}.npy"), n, 2,
                                      seed=2000)
                entries = []
                ddx_pps = None
                if not args.no_ddx:
                    r, why = ddx_bench(args, w["model"], w["derivs"], n, points,
                                       w["precision"],
                                       os.path.join(wdir, f"ddx_bench_n{n}.json"))
                    if r is None:
                        log(why)
                    else:
                        ddx_pps = r.get("points_per_s")
                        entries.append({"system": "ddx", "method": "bench",
                                        "points_per_s": ddx_pps,
                                        "median_s": r.get("median_s"), "n_timed": n})
                for s in systems:
                    for m in methods_for(w, s):
                        js = os.path.join(wdir, f"{s}_{m}_n{n}.json")
                        ok, why = run(peer_cmd(s, m, mdir, points, w["derivs"],
                                               w["precision"], args.device, args, js),
                                      peer_timeout(args), f"{s}/{m}")
                        if not ok:
                            log(why)
                            entries.append({"system": s, "method": m, "status": "failed"})
                            continue
                        with open(js) as fh:
                            r = json.load(fh)
                        entries.append({"system": s, "method": m,
                                        "points_per_s": r["points_per_s"],
                                        "median_s": r["median_s"],
                                        "n_timed": r["n_timed"]})
                for e in entries:
                    rec = {"workload": "W1", "n": n, "device": args.device,
                           "precision": w["precision"], "time": time.time(), **e}
                    sf.write(json.dumps(rec) + "\n")
                    sf.flush()
                    sweep_rows.append(dict(rec, ddx_pps=ddx_pps,
                                           is_ddx=e["system"] == "ddx",
                                           is_ref=e["system"] == "ddx",
                                           status=e.get("status", "ok"),
                                           worst_rel_err=None))
        log(f"sweep: {sweep_path}")

    note = None
    if any(r.get("ref_source") and r["ref_source"] != "ddx eval f64" for r in rows):
        note = ("note: agreement is against a peer's own float64 result "
                "(no ddx reference was available)")
    truncated = [r for r in rows if r.get("raw", {}).get("truncated")]
    if truncated:
        msg = ("note: --max-seconds cut the measurement for " +
               ", ".join(f"{r['workload']} {r['system']}/{r['method']}"
                         f" (timed {r['n_timed']} of {r['n']} points)" for r in truncated))
        note = msg if note is None else note + "\n" + msg
    # the reference beside the table: numpy's SGEMM, same machine, same run
    gf, core = numpy_sgemm(args)
    ref = (f"reference: numpy SGEMM 2048^3 all cores = {gf:.1f} GFLOP/s ({core})"
           if gf else f"reference: {core}")
    if args.cpu_isa or args.openblas_coretype or args.peer_isa:
        ref += (f"; DDX_CPU_ISA={os.environ.get('DDX_CPU_ISA', '')} "
                f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')}"
                + (f" peers capped at {args.peer_isa}" if args.peer_isa else ""))
    for r in rows:
        raw = r.get("raw") or {}
        if r.get("is_ddx") and raw.get("gflops"):
            ref += (f"\n  {r['workload']} ddx ({raw.get('cpu_isa', '?')} kernels): "
                    f"{raw['gflops']:.1f} useful GFLOP/s"
                    + (f" = {100 * raw['gflops'] / gf:.0f}% of numpy SGEMM" if gf else "")
                    + (f", {100 * raw['ref_fraction']:.0f}% of {raw['ref_gemm']} in ddx bench"
                       if raw.get("ref_fraction") else ""))
    note = ref if note is None else ref + "\n" + note
    print()
    text = print_table(rows + [dict(r, worst_rel_err=None) for r in sweep_rows], note)
    with open(os.path.join(args.out, "table.txt"), "w") as fh:
        fh.write(text + "\n")
    with open(results_path, "w") as fh:
        json.dump(rows, fh, indent=1)
    failed = [r for r in rows if r.get("status") != "ok"]
    return 1 if failed and len(failed) == len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
