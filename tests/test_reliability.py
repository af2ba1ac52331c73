"""Reliability: what a researcher leaving runs unattended must be able to count on (issue 11).

One case per promise: bad inputs refused in one line before work starts, host-memory and work
guards that act before allocating, sweeps that survive failing points, dead workers and a
second sweep on the same file, files written whole, Ctrl-C exiting 130.
"""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

import matrices
from matrices import hostmem
from simulator.cli import main
from simulator.run import run_kernel

SMALL = "rmat:scale=6,ef=4"


def _one_line_error(res, needle: str, code: int = 1) -> None:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    lines = [l for l in res.output.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], res.output


def _mtx(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(f"%%MatrixMarket matrix coordinate {header}\n" + "\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# host memory


def test_memory_limit_env_and_message(monkeypatch):
    monkeypatch.setenv(hostmem.ENV_LIMIT, "1G")
    assert hostmem.available_bytes() <= 2**30
    with pytest.raises(hostmem.MemoryLimitError, match=r"needs about 2\.0 GiB .* 1\.0 GiB available\): try"):
        hostmem.require(2 * 2**30, "a thing", hint="try less")
    hostmem.require(2**20, "a small thing")
    monkeypatch.setenv(hostmem.ENV_LIMIT, "lots")
    with pytest.raises(ValueError, match="SMASH_MEMORY_LIMIT"):
        hostmem.available_bytes()


def test_generator_refused_before_allocating(monkeypatch):
    monkeypatch.setenv(hostmem.ENV_LIMIT, "64M")
    res = CliRunner().invoke(main, ["matrix", "info", "rmat:scale=20,ef=16", "--no-product"])
    _one_line_error(res, "rmat:scale=20,ef=16: generating")
    assert "of host memory" in res.output


def test_reading_a_file_refused_before_allocating(tmp_path, monkeypatch):
    p = _mtx(tmp_path / "big.mtx", "real general",
             ["1000 1000 50000"] + [f"{i % 1000 + 1} {i // 50 + 1} 1" for i in range(50000)])
    monkeypatch.setenv(hostmem.ENV_LIMIT, "1M")
    with pytest.raises(hostmem.MemoryLimitError, match="reading"):
        matrices.read_mtx(p)


def test_matrix_info_product_in_bounded_blocks(monkeypatch):
    import matrices.info as info
    monkeypatch.setattr(info, "BLOCK_ENTRIES", 500)      # many blocks on a small matrix
    for spec in ("rmat:scale=8,ef=8", "er:n=200,m=300,nnz_per_row=4"):
        A = matrices.load(spec)
        P = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
        Q = P if A.shape[0] == A.shape[1] else P.T.tocsr()
        assert info.matrix_info(A)["nnz_c"] == (P @ Q).nnz


def test_wide_matrix_product_refused_and_info_without_it(tmp_path, monkeypatch):
    """1 x 2e9 with 3 nonzeros: A·Aᵀ's operand would need a 16 GB row pointer."""
    p = _mtx(tmp_path / "wide.mtx", "real general", ["1 2000000000 3", "1 1 1", "1 5 2", "1 2000000000 3"])
    monkeypatch.setenv(hostmem.ENV_LIMIT, "8G")
    res = CliRunner().invoke(main, ["matrix", "info", str(p)])
    _one_line_error(res, "product statistics of wide needs about")
    res = CliRunner().invoke(main, ["matrix", "info", str(p), "--no-product", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["empty_cols"] == 2_000_000_000 - 3


def test_run_memory_guard_knobs_and_config():
    with pytest.raises(ValueError, match="knob load_factor: 1000000 is above the limit"):
        run_kernel("smash-v3", SMALL, preset="piuma-core", knobs={"load_factor": "1000000"})
    with pytest.raises(hostmem.MemoryLimitError, match="smash-v3 on rmat"):
        run_kernel("smash-v3", SMALL, preset="piuma-core", knobs={"load_factor": "64"},
                   memory_limit=2**20)
    t0 = time.perf_counter()
    with pytest.raises(hostmem.MemoryLimitError, match="host memory"):       # 1 TiB of cache
        run_kernel("outer", SMALL, preset="piuma-core", overrides=["cache.size_bytes=1099511627776"])
    assert time.perf_counter() - t0 < 30


def test_run_memory_guard_sizes_c_exactly_when_its_bounds_straddle_the_limit():
    """C's upper bound (min(flops, columns) per row) is far above the truth on R-MAT: a run
    the cheap bound would refuse but the exact symbolic pass admits goes on; a limit below
    the exact need still refuses it, naming that need."""
    from simulator.machine.config import load_config
    from simulator.programs import get_kernel
    from simulator.programs.base import Operands
    from simulator.run import bound_operands, host_memory_bytes

    spec, kernel = "rmat:scale=10,ef=16", "rowwise-hash"
    cfg = load_config("piuma-core")
    kn = get_kernel(kernel).resolve_knobs({})
    lo, hi = bound_operands(matrices.load(spec), matrices.load(spec))
    need = [host_memory_bytes(kernel, kn, o, cfg) for o in (lo, Operands.build(lo.A, lo.B), hi)]
    assert need[0] < need[1] < need[2]
    between = int((need[1] + need[2]) / 2 / hostmem.HEADROOM)
    steps = []
    rec = run_kernel(kernel, spec, preset="piuma-core", memory_limit=between,
                     progress=lambda *a, **k: steps.append(a))
    assert rec["verified"] and any("to size C" in str(s) for s in steps)
    below = int((need[0] + need[1]) / 2 / hostmem.HEADROOM)
    with pytest.raises(hostmem.MemoryLimitError, match=f"{kernel} on rmat"):
        run_kernel(kernel, spec, preset="piuma-core", memory_limit=below)


def test_smash_host_c_is_exact_and_the_guard_counts_its_host_arrays(monkeypatch):
    """SMASH with bound sizes and atomic offsets claims min(flops, columns) per row in the
    simulated C, but its host copy holds each row at its exact place (C's nonzeros, not the
    bound); its host tables (a scratchpad's table per window in flight) stay within the guard's
    share for them, and the guard's estimate covers C, the tables and the trace arena."""
    from simulator.machine.config import load_config
    from simulator.programs import get_kernel, smash
    from simulator.programs.base import Operands
    from simulator.run import bound_operands, host_memory_bytes, smash_host_tables_bytes

    seen = {"c": 0, "tables": 0}
    take, output = smash._HostTables.take, smash.KernelOutput

    def counted_take(self):
        h = take(self)
        seen["tables"] = max(seen["tables"], sum(a.nbytes for a in self.arrays()))
        return h

    def counted_output(*args, **kwargs):
        out = output(*args, **kwargs)
        seen["c"] = out.c_idx.nbytes + out.c_val.nbytes
        return out
    monkeypatch.setattr(smash._HostTables, "take", counted_take)
    monkeypatch.setattr(smash, "KernelOutput", counted_output)
    kernel, spec, preset = "smash-v3", "rmat:scale=9,ef=16", "piuma-node"
    kn = get_kernel(kernel).resolve_knobs({})
    assert kn["sizes"] == "bound" and kn["offsets"] == "atomic"
    rec = run_kernel(kernel, spec, preset=preset, overrides=["dies=2"])
    A = matrices.load(spec)
    exact = Operands.build(A, A)
    _, hi = bound_operands(A, A)
    assert rec["verified"] and hi.nnz_c > 1.2 * exact.nnz_c
    assert seen["c"] == 12 * exact.nnz_c            # int32 column indices, float64 values
    cfg = load_config(preset, ["dies=2"])
    guard = host_memory_bytes(kernel, kn, exact, cfg)
    assert 0 < seen["tables"] <= smash_host_tables_bytes(kn, exact.sym.row_flops, A.shape[1], cfg)
    assert guard >= seen["c"] + seen["tables"] + 2 * (1 << 22) * 16


# ---------------------------------------------------------------------------------------------
# cheap, visible guards


def test_the_guard_counts_smash_task_plan(monkeypatch):
    """SMASH's task plan grows with the multiply-adds (51.6 M tasks, 2.5 GB at R-MAT 18): the
    guard's share for it covers the plan at its largest, when the spill-slice expansion holds
    the joined table, its stages, their expansion and the index (about 1.3 bytes a multiply-add
    on R-MAT 13, 2.1 at 18; the guard counts SMASH_PLAN_BYTES_PER_FLOP)."""
    from simulator.machine import Simulation
    from simulator.machine.config import load_config
    from simulator.programs import get_kernel, smash
    from simulator.programs.base import Operands
    from simulator.run import SMASH_PLAN_BYTES_PER_FLOP

    class Planned(Exception):
        pass

    seen = {}
    expand = smash._expand_spill_slices

    def measured(TK, stage, bounds, SS):
        out = expand(TK, stage, bounds, SS)
        seen["bytes"] = (TK.nbytes + stage.nbytes + out[0].nbytes + out[1].nbytes
                         + 8 * out[0].shape[0])
        return out

    def stop(*args, **kwargs):
        raise Planned
    monkeypatch.setattr(smash, "_expand_spill_slices", measured)
    monkeypatch.setattr(smash, "_run_numeric", stop)
    A = matrices.load("rmat:scale=13,ef=16")
    ops = Operands.build(A, A)
    k = get_kernel("smash-v3")
    with pytest.raises(Planned):
        k.run(Simulation(load_config("piuma-die")), ops, k.resolve_knobs({}))
    assert 0 < seen["bytes"] <= SMASH_PLAN_BYTES_PER_FLOP * ops.flops / 2


def test_work_guard_needs_no_symbolic_pass(monkeypatch):
    import simulator.programs.base as base
    import simulator.run as run

    def no_pass(*a, **k):
        raise AssertionError("the exact symbolic pass ran before the work guard")
    monkeypatch.setattr(base.Operands, "build", classmethod(lambda cls, *a, **k: no_pass()))
    with pytest.raises(ValueError, match="simulated operations, above the budget"):
        run.run_kernel("outer", "rmat:scale=10,ef=16", preset="piuma-core", max_ops=10_000)


def test_bounds_bracket_the_exact_estimate():
    from simulator.programs import Operands
    from simulator.run import bound_operands, estimate_ops
    for spec in ("rmat:scale=9,ef=8", "poisson2d:n=20", "er:n=300,m=500,nnz_per_row=4"):
        A = matrices.load(spec)
        B = A if A.shape[0] == A.shape[1] else A.T
        lo, hi = bound_operands(A, B)
        exact = Operands.build(A, B)
        assert lo.nnz_c <= exact.nnz_c <= hi.nnz_c and lo.flops == exact.flops
        for k in ("inner", "outer", "smash-v1", "smash-v3"):
            assert estimate_ops(k, lo) <= estimate_ops(k, exact) <= estimate_ops(k, hi)


def test_progress_reported_through_a_callback():
    stages = []
    run_kernel("outer", SMALL, preset="piuma-core",
               progress=lambda stage, done=None, total=None: stages.append((stage, done, total)))
    names = [s for s, _, _ in stages]
    assert any(n.startswith("symbolic pass") for n in names)
    assert any(n == "verifying C against scipy" for n in names)
    sim = [(d, t) for s, d, t in stages if s.startswith("simulating phase")]
    assert sim and all(0 <= d <= t for d, t in sim)


def test_progress_line_only_on_a_terminal_and_after_the_delay():
    import io
    from simulator.cli._common import Progress
    buf = io.StringIO()
    with Progress(delay=0, stream=buf, enabled=True) as p:
        p("simulating phase rows", 5, 10)
        assert "simulating phase rows" in p.line() and "50%" in p.line()
    assert "simulating phase rows" in buf.getvalue() and buf.getvalue().endswith("\r")
    quiet = io.StringIO()
    with Progress(delay=0, stream=quiet) as p:         # StringIO is not a terminal
        p("symbolic pass")
    assert quiet.getvalue() == ""
    late = io.StringIO()
    with Progress(delay=60, stream=late, enabled=True) as p:
        p("symbolic pass")
    assert late.getvalue() == ""


# ---------------------------------------------------------------------------------------------
# inputs


def test_non_finite_config_values_refused(tmp_path):
    for item in ("clock_ghz=nan", "dram.controller_latency_ns=nan", "spad.latency_cycles=inf"):
        res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", SMALL, "--preset", "piuma-core",
                                        "--set", item, "--out", ""])
        _one_line_error(res, "must be a finite number")
    toml = tmp_path / "m.toml"
    toml.write_text(CliRunner().invoke(main, ["config", "show", "piuma-core"]).output
                    .replace("clock_ghz = 1.0", "clock_ghz = nan"))
    res = CliRunner().invoke(main, ["config", "show", str(toml)])
    _one_line_error(res, "clock_ghz: must be a finite number")


@pytest.mark.parametrize("header, lines, needle", [
    ("complex general", ["2 2 2", "1 1 1 2", "2 2 3 4"], "complex values"),
    ("real general", ["2 2 2", "1 1 nan", "2 2 3"], "1 non-finite values"),
    ("real general", ["2 2 3", "1 1 1e300", "1 2 1e300", "2 2 1"], "could overflow float64"),
])
def test_run_refuses_values_it_cannot_verify(tmp_path, header, lines, needle):
    p = _mtx(tmp_path / "m.mtx", header, lines)
    res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", str(p), "--preset", "piuma-core",
                                    "--out", ""])
    _one_line_error(res, needle)


