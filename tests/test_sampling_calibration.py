"""The calibration study's bookkeeping (benchmarks/calibrate_sampling.py): intervals re-judged
with today's systematic error, and the systematic error a set of samples implies."""
import importlib.util
import math
from pathlib import Path

import pytest

from simulator import sampling

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "calibrate_sampling.py"
_spec = importlib.util.spec_from_file_location("calibrate_sampling", _PATH)
cal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cal)


def _rec(cycles, se=0.0, thin=1.0, groups=8, lo=0.0, hi=0.0, **kw):
    return {"cycles": cycles, "sample_sampling_error": se, "sample_thin": thin,
            "sample_groups": groups, "cycles_ci_low": lo, "cycles_ci_high": hi, **kw}


def test_interval_uses_todays_systematic_error():
    below, above = sampling.SYSTEMATIC
    lo, hi = cal.interval(_rec(100.0, se=0.1, lo=1.0, hi=2.0))
    assert lo == pytest.approx(100 * (1 - below))
    assert hi == pytest.approx(100 + math.hypot(10.0, 100 * above))
    below_t, above_t = sampling.SYSTEMATIC_THINNED
    assert cal.interval(_rec(100.0, thin=0.5))[1] == pytest.approx(100 * (1 + above_t))
    # replicates of a machine that cannot be cut (a t interval, both ways): as recorded
    assert cal.interval(_rec(100.0, groups=1, lo=90.0, hi=110.0)) == (90.0, 110.0)


def _row(ratio, thin=1.0, valid=True):
    return {"ratio": ratio, "thin": thin, "valid": valid, "groups": 8}


def test_implied_systematic_is_what_every_valid_interval_needs():
    rows = [_row(0.8), _row(1.05), _row(1.25, valid=False), _row(0.5, thin=0.3)]
    below, above = cal.implied_systematic(rows, thinned=False)
    assert above == pytest.approx(1 / 0.8 - 1) and below == pytest.approx(1 - 1 / 1.05)
    assert cal.implied_systematic(rows, thinned=True) == (0.0, pytest.approx(1.0))
    assert all(math.isnan(v) for v in cal.implied_systematic([_row(0.9, valid=False)], False))
    # SMASH thinned by whole windows is judged apart from rows thinned
    win = rows + [{**_row(1.07, thin=0.25), "windows": True}]
    assert cal.implied_systematic(win, thinned=True) == (0.0, pytest.approx(1.0))
    assert cal.implied_systematic(win, thinned=True, windows=True) == (
        pytest.approx(1 - 1 / 1.07), 0.0)
    below_w, above_w = sampling.SYSTEMATIC_WINDOWS
    rec = _rec(100.0, thin=0.25, sample_method="miniature+windows")
    assert cal.interval(rec) == (pytest.approx(100 * (1 - below_w)), pytest.approx(100 * (1 + above_w)))


def test_extra_fractions_reach_only_their_kernel():
    """The outer product's whole miniatures need 2 x 3/8 (`--extra-fractions outer=0.75`);
    other kernels keep the study's fractions (a plan equal to another's is run once)."""
    assert cal.parse_extra(["outer=0.75,0.5"]) == {"outer": [0.75, 0.5]}
    with pytest.raises(SystemExit, match="KERNEL=F"):
        cal.parse_extra(["outer"])
    pts = cal.sampled_points(["m"], ["outer", "inner"], [0.375], [0], "piuma-die", 1,
                             {"outer": [0.75]})
    assert sorted((p.kernel, p.sample) for p in pts) == [("inner", 0.375), ("outer", 0.375),
                                                         ("outer", 0.75)]
