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


def test_non_finite_config_values_refused(tmp_path):
    for item in ("clock_ghz=nan", "dram.latency_cycles=nan", "spad.latency_cycles=inf"):
        res = CliRunner().invoke(main, ["run", "-k", "outer", "-m", SMALL, "--preset", "piuma-core",
                                        "--set", item, "--out", ""])
        _one_line_error(res, "must be a finite number")
    toml = tmp_path / "m.toml"
    toml.write_text(CliRunner().invoke(main, ["config", "show", "piuma-core"]).output
                    .replace("clock_ghz = 1.0", "clock_ghz = nan"))
    res = CliRunner().invoke(main, ["config", "show", str(toml)])
    _one_line_error(res, "clock_ghz: must be a finite number")


def test_summary_names_the_product_and_labels_phases():
    A = sp.random(30, 50, density=0.1, format="csr", random_state=1)
    from simulator.cli.kernel_cmds import summary
    text = summary(run_kernel("smash-v3", A, preset="piuma-core"))
    assert "C = A·Aᵀ (A is not square)" in text
    assert "phases: rows" in text and " cycles" in text.split("phases:")[1]


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