def test_verification_error_is_one_line(monkeypatch):
    import spgemm
    monkeypatch.setattr(spgemm, "compare_csr", lambda *a, **k: False)
    res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", SMALL, "--preset", "piuma-core",
                                    "--out", ""])
    _one_line_error(res, "simulated C differs from scipy's")
    assert "a bug in the model" in res.output


def test_summary_names_the_product_and_labels_phases():
    A = sp.random(30, 50, density=0.1, format="csr", random_state=1)
    from simulator.cli.kernel_cmds import summary
    text = summary(run_kernel("rowwise-hash", A, preset="piuma-core"))
    assert "C = A·Aᵀ (A is not square)" in text
    assert "phases: rows" in text and " cycles" in text.split("phases:")[1]


# ---------------------------------------------------------------------------------------------
# files and Ctrl-C


def test_ctrl_c_exits_130_with_one_line(monkeypatch):
    import simulator.cli.kernel_cmds as kc

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(kc, "run_kernel", interrupted)
    res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", SMALL, "--out", ""])
    assert res.exit_code == 130 and "interrupted" in res.output and "Aborted" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_out_checked_before_the_run(tmp_path, monkeypatch):
    import simulator.cli.kernel_cmds as kc

    def never(*a, **k):
        raise AssertionError("ran before checking --out")
    monkeypatch.setattr(kc, "run_kernel", never)
    res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", SMALL, "--out", str(tmp_path)])
    _one_line_error(res, "is a directory")


