"""smash reproduce: the summary arithmetic, and the --quick run end to end (tables, files)."""
from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.reproduce import (ABLATION, KERNELS, QUICK_MATRICES, ablation_rows,
                                 default_points, format_report, geomean, main_records,
                                 speedup_rows)


def _rec(matrix, kernel, cycles, **kw):
    base = dict(matrix=matrix, kernel=kernel, cycles=cycles, seconds=cycles * 1e-9, status="ok",
                dram_bytes_read=1e6, dram_bytes_written=5e5, dram_useful_bytes=1e6,
                dram_transferred_bytes=1.5e6, arithmetic_intensity=0.1, cache_hit_rate=0.5,
                load_imbalance=1.2, ipc=10.0, dram_bandwidth_utilization=0.1, n_rows=10,
                flops=100, nnz_c=50, preset="piuma-die", sample_fraction=1.0)
    base.update(kw)
    return base


def test_speedup_rows_and_geomean():
    recs = [_rec("a", "inner", 800), _rec("a", "outer", 200), _rec("a", "smash-v3", 100),
            _rec("b", "inner", 200), _rec("b", "outer", 400), _rec("b", "smash-v3", 100,
                                                                    sample_fraction=0.5)]
    rows = speedup_rows(recs, versions=["smash-v3"])
    assert [r["matrix"] for r in rows] == ["a", "b", "geomean"]
    assert rows[0]["smash-v3/inner"] == 8 and rows[1]["smash-v3/outer"] == 4
    assert rows[2]["smash-v3/inner"] == pytest.approx(4.0)       # sqrt(8 * 2)
    assert math.isnan(geomean([]))
    text = format_report(recs)
    assert "geomean" in text and "smash-v3 *" in text and "estimated from a sample" in text


def test_sampled_points_carry_their_interval():
    """A sampled baseline: its interval in the matrix table, in every speedup over it and in
    the geomean (the geometric means of the ends)."""
    recs = [_rec("a", "inner", 800, sample_fraction=0.2, cycles_ci_low=700, cycles_ci_high=1000),
            _rec("a", "outer", 200), _rec("a", "smash-v3", 100),
            _rec("b", "inner", 200), _rec("b", "outer", 400), _rec("b", "smash-v3", 100)]
    rows = speedup_rows(recs, versions=["smash-v3"])
    a, b, g = rows
    assert (a["smash-v3/inner"], a["smash-v3/inner_low"], a["smash-v3/inner_high"]) == (8, 7, 10)
    assert a["sampled"] and not b["sampled"] and g["sampled"]
    assert b["smash-v3/inner_low"] == b["smash-v3/inner_high"] == 2
    assert (g["smash-v3/inner_low"], g["smash-v3/inner_high"]) == pytest.approx((math.sqrt(14), math.sqrt(20)))
    assert a["smash-v3/outer_low"] == a["smash-v3/outer_high"] == 2     # no sampled run
    text = format_report(recs)
    assert "8.000 [7.000-10.00]" in text and "a *" in text
    assert "4.000 [3.742-4.472]" in text                                  # the geomean
    table = text.split("== b")[0]
    assert "inner *" in table and "0.700-1.000" in table                  # time interval, us
    recs[0]["sample_warning"] = "sample too small: 3 tasks per thread"
    assert "warning: inner on a: sample too small: 3 tasks per thread" in format_report(recs)


def test_default_points():
    pts = default_points(quick=True)
    # every kernel, plus the ablation steps that are not a kernel with its preset's knobs
    extra = sum(1 for _, _, kn in ABLATION if kn)
    assert len(pts) == (len(KERNELS) + extra) * len(QUICK_MATRICES)
    assert {p.preset for p in pts} == {"piuma-die"} and {p.sample for p in pts} == {"auto"}
    assert len(default_points(quick=True, extra=["er:n=64"])) == len(pts) + len(KERNELS) + extra
    assert len(default_points(quick=True, ablation=False)) == len(KERNELS) * len(QUICK_MATRICES)


def _keyed(matrix, kernel, cycles, knobs=(), **kw):
    import json
    r = _rec(matrix, kernel, cycles, **kw)
    r["point_key"] = json.dumps([matrix, kernel, "piuma-die", [], [list(x) for x in knobs], 0, None])
    return r


