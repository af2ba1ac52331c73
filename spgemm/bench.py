"""Benchmark of the native SpGEMM methods against scipy (and optional external libraries).

A library: ``run(specs)`` yields one record (a plain dict) per (matrix, method, accumulator,
threads) and never prints; ``summarize(records)`` gives geometric means per method. The
``smash bench`` command prints them. For each matrix, C = A·A (A·A^T when A is not square) is
computed by scipy's ``A @ B`` and by every selected method in the same run:

* the first call is timed apart (JIT compilation or cache load, first-touch page faults):
  ``compile_seconds`` = first call minus the steady-state time;
* steady state: ``repeats`` rounds; in each round scipy and every method are measured once,
  interleaved in a shuffled order, each measurement the mean of enough back-to-back calls to
  last ``min_time`` seconds (small products take microseconds); ``seconds`` is the median;
* ``gflops`` = 2 * multiply-adds / seconds / 1e9; ``speedup_vs_scipy`` = the median over rounds
  of scipy's time / ours in the same round (paired, so slow drifts of the machine cancel);
* ``verified``: the product has C's shape and dtype and its values equal scipy's within a
  tolerance (entries scipy dropped as exact zeros must be ~0).
"""
from __future__ import annotations

import math
import random
import statistics
import time
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Sequence

import numba
import numpy as np
import scipy.sparse as sp

from spgemm.api import multiply, symbolic
from spgemm.check import values_close
from spgemm.registry import METHODS, combinations

#: Inner products above this many multiply-adds are skipped by default (the method is a slow
#: baseline: its cost grows with nnz(C) x row lengths).
INNER_MAX_FLOPS = 5_000_000

RECORD_KEYS = ("matrix", "method", "accumulator", "threads", "seconds", "gflops",
               "speedup_vs_scipy", "verified", "compile_seconds", "flops", "nnz_c", "status",
               "note")


def default_threads() -> list[int]:
    """1 and all of numba's threads (deduplicated)."""
    return sorted({1, numba.config.NUMBA_NUM_THREADS})


def select_methods(names: Sequence[str] | None) -> list[tuple[str, str]]:
    """(method, accumulator) pairs from names like ``rowwise``, ``rowwise/hash``; None: all."""
    if not names:
        return combinations()
    out: list[tuple[str, str]] = []
    for name in names:
        method, _, acc = name.partition("/")
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r} (choose from: {', '.join(METHODS)})")
        m = METHODS[method]
        if acc:
            m.check_accumulator(acc)
            pairs = [(method, acc)]
        else:
            pairs = [(method, a) for a in m.accumulators]
        out.extend(p for p in pairs if p not in out)
    return out


def time_call(fn: Callable[[], Any], repeats: int, min_time: float) -> tuple[float, float, Any]:
    """(first-call seconds, median steady seconds per call, first result) of one callable."""
    t = _Timed(fn, min_time)
    for _ in range(max(1, repeats)):
        t.sample()
    return t.first, t.median, t.result


class _Timed:
    """A callable under measurement: first call timed apart, then calibrated samples."""

    def __init__(self, fn: Callable[[], Any], min_time: float) -> None:
        self.fn = fn
        t0 = time.perf_counter()
        self.result = fn()
        self.first = time.perf_counter() - t0
        t0 = time.perf_counter()
        fn()  # calibration call: enough calls per sample to last min_time
        est = max(time.perf_counter() - t0, 1e-7)
        self.number = max(1, int(math.ceil(min_time / est)))
        self.samples: list[float] = []

    def sample(self) -> float:
        fn, number = self.fn, self.number
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        s = (time.perf_counter() - t0) / number
        self.samples.append(s)
        return s

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _external_candidates(threads: Sequence[int]) -> list[tuple[str, int, Callable]]:
    """Optional libraries (the ``bench`` extra): (name, threads, make(A, B) -> call) triples."""
    out: list[tuple[str, int, Callable]] = []
    try:
        import graphblas as gb  # type: ignore[import-not-found]

        def make_gb(A, B, n):
            Ag, Bg = gb.io.from_scipy_sparse(A), gb.io.from_scipy_sparse(B)

            def call():
                gb.ss.config["nthreads"] = n
                return Ag.mxm(Bg, gb.semiring.plus_times).new()
            return call, lambda C: gb.io.to_scipy_sparse(C, format="csr")
        out.extend(("graphblas", n, make_gb) for n in threads)
    except Exception:  # not installed or not usable: leave it out
        pass
    try:
        _find_mkl()
        import sparse_dot_mkl as sdm  # type: ignore[import-not-found]

        def make_mkl(A, B, n):
            A2, B2 = sp.csr_matrix(A), sp.csr_matrix(B)

            def call():
                sdm.mkl_set_num_threads(n) if hasattr(sdm, "mkl_set_num_threads") else None
                return sdm.dot_product_mkl(A2, B2)
            return call, sp.csr_array
        out.extend(("mkl", n, make_mkl) for n in threads)
    except Exception:
        pass
    return out


