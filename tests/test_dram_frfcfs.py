"""FR-FCFS in the DRAM scheduler (simulator.machine.dram): a row hit that reaches the controller
after a conflict to the same bank is served before the conflict's precharge (the row it hits is
still open), at most ROW_HIT_CAP of them per activation, and only when its column command and
its read-to-precharge time fit before that precharge."""
from simulator.machine import dram as M
from simulator.machine.config import load_config


def _state(*sets):
    return M.new_state(load_config("ddr4-3200-x8", ["dram.tREFI=0", *sets]))


def _read(D, bank, row, t):
    return M.dram_access(D, 0, bank, row, 0, t, 64)


def test_a_later_row_hit_overtakes_an_earlier_conflicts_precharge():
    """Bank 0: row 7 opened at t=0; a read of row 9 arrives (its PRE waits for tRAS); then a
    read of row 7. FR-FCFS serves the row-7 read from the open row before row 9's PRE: one
    activation less, and its data comes before row 9's. Served in arrival order it would need
    PRE and ACT after row 9's read (a second conflict)."""
    D = _state()
    first = _read(D, 0, 7, 0.0)
    conflict = _read(D, 0, 9, 1.0)
    hit = _read(D, 0, 7, 2.0)
    assert hit < conflict
    assert hit - first <= (D.fp[M.DF_CL] + D.fp[M.DF_BURST]) / 2 + 10 * 0.63   # a row hit's time
    assert (D.cnt[M.DC_HITS], D.cnt[M.DC_CONFLICTS], D.cnt[M.DC_ACTS]) == (1, 1, 2)
    assert _read(D, 0, 9, 3.0) > conflict      # the conflict's row stays open after it


def test_row_hits_overtake_at_most_the_cap():
    """With a long tRAS, nine hits would fit before the PRE; the cap lets ROW_HIT_CAP go first,
    the next one waits for row 9 and reopens row 7, the one after it hits that row."""
    D = _state("dram.tRAS=100")
    _read(D, 0, 7, 0.0)
    conflict = _read(D, 0, 9, 1.0)
    ends = [_read(D, 0, 7, 2.0 + k) for k in range(M.ROW_HIT_CAP + 2)]
    assert M.ROW_HIT_CAP >= 1
    assert max(ends[:M.ROW_HIT_CAP]) < conflict < min(ends[M.ROW_HIT_CAP:])
    assert (D.cnt[M.DC_HITS], D.cnt[M.DC_CONFLICTS], D.cnt[M.DC_ACTS]) == (M.ROW_HIT_CAP + 1, 2, 3)


def test_a_row_hit_that_does_not_fit_before_the_precharge_waits():
    """The conflict's PRE comes as soon as tRAS allows; a row hit arriving after its last
    column slot (tRTP before the PRE) is served in order (a second conflict)."""
    D = _state()
    _read(D, 0, 7, 0.0)
    _read(D, 0, 9, 1.0)
    _read(D, 0, 7, 40.0)                        # tRAS (32.8 ns) - tRTP (7.6 ns) has passed
    assert (D.cnt[M.DC_HITS], D.cnt[M.DC_CONFLICTS], D.cnt[M.DC_ACTS]) == (0, 2, 3)