def test_ablation_rows_and_main_records():
    recs = [_keyed("a", "rowwise-hash", 1000), _keyed("a", "rowwise-hash", 800, [("placement", "spad")]),
            _keyed("a", "smash-v1", 600, [("atomics", "false")]), _keyed("a", "smash-v1", 400),
            _keyed("a", "smash-v2", 200), _keyed("a", "smash-v3", 100),
            _keyed("a", "smash-v3", 125, [("placement", "dram")])]
    rows = ablation_rows(recs)["a"]
    steps = [r["step"] for r in rows]
    assert steps[0] == ABLATION[0][0] and len(rows) == 7
    assert rows[1]["vs_prev"] == pytest.approx(1.25) and rows[5]["vs_base"] == pytest.approx(10)
    assert rows[-1]["vs_prev"] == pytest.approx(0.8)          # a variation: compared with v3
    # the main tables ignore the variants: rowwise-hash is the 1000-cycle run
    main = main_records(recs)
    assert [r["cycles"] for r in main if r["kernel"] == "rowwise-hash"] == [1000]
    assert "Ablation" in format_report(recs)


def test_reproduce_quick_cli(tmp_path):
    out = tmp_path / "rq"
    res = CliRunner().invoke(main, ["reproduce", "--quick", "-j", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for m in QUICK_MATRICES:
        assert f"== {m}" in res.output
    assert "Speedup of SMASH over the inner product" in res.output and "geomean" in res.output
    assert "x inner-c" in res.output and "Ablation" in res.output
    assert (out / "records.jsonl").exists() and (out / "report.txt").exists()
    assert (out / "speedup.csv").exists() and (out / "ablation.csv").exists()
    for kind in ("speedup", "dram", "workload", "ipc", "roofline", "ablation"):
        assert (out / "figures" / f"{kind}.png").stat().st_size > 1000
        assert (out / "figures" / f"{kind}.pdf").exists()
    # a second run reuses every record
    res = CliRunner().invoke(main, ["reproduce", "--quick", "--no-figures", "--out", str(out)])
    n = len(default_points(quick=True))
    assert res.exit_code == 0 and f"({n} reused" in res.output


def test_reproduce_bad_matrices(tmp_path):
    res = CliRunner().invoke(main, ["reproduce", "--quick", "--matrices", str(tmp_path),
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and "no .mtx" in res.output


def test_scaling_rows_table_and_figure(tmp_path):
    from simulator.reproduce import (SCALING_DIES, format_scaling, scaling_points, scaling_rows,
                                     write_scaling)
    pts = scaling_points(quick=True, kernels=["smash-v3"])
    assert [p.overrides for p in pts] == [(f"dies={d}",) for d in SCALING_DIES]
    assert {p.preset for p in pts} == {"piuma-node"} and all(p.sample is None for p in pts)
    recs = [_rec("m", "smash-v3", 1000 / s, overrides=f"dies={d}", preset="piuma-node",
                 dram_requests=100, remote_die_accesses=10 * (d > 1), steals=d - 1,
                 link_bytes=0, link_queue_cycles=0.0)
            for d, s in ((1, 1), (2, 2), (4, 3), (8, 4), (16, 8))]
    recs.append(_rec("m", "smash-v3", 5, preset="piuma-die"))        # not a scaling run
    rows = scaling_rows(recs)
    assert [r["dies"] for r in rows] == [1, 2, 4, 8, 16]
    assert [round(r["speedup"], 6) for r in rows] == [1, 2, 3, 4, 8]
    assert [round(r["efficiency"], 6) for r in rows] == [1, 1, 0.75, 0.5, 0.5]
    assert rows[1]["remote_pct"] == 10 and rows[4]["steals"] == 15
    text = format_scaling(recs)
    assert "Scaling on piuma-node" in text and "efficiency" in text
    written = write_scaling(recs, tmp_path, formats=("png",))
    assert (tmp_path / "scaling.csv").read_text().count("\n") == 6
    assert (tmp_path / "figures" / "scaling-dies.png").stat().st_size > 1000
    assert write_scaling([_rec("m", "inner", 5)], tmp_path / "none") == []
    assert len(written) == 2