def _find_mkl() -> None:
    """Point sparse_dot_mkl at the MKL runtime that pip's ``mkl`` wheel (the ``bench`` extra)
    installs into ``<prefix>/lib``, where the dynamic loader does not look: set ``MKL_RT`` for
    this process unless the user set it."""
    import glob
    import os
    import sys
    if "MKL_RT" in os.environ:
        return
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for pattern in ("libmkl_rt.so*", "libmkl_rt*.dylib", "mkl_rt*.dll"):
            found = sorted(glob.glob(os.path.join(prefix, "lib", pattern))
                           + glob.glob(os.path.join(prefix, "Library", "bin", pattern)))
            if found:
                os.environ["MKL_RT"] = found[-1]
                return


def bench_bytes(A: Any, B: Any, nnz_c: int, flops: int) -> int:
    """Estimated peak host memory of benchmarking C = A·B (bytes): scipy's product kept as the
    reference, one method's product and the comparison's temporaries (about six C's), plus the
    outer product's partial products when it runs."""
    val = np.result_type(A.dtype, B.dtype).itemsize
    return int(6 * nnz_c * (8 + val) + flops * (3 * 8 + 2 * val)
               + 4 * (A.nnz + B.nnz) * (8 + val) + 16 * (A.shape[0] + B.shape[0] + B.shape[1]))


def _record(matrix: str, method: str, accumulator: str, threads: int, **kw: Any) -> dict:
    rec: dict[str, Any] = {"matrix": matrix, "method": method, "accumulator": accumulator,
                           "threads": threads, "seconds": None, "gflops": None,
                           "speedup_vs_scipy": None, "verified": None, "compile_seconds": None,
                           "flops": None, "nnz_c": None, "status": "ok", "note": ""}
    rec.update(kw)
    return rec