def test_matrix_written_whole_and_gzip_fast(tmp_path, monkeypatch):
    A = matrices.load(SMALL)
    out = tmp_path / "A.mtx.gz"
    matrices.write_mtx(out, A)
    assert out.read_bytes()[8] == 4            # gzip XFL: fastest compression
    assert (matrices.read_mtx(out) != A).nnz == 0
    import scipy.io

    def torn(fh, *a, **k):
        fh.write(b"%%MatrixMarket matrix coordinate real general\n")
        raise KeyboardInterrupt
    monkeypatch.setattr(scipy.io, "mmwrite", torn)
    target = tmp_path / "C.mtx"
    with pytest.raises(KeyboardInterrupt):
        matrices.write_mtx(target, A)
    assert not target.exists() and list(tmp_path.iterdir()) == [out]


# ---------------------------------------------------------------------------------------------
# sweeps that survive

from simulator.sweep import (Experiment, Point, ResultsFile, ResultsFileBusy,  # noqa: E402
                             WorkerPool, read_records, run_point, run_sweep)


def test_failing_point_becomes_an_error_record(monkeypatch):
    import simulator.run as run
    from simulator.run import VerificationError

    def broken(*a, **k):
        raise VerificationError("outer: simulated C differs from scipy's A @ B")
    monkeypatch.setattr(run, "run_kernel", broken)
    rec = run_point(Point(SMALL, "outer", preset="piuma-core"))
    assert rec["status"] == "error" and rec["error"].startswith("VerificationError: outer")
    monkeypatch.setattr(run, "run_kernel", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    assert run_point(Point(SMALL, "outer", preset="piuma-core"))["error"] == "out of memory"


def test_killed_worker_costs_only_its_point():
    # The first point is small, the rest large: when its record arrives the other worker is
    # early in a large point, so it cannot finish between the pick and the kill (with equal
    # points both workers finished together and the kill could hit an idle worker).
    pts = [Point(f"er:n={n},nnz_per_row=16", "smash-v1", preset="piuma-core")
           for n in (300, 3001, 3002, 3003, 3004)]
    with WorkerPool(2) as pool:
        it = pool.map(pts)
        recs = [next(it)]
        victim = next(w for w in pool.workers if w.point is not None)
        key = victim.point.key
        os.kill(victim.proc.pid, signal.SIGKILL)
        recs += list(it)
    assert sorted(r["point_key"] for r in recs) == sorted(p.key for p in pts)
    bad = [r for r in recs if r["status"] == "error"]
    assert len(bad) == 1 and "worker process died (SIGKILL" in bad[0]["error"]
    assert bad[0]["point_key"] == key
    assert all(r["status"] == "ok" for r in recs if r not in bad)


def test_workers_exit_when_their_parent_dies(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import sys
        from simulator.sweep import Point, WorkerPool
        pts = [Point("rmat:scale=6,ef=4", "outer", preset="piuma-core")] + [
            Point(f"er:n={n},nnz_per_row=32", "smash-v1", preset="piuma-die") for n in (9000, 9001)]
        with WorkerPool(2) as pool:
            it = pool.map(pts)
            next(it)
            print(" ".join(str(w.proc.pid) for w in pool.workers), flush=True)
            list(it)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert len(pids) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids)
    finally:
        proc.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "zombie" not in fh.read()
    except FileNotFoundError:
        return False


def test_results_file_locked_against_a_second_sweep(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"point_key": "x", "status": "ok"}\n')
    with ResultsFile(out, "resume"):
        with pytest.raises(ResultsFileBusy, match="in use by another smash sweep"):
            run_sweep([Point(SMALL, "outer", preset="piuma-core")], out, overwrite=True)
        assert out.read_text() == '{"point_key": "x", "status": "ok"}\n'   # not truncated
        res = CliRunner().invoke(main, ["sweep", "-m", SMALL, "-k", "outer", "--preset",
                                        "piuma-core", "-o", str(out), "--resume"])
        _one_line_error(res, "in use by another smash sweep")
        res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", SMALL, "--preset",
                                        "piuma-core", "--out", str(out)])
        assert res.exit_code == 1 and "in use" in res.output


