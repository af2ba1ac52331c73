"""Every plot renders from a small results file; bad results files are refused clearly."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.plots import KINDS, load_results, plot
from simulator.sweep import Experiment, run_sweep, write_csv


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A small sweep: 2 matrices x (inner, outer, smash-v1, smash-v2) x 2 channel counts."""
    path = tmp_path_factory.mktemp("plots") / "res.jsonl"
    exp = Experiment(matrices=["rmat:scale=5,ef=4", "er:n=48,nnz_per_row=4"],
                     kernels=["inner", "outer", "smash-v1", "smash-v2"], presets=["piuma-core"],
                     sets={"dram.channels_per_die": [1, 2]})
    exp.validate()
    run_sweep(exp.points(), path, jobs=1)
    return path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_plot_renders(results, tmp_path, kind):
    """Two channel counts are two configurations: one figure each (scaling: one over both)."""
    paths = plot(kind, load_results(results), tmp_path / kind)
    figures = 1 if kind == "scaling" else 2
    assert sorted(p.suffix for p in paths) == [".pdf"] * figures + [".png"] * figures
    assert all(p.stat().st_size > 1000 for p in paths)
    if kind != "scaling":
        assert {p.stem for p in paths} == {f"{kind}-piuma-core_dram.channels_per_die={c}"
                                           for c in (1, 2)}


def test_plot_cli_all_and_csv(results, tmp_path):
    res = CliRunner().invoke(main, ["plot", "all", str(results), "-o", str(tmp_path / "f"),
                                    "--format", "png"])
    assert res.exit_code == 0, res.output
    assert len(res.output.split()) == 2 * (len(KINDS) - 2)   # 2 configurations; all but scaling and ablation
    csv = tmp_path / "r.csv"
    write_csv(csv, load_results(results))
    res = CliRunner().invoke(main, ["plot", "speedup", str(csv), "-o", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("content, needle", [
    ("", "no records"),
    ("not json\n", "line 1: not a JSON record"),
    ('{"kernel": "x"}\n[1, 2]\n', "line 2: expected a JSON object"),
    ('{"kernel": "outer", "matrix": "m"}\n', "lacks cycles"),
    ('{"status": "error", "kernel": "outer", "matrix": "m", "error": "boom"}\n', "failed run"),
])
def test_bad_results_refused(tmp_path, content, needle):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(ValueError, match=needle):
        load_results(p)
    res = CliRunner().invoke(main, ["plot", "speedup", str(p)])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and needle in res.output


def test_plot_missing_file_and_no_scaling_axis(results, tmp_path):
    res = CliRunner().invoke(main, ["plot", "dram", str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 1 and "cannot read results file" in res.output
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in load_results(results)
                           if r["overrides"].endswith("=1")))
    res = CliRunner().invoke(main, ["plot", "scaling", str(one)])
    assert res.exit_code == 1 and "no swept parameter" in res.output


def test_dram_plot_by_structure_and_for_old_records(results, tmp_path):
    from simulator.plots import DRAM_STRUCTURES, _has_structures
    from simulator.run import DRAM_GROUPS
    assert [g for g, _, _ in DRAM_STRUCTURES] == list(DRAM_GROUPS)
    recs = load_results(results)
    assert _has_structures(recs)
    assert plot("dram", recs, tmp_path / "new", formats=("png",))[0].stat().st_size > 1000
    old = [{k: v for k, v in r.items() if not k.startswith("dram_bytes_")
            or k in ("dram_bytes_read", "dram_bytes_written")} for r in recs]
    assert not _has_structures(old)
    assert plot("dram", old, tmp_path / "old", formats=("png",))[0].stat().st_size > 1000


def test_speedup_error_bars_for_sampled_runs(monkeypatch, tmp_path):
    """A sampled baseline: error bars spanning its interval on the bars over it and on the
    geomean; none when every run is whole."""
    from matplotlib.container import ErrorbarContainer
    import simulator.plots as P
    seen = []

    def save(fig, stem, formats):
        bars = [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
        seen.append([seg for c in bars for col in c.lines[2] for seg in col.get_segments()])
        import matplotlib.pyplot as plt
        plt.close(fig)
        return [stem]
    monkeypatch.setattr(P, "_save", save)
    base = dict(status="ok", preset="piuma-die", config_hash="h", overrides="", knobs="", seed=0)
    recs = [dict(base, matrix="m", kernel="inner", cycles=800.0, sample_fraction=0.2,
                 cycles_ci_low=700.0, cycles_ci_high=1000.0),
            dict(base, matrix="m", kernel="smash-v3", cycles=100.0, sample_fraction=1.0)]
    P.plot("speedup", recs, tmp_path / "s")
    (segs,) = seen
    ends = sorted((round(s[0][1], 6), round(s[1][1], 6)) for s in segs)
    assert ends == [(7.0, 10.0), (7.0, 10.0)]          # the matrix and the geomean
    recs[0].update(sample_fraction=1.0, cycles_ci_low=800.0, cycles_ci_high=800.0)
    P.plot("speedup", recs, tmp_path / "s")
    assert seen[1] == []