def run(specs: Iterable[str], *, methods: Sequence[tuple[str, str]] | None = None,
        threads: Sequence[int] | None = None, repeats: int = 5, min_time: float = 0.02,
        inner_max_flops: int = INNER_MAX_FLOPS, sort_indices: bool = False,
        external: bool = True, loader: Callable[[str], Any] | None = None,
        namer: Callable[[str], str] | None = None,
        progress: Callable[..., None] | None = None) -> Iterator[dict[str, Any]]:
    """Benchmark C = A·A for each matrix spec; yields one record per measurement.

    specs: matrix specs (``matrices.load`` syntax; resolve sets/folders first with
    ``matrices.resolve``). methods: (method, accumulator) pairs (default: every registered
    pair). threads: thread counts (default 1 and all cores). inner_max_flops: skip the inner
    product above this many multiply-adds (a "skipped" record says so). external: include
    python-graphblas / sparse_dot_mkl when importable (pip's ``mkl`` wheel is found without
    environment variables). A matrix whose product would not fit in host memory gives one
    record with method "all" and status "skipped" (the note says why) and the run goes on.
    progress: called as progress(stage) before each matrix's steps. Records carry RECORD_KEYS.
    """
    from matrices import hostmem
    report = progress or (lambda *a, **k: None)
    if loader is None or namer is None:
        import matrices
        loader = loader or matrices.load
        namer = namer or matrices.canonical_name
    pairs = list(methods) if methods is not None else combinations()
    thread_list = list(threads) if threads else default_threads()
    for t in thread_list:
        if int(t) < 1:
            raise ValueError(f"thread counts must be positive, got {t}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    extras = _external_candidates(thread_list) if external else []
    for i, spec in enumerate(specs := list(specs)):
        name = namer(spec)
        report(f"bench {name} ({i + 1}/{len(specs)}): loading")
        A = sp.csr_array(loader(spec))
        try:
            if A.shape[0] != A.shape[1]:        # A^T as CSR: a row pointer per column of A
                hostmem.require(A.nnz * 16 + 8 * A.shape[1], f"A^T of {name}")
            B = A if A.shape[0] == A.shape[1] else sp.csr_array(A.T)
            report(f"bench {name} ({i + 1}/{len(specs)}): symbolic pass")
            sym = symbolic(A, B, threads=1)
            hostmem.require(bench_bytes(A, B, sym.nnz, sym.flops), f"benchmarking C = A·A of {name}")
        except hostmem.MemoryLimitError as exc:
            yield _record(name, "all", "-", 0, status="skipped", note=str(exc))
            continue
        flops = sym.flops
        report(f"bench {name} ({i + 1}/{len(specs)}): measuring")
        entries: list[tuple[str, str, int, Callable[[], Any], Callable[[Any], Any]]] = []
        skipped: list[dict[str, Any]] = []
        for method, acc in pairs:
            for t in thread_list:
                if method == "inner" and flops > inner_max_flops:
                    skipped.append(_record(name, method, acc, t, flops=flops, status="skipped",
                                           note=f"inner product skipped: {flops} multiply-adds"
                                                f" > inner_max_flops={inner_max_flops}"))
                    continue
                entries.append((method, acc, t, partial(multiply, A, B, method, acc,
                                                        sort_indices=sort_indices, threads=t),
                                _same))
        for lib, t, make in extras:
            try:
                call, to_csr = make(A, B, t)
            except Exception as exc:  # an optional library failing must not stop the run
                skipped.append(_record(name, lib, "-", t, flops=flops, status="error",
                                       note=str(exc)))
                continue
            entries.append((lib, "-", t, call, to_csr))
        yield from _measure_matrix(name, A, B, flops, entries, repeats, min_time)
        yield from skipped


def _same(C: Any) -> Any:
    return C


def _measure_matrix(name, A, B, flops, entries, repeats, min_time) -> Iterator[dict[str, Any]]:
    """Time scipy and every entry on one matrix, rounds interleaved so that machine noise
    (other processes, frequency changes) hits all of them alike."""

    def gflops(seconds: float) -> float:
        return 2.0 * flops / seconds / 1e9 if seconds > 0 else math.nan

    ref_t = _Timed(lambda: A @ B, min_time)
    ref = ref_t.result
    ref_t.result = None
    timers: list[_Timed | None] = []
    checks: list[tuple[bool, int] | str] = []
    for _, _, _, call, to_csr in entries:
        try:
            t = _Timed(call, min_time)
        except MemoryError:
            timers.append(None)
            checks.append("out of memory")
            continue
        C = to_csr(t.result)
        t.result = None  # keep one product at a time in memory
        ok = bool(C.shape == ref.shape and C.dtype == ref.dtype and values_close(C, ref))
        checks.append((ok, int(C.nnz)))
        del C
        timers.append(t)
    order = [ref_t] + [t for t in timers if t is not None]
    shuffle = random.Random(0).shuffle  # vary who runs after whom (caches, allocator state)
    for _ in range(max(1, repeats)):
        shuffle(order)
        for t in order:
            t.sample()
    ref_s = ref_t.median
    yield _record(name, "scipy", "-", 1, seconds=ref_s, gflops=gflops(ref_s),
                  speedup_vs_scipy=1.0, verified=True, compile_seconds=0.0, flops=flops,
                  nnz_c=int(ref.nnz))
    for (method, acc, threads, _, _), t, check in zip(entries, timers, checks):
        if t is None or isinstance(check, str):
            yield _record(name, method, acc, threads, flops=flops, status="error",
                          note=str(check))
            continue
        ok, nnz_c = check
        # speedup: median over rounds of the paired ratio (robust to slow drifts)
        ratio = statistics.median(r / s for r, s in zip(ref_t.samples, t.samples))
        yield _record(name, method, acc, threads, seconds=t.median, gflops=gflops(t.median),
                      speedup_vs_scipy=ratio, verified=ok,
                      compile_seconds=max(t.first - t.median, 0.0), flops=flops, nnz_c=nnz_c)


def geomean(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan


def summarize(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Geometric means per (method, accumulator, threads) over the matrices measured.

    Rows: method, accumulator, threads, matrices, geomean_speedup_vs_scipy, geomean_gflops,
    all_verified; then, per thread count, a ``rowwise (best)`` row taking for each matrix the
    fastest row-wise accumulator.
    """
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in records:
        if r.get("status") == "ok" and r.get("seconds"):
            groups.setdefault((r["method"], r["accumulator"], r["threads"]), []).append(r)
    out = []
    for (method, acc, t), rs in groups.items():
        out.append({"method": method, "accumulator": acc, "threads": t, "matrices": len(rs),
                    "geomean_speedup_vs_scipy": geomean(r["speedup_vs_scipy"] for r in rs),
                    "geomean_gflops": geomean(r["gflops"] for r in rs),
                    "all_verified": all(bool(r["verified"]) for r in rs)})
    best: dict[tuple[int, str], dict[str, Any]] = {}
    for (method, _, t), rs in groups.items():
        if method != "rowwise":
            continue
        for r in rs:
            key = (t, r["matrix"])
            if key not in best or r["speedup_vs_scipy"] > best[key]["speedup_vs_scipy"]:
                best[key] = r
    for t in sorted({t for t, _ in best}):
        rs = [r for (tt, _), r in best.items() if tt == t]
        out.append({"method": "rowwise (best)", "accumulator": "per matrix", "threads": t,
                    "matrices": len(rs),
                    "geomean_speedup_vs_scipy": geomean(r["speedup_vs_scipy"] for r in rs),
                    "geomean_gflops": geomean(r["gflops"] for r in rs),
                    "all_verified": all(bool(r["verified"]) for r in rs)})
    return out
