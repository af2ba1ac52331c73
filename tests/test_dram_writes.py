"""The DRAM model's write handling and `smash micro`'s saturated stimulus (simulator.machine.dram):
the write buffer drains when full or when `write_low` writes are buffered and no command waits
in the channel (DRAMsim3's controller: more than 8 and its command queues empty), its
writes go ready-first across banks, and a saturated stream offers each request (writes too) when
the one before it was accepted."""
import pytest

from simulator.machine import dram as M
from simulator.machine.config import load_config


def _cfg(*sets):
    return load_config("ddr4-3200-x8", list(sets))


def _buffered(D, ch=0):
    return int(D.ch_i[ch, M.CI_WB])


def _write(D, bank, row, t):
    return M.dram_access(D, 0, bank, row, 1, t, 64)


def _read(D, bank, row, t):
    return M.dram_access(D, 0, bank, row, 0, t, 64)


@pytest.mark.parametrize("write_low, drained", [(4, True), (0, False), (5, False)])
def test_writes_drain_when_nothing_waits_and_the_low_mark_is_reached(write_low, drained):
    D = M.new_state(_cfg(f"dram.write_low={write_low}"))
    for k in range(4):
        _write(D, k, 3, 0.0)
    assert _buffered(D) == (0 if drained else 4)
    assert D.cnt[M.DC_WRITES] == (4 if drained else 0)


def test_writes_wait_while_reads_wait_in_the_transaction_queue():
    """No drain below the high mark while reads are still queued for their banks."""
    D = M.new_state(_cfg("dram.write_low=4", "dram.queue_depth=2", "dram.bank_queue_depth=1"))
    for k in range(6):                         # one bank, one-deep bank queue: reads queue up
        _read(D, 0, k, 0.0)
    for k in range(4):
        _write(D, 1 + k, 3, 0.0)
    assert _buffered(D) == 4 and D.cnt[M.DC_WRITES] == 0


def test_writes_wait_until_the_last_command_has_issued():
    """DRAMsim3 drains early only when its command queues are empty: one read in its bank's
    queue, its ACT and RD still ahead, holds the buffered writes back (with the transaction
    queue already empty); writes arriving once its RD has issued drain."""
    D = M.new_state(_cfg("dram.write_low=4"))
    done = _read(D, 0, 7, 0.0)                  # ACT at the controller, RD tRCD later
    for k in range(4):
        _write(D, 1 + k, 3, 0.0)
    assert _buffered(D) == 4 and D.cnt[M.DC_WRITES] == 0
    D = M.new_state(_cfg("dram.write_low=4"))
    _read(D, 0, 7, 0.0)
    for k in range(4):
        _write(D, 1 + k, 3, done)
    assert _buffered(D) == 0 and D.cnt[M.DC_WRITES] == 4


def test_the_high_mark_drains_regardless():
    D = M.new_state(_cfg("dram.write_low=0", "dram.write_buffer=8"))
    for k in range(7):
        _write(D, k, 3, 0.0)
    assert _buffered(D) == 7
    _write(D, 7, 3, 0.0)
    assert _buffered(D) == 0 and D.cnt[M.DC_WRITES] == 8


def test_a_drain_takes_the_write_whose_bank_is_ready_first():
    """Buffered (oldest first): a write to bank 0 whose open row is another (needs PRE, ACT after
    tRAS), one to idle bank 1, one to bank 0's open row. Ready-first: bank 1's, then the row
    hit, then the conflict; the ones not taken keep their order."""
    D = M.new_state(_cfg("dram.write_low=0"))
    _read(D, 0, 7, 0.0)                         # bank 0: row 7 open, busy until tRAS
    for bank, row in ((0, 5), (1, 3), (0, 7)):
        _write(D, bank, row, 0.0)
    order = []
    for k in range(3):
        M._take_ready_write(D, 0, k, 3)
        order.append((int(D.ch_i[0, M.CI_WB0 + 2 * k]), int(D.ch_i[0, M.CI_WB0 + 2 * k + 1])))
    assert order == [(1, 3), (0, 7), (0, 5)]


def test_a_drained_write_still_follows_the_read_of_its_bank():
    """Read-modify-write: the write of an address never goes before its read."""
    D = M.new_state(_cfg("dram.write_low=0", "dram.write_buffer=4"))
    reads = []
    for k in range(4):
        reads.append(_read(D, k, 9, 0.0) - D.fp[M.DF_CL] - D.fp[M.DF_BURST])
        _write(D, k, 9, 0.0)
    assert _buffered(D) == 0
    for k in range(4):                      # the bank's last command, the write, after the read
        assert D.bk_f[k, M.BK_LAST] > reads[k] + D.fp[M.DF_BURST]


@pytest.mark.parametrize("pattern", ["random", "rmw"])
def test_a_saturated_stream_offers_each_request_when_the_one_before_is_accepted(pattern):
    """Latency of a saturated stream is the time from offer to data: it does not grow with the
    stream's length (it did when every request was offered at time 0)."""
    cfg = _cfg()
    short = M.micro(cfg, pattern, requests=1000)["latency_ns_mean"]
    long = M.micro(cfg, pattern, requests=8000)["latency_ns_mean"]
    assert long < 1.3 * short
    # and it is a loaded latency: above the unloaded random chain's
    assert short > M.micro(cfg, "chain-random", requests=200)["latency_ns_mean"]


def test_the_queue_counter_includes_the_wait_behind_the_banks_earlier_request():
    """dram_queue_cycles: a request's wait from reaching the controller to its column command,
    beyond its unloaded timing, including the wait behind an earlier request to the same bank
    (it started counting only after that wait). Two reads at time 0 to one bank, other rows:
    the second is a row conflict that must wait for the first's ACT to reach tRAS."""
    D = M.new_state(_cfg())
    fp = D.fp
    _read(D, 0, 1, 0.0)
    first = D.cntf[M.DCF_QUEUE]
    tc = _read(D, 0, 2, 0.0) - fp[M.DF_CL] - fp[M.DF_BURST]      # its column command
    unloaded = fp[M.DF_CTRL] + fp[M.DF_RP] + fp[M.DF_RCD]        # arrival, PRE, ACT, column
    assert D.cntf[M.DCF_QUEUE] - first == pytest.approx(tc - unloaded)
    assert tc - unloaded >= fp[M.DF_RAS] - 1e-9                  # the first's ACT to its PRE