def test_contradictory_flags_refused(tmp_path):
    with pytest.raises(ValueError, match="contradict"):
        run_sweep([], tmp_path / "x.jsonl", resume=True, overwrite=True)
    base = ["sweep", "-m", SMALL, "-k", "outer", "-o", str(tmp_path / "o.jsonl")]
    for extra in (["--resume", "--overwrite"], ["-j", "2", "--dask", "tcp://127.0.0.1:1"]):
        res = CliRunner().invoke(main, base + extra)
        assert res.exit_code == 2 and "contradict" in res.output


def test_knob_grid_validated_up_front_and_applied_where_it_exists(tmp_path):
    for bad, needle in (("chunk=256,x", "knobs.chunk"),
                        ("load_factor=2,1000", "above the limit")):
        res = CliRunner().invoke(main, ["sweep", "-m", SMALL, "-k", "smash-v1", "--knob", bad,
                                        "-o", str(tmp_path / "k.jsonl")])
        _one_line_error(res, needle)
        assert not (tmp_path / "k.jsonl").exists() or not (tmp_path / "k.jsonl").read_text()
    exp = Experiment(matrices=[SMALL], kernels=["inner", "smash-v1"], presets=["piuma-core"],
                     knobs={"table_slots": [256, 512]})
    exp.validate()
    kernels = [p.kernel for p in exp.points()]
    assert kernels.count("inner") == 1 and kernels.count("smash-v1") == 2


def test_sweep_exit_status_counts_failed_points(tmp_path):
    nan = _mtx(tmp_path / "nan.mtx", "real general", ["2 2 2", "1 1 nan", "2 2 3"])
    res = CliRunner().invoke(main, ["sweep", "-m", SMALL, "-m", str(nan), "-k", "outer",
                                    "-k", "smash-v1", "--preset", "piuma-core", "-j", "1",
                                    "-o", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 2, res.output
    recs = read_records(tmp_path / "s.jsonl")
    assert sorted(r["status"] for r in recs) == ["error", "error", "ok", "ok"]


def test_unattended_sweep_bad_matrix_killed_worker_second_sweep(tmp_path):
    """The issue's acceptance case, end to end through the command line."""
    nan = _mtx(tmp_path / "nan.mtx", "real general", ["2 2 2", "1 1 nan", "2 2 3"])
    out = tmp_path / "u.jsonl"
    smash = [sys.executable, "-c", "from simulator.cli import main; main()"]
    args = smash + ["sweep", "-m", "er:n=6000,nnz_per_row=16", "-m", "er:n=6001,nnz_per_row=16",
                    "-m", str(nan), "-k", "outer", "-k", "smash-v1", "-k", "smash-v3",
                    "--preset", "piuma-core", "-j", "2", "-o", str(out)]
    first = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        workers = _wait_for_children(first.pid, 2, timeout=120)
        second = subprocess.run(args[:-2] + ["-o", str(out), "--resume"], capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 1 and "in use by another smash sweep" in second.stderr
        os.kill(workers[0], signal.SIGKILL)
        _, err = first.communicate(timeout=300)
    finally:
        first.kill()
    recs = read_records(out)
    assert len(recs) == 9 and len({r["point_key"] for r in recs}) == 9
    bad = [r for r in recs if r["status"] == "error"]
    assert sum("non-finite" in r["error"] for r in bad) == 3
    died = [r for r in bad if "worker process died" in r["error"]]
    assert len(died) <= 1 and len(bad) == 3 + len(died)
    assert first.returncode == len(bad), err
    assert all(r["verified"] for r in recs if r["status"] == "ok")


def _wait_for_children(pid: int, n: int, timeout: float) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            kids = [int(x) for f in Path(f"/proc/{pid}/task").glob("*/children")
                    for x in f.read_text().split()]
        except FileNotFoundError:
            kids = []
        if len(kids) >= n:
            time.sleep(1.0)          # let them start a point
            return kids
        time.sleep(0.2)
    raise AssertionError("the sweep did not start its workers")


# ---------------------------------------------------------------------------------------------
# native multiply and bench


def _arrow(path: Path, n: int) -> Path:
    """A dense first row and column plus the diagonal: nnz(A) ~ 3n, nnz(A·A) = n^2."""
    lines = [f"{n} {n} {3 * n - 2}"] + [f"{i} {i} 1" for i in range(1, n + 1)]
    lines += [f"1 {i} 1\n{i} 1 1" for i in range(2, n + 1)]
    return _mtx(path, "real general", lines)


def test_multiply_memory_guard_and_output_checked_first(tmp_path, monkeypatch):
    arrow = _arrow(tmp_path / "arrow.mtx", 3000)
    monkeypatch.setenv(hostmem.ENV_LIMIT, "64M")
    res = CliRunner().invoke(main, ["multiply", str(arrow), str(arrow)])
    _one_line_error(res, "nnz(C) 9000000")
    monkeypatch.delenv(hostmem.ENV_LIMIT)
    import spgemm
    monkeypatch.setattr(spgemm, "multiply", lambda *a, **k: pytest.fail("multiplied first"))
    res = CliRunner().invoke(main, ["multiply", SMALL, SMALL, "-o", str(tmp_path / "no" / "C.mtx")])
    _one_line_error(res, "--output: no such directory")


def test_bench_nan_aware_skips_what_does_not_fit_and_fails_on_wrong_products(tmp_path, monkeypatch):
    nan = _mtx(tmp_path / "nan.mtx", "real general", ["3 3 4", "1 1 nan", "2 2 3", "3 1 1", "1 3 2"])
    args = ["bench", str(nan), "--threads", "1", "--repeats", "1", "--min-time", "0",
            "--method", "rowwise/dense", "--no-external", "--json", "-"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    recs = json.loads(res.output[res.output.index("["):])
    assert all(r["verified"] for r in recs if r["status"] == "ok")
    arrow = _arrow(tmp_path / "arrow.mtx", 3000)
    monkeypatch.setenv(hostmem.ENV_LIMIT, "64M")
    res = CliRunner().invoke(main, ["bench", str(arrow), str(nan)] + args[2:])
    assert res.exit_code == 0, res.output
    recs = json.loads(res.output[res.output.index("["):])
    skipped = [r for r in recs if r["status"] == "skipped"]
    assert [r["matrix"] for r in skipped] == ["arrow"] and "host memory" in skipped[0]["note"]
    assert any(r["matrix"] == "nan" and r["status"] == "ok" for r in recs)
    monkeypatch.delenv(hostmem.ENV_LIMIT)
    import spgemm.bench as nb
    monkeypatch.setattr(nb, "values_close", lambda *a, **k: False)
    res = CliRunner().invoke(main, ["bench", SMALL] + args[2:-2])
    assert res.exit_code == 1 and "differ from scipy's" in res.output
    res = CliRunner().invoke(main, ["bench", SMALL, "--json", "-", "--csv", "-"])
    assert res.exit_code == 2 and "stdout" in res.output


def test_bench_finds_pip_mkl_without_environment_variables(tmp_path, monkeypatch):
    import spgemm.bench as nb
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libmkl_rt.so.3").write_bytes(b"")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.delenv("MKL_RT", raising=False)
    nb._find_mkl()
    assert os.environ["MKL_RT"] == str(tmp_path / "lib" / "libmkl_rt.so.3")
    monkeypatch.setenv("MKL_RT", "/mine/libmkl_rt.so")
    nb._find_mkl()
    assert os.environ["MKL_RT"] == "/mine/libmkl_rt.so"     # the user's choice wins


# ---------------------------------------------------------------------------------------------
# plots keyed by configuration, readable, sampled points marked

from simulator import plots  # noqa: E402


def _prec(matrix, kernel, cycles, preset="piuma-die", overrides="", knobs="", sampled=False):
    """A synthetic record with what every figure reads."""
    peaks = {"piuma-die": (281.6, 48.0, 48), "piuma-core": (35.2, 6.0, 6)}[preset]
    return dict(matrix=matrix, kernel=kernel, cycles=cycles, seconds=cycles * 1e-9, status="ok",
                preset=preset, config_hash=f"h-{preset}-{overrides}", overrides=overrides,
                knobs=knobs, seed=0, sample_fraction=0.1 if sampled else 1.0,
                flops=10**6, arithmetic_intensity=0.05 + cycles * 1e-9, load_imbalance=1.5,
                thread_busy_cycles_max=0.9 * cycles, thread_busy_cycles_mean=0.5 * cycles,
                ipc=5.0, dram_bandwidth_utilization=0.3, dram_read_useful_bytes=1e6,
                dram_read_transferred_bytes=2e6, dram_write_useful_bytes=5e5,
                dram_write_transferred_bytes=6e5, peak_dram_gb_per_s=peaks[0],
                peak_issue_ginstr_per_s=peaks[1], machine_pipelines=peaks[2])


def test_plot_never_mixes_configurations(tmp_path):
    """The issue's case: smash-v3 on piuma-core, then smash-v3 and outer on piuma-die."""
    recs = [_prec("m", "smash-v3", 100, "piuma-core"), _prec("m", "smash-v3", 30),
            _prec("m", "outer", 100.2)]
    paths = plots.plot("speedup", recs, tmp_path / "speedup", formats=("png",))
    assert [p.name for p in paths] == ["speedup-piuma-die.png"]       # core has no baseline
    groups = plots.configurations(recs)
    die = plots._table(groups[plots.configuration(recs[1])])
    assert die[("m", "outer")]["cycles"] / die[("m", "smash-v3")]["cycles"] == pytest.approx(3.34)
    with pytest.raises(ValueError, match="configurations found: piuma-core: .*; piuma-die: "):
        plots.plot("speedup", [r for r in recs if r["kernel"] == "smash-v3"], tmp_path / "x")
    # a sweep over cores_per_die: both halves drawn, each with its own figure
    sweep = [_prec("m", k, c, overrides=f"cores_per_die={n}")
             for n in (2, 8) for k, c in (("outer", 400 / n), ("smash-v1", 100 / n))]
    names = sorted(p.name for p in plots.plot("roofline", sweep, tmp_path / "r", formats=("png",)))
    assert names == ["r-piuma-die_cores_per_die=2.png", "r-piuma-die_cores_per_die=8.png"]
    # knob settings are series of one figure, not configurations
    knobbed = [_prec("m", "outer", 300), _prec("m", "smash-v1", 100, knobs="granularity=1"),
               _prec("m", "smash-v1", 90, knobs="granularity=4")]
    assert len(plots.plot("speedup", knobbed, tmp_path / "k", formats=("png",))) == 1
    assert plots._kernels(knobbed) == ["outer", "smash-v1 [granularity=1]", "smash-v1 [granularity=4]"]


def _drawn_texts(monkeypatch) -> list[list[str]]:
    """Patch the figure saver to collect every text of each figure (titles, ticks, legends)."""
    got = []

    def save(fig, stem, formats):
        texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
        got.append(texts)
        fig.set_size_inches(*fig.get_size_inches())
        got[-1].append(f"size:{fig.get_size_inches()[0] * 130:.0f}x{fig.get_size_inches()[1] * 130:.0f}")
        import matplotlib.pyplot as plt
        plt.close(fig)
        return [Path(str(stem) + ".png")]
    monkeypatch.setattr(plots, "_save", save)
    return got


@pytest.mark.parametrize("kind", ["speedup", "dram", "workload", "ipc", "roofline", "scaling"])
def test_every_figure_marks_sampled_runs_and_titles_from_data(monkeypatch, kind):
    got = _drawn_texts(monkeypatch)
    recs = [_prec(f"m{i}", k, c * (i + 1), overrides=f"cores_per_die={n}", sampled=(k == "inner"))
            for i in range(3) for n in (2, 8) for k, c in (("inner", 900 / n), ("outer", 400 / n),
                                                           ("smash-v3", 100 / n))]
    plots.plot(kind, recs, Path("unused"))
    for texts in got:
        joined = "\n".join(texts)
        assert "sampled" in joined or " *" in joined, f"{kind}: sampled runs not marked"
        if kind not in ("scaling",):
            assert "piuma-die, cores_per_die=" in joined, f"{kind}: title lacks the configuration"


@pytest.mark.parametrize("n_mats", [1, 40])
@pytest.mark.parametrize("kind", ["speedup", "dram", "workload", "ipc", "roofline"])
def test_figures_readable_from_1_to_40_matrices(monkeypatch, kind, n_mats):
    got = _drawn_texts(monkeypatch)
    recs = [_prec(f"matrix-{i}", k, c * (1 + i % 5)) for i in range(n_mats)
            for k, c in (("inner", 900), ("outer", 400), ("smash-v1", 150), ("smash-v3", 100))]
    plots.plot(kind, recs, Path("unused"))
    (texts,) = got
    width = int(texts[-1].split(":")[1].split("x")[0])
    assert width <= 2600, f"{kind} with {n_mats} matrices is {width} px wide"
    assert len({tuple(sorted(plots._marker(j).items())) for j in range(40)}) == 40
