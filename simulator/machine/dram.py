"""DRAM: channels, ranks, bank groups, banks with row buffers, JEDEC timing declared as a table,
an address mapping, a request scheduler, a write buffer and refresh. Private to the engine
(`simulator.machine.Simulation`) and to `smash micro` (`micro()` below).

The model (all times in core cycles; the config gives DRAM timings in memory-clock cycles, tCK):

- **Address mapping.** A physical address is split, from its least significant bits up, into the
  byte within a burst (burst_length x bus bytes, e.g. 64 B) and then the fields of `dram.mapping`
  (written most significant first, e.g. "ro,ra,ba,co,bg,ch"): channel, rank, bank group, bank,
  column (bursts within a row) and row. With `channel_hash` the channel field is added to a fold
  of the address bits above it (mod the channel count), so power-of-two strides spread over
  channels (a bijection: nothing collides).
- **Commands and constraints.** A request becomes commands: a row hit needs one column command
  (RD/WR); a closed bank needs ACT first; another open row needs PRE, ACT. Every minimum distance
  between two commands is a row of `CONSTRAINTS` (Ramulator 2's shape: level, preceding
  commands, following commands, latency), compiled into small arrays that one loop checks.
- **Scheduler.** Requests are scheduled when they arrive, in arrival order, each at the earliest
  time every constraint allows with respect to the commands already scheduled, before or after
  it (a command may fill a gap left earlier: requests to idle banks overtake requests waiting
  for busy ones, as FR-FCFS's bank-level reordering does). Within a bank, FR-FCFS's row-hit
  first: a request arriving after a conflict to its bank (another row, so PRE, ACT), that hits
  the row open until that conflict's PRE, is served from that row before the PRE when its
  column command and its read-to-precharge (or write recovery) fit before it, at most
  ROW_HIT_CAP = 4 row hits per activation (DRAMsim3's cap, which lets the PRE go once four
  hits have been served). A controller issuing in time order would instead hold the PRE back
  for the hit; here the conflict was scheduled (and its completion returned) when it arrived,
  so the hit takes the slot left before the PRE or, when there is none, is served after the
  conflict as before. Otherwise one bank serves its requests in arrival order.
  A transaction queue of `queue_depth` requests and per-bank queues of `bank_queue_depth` bound
  how far requests can overtake (a request enters when the one `queue_depth` before it has
  moved to its bank queue). Recent commands are kept per channel (column commands) and per
  rank (activations); a command is never placed before the oldest one forgotten.
- **Writes** are posted: accepted into the channel's write buffer (their requester sees them
  complete then). The buffer drains (DRAMsim3's policy) when `write_buffer` writes have
  gathered, or when at least `write_low` have and no command waits in the channel (DRAMsim3's
  controller: more than 8 buffered and its command queues empty), or the phase ends: its
  writes are scheduled ready-first across banks (each time the one whose bank can take it
  earliest), each at the earliest time the constraints allow, so requests to one bank keep
  their order (a write follows its read) and reads already scheduled keep their place.
- **Open or closed page.** Open: the row stays open after its access. Closed: every column
  command auto-precharges (the next access to the bank needs only ACT).
- **Refresh.** Every tREFI each rank is refreshed for tRFC (ranks staggered): no command issues
  during it and it closes the rank's rows.
- **Sub-burst access** (PIUMA's 8-byte access; assumed, the mechanism is not public): an access
  smaller than a burst is one column command of its own, with all the column-command spacing of
  a full burst (tCCD_S / tCCD_L, turnarounds) and an activation when its row is closed; on the
  data bus it occupies only its own bytes (bytes / bus bytes per tCK), as if the devices were
  driven as narrow sub-channels. So 8-byte accesses save bus time but not commands or
  activations.
- Left out: the command bus (one command per tCK), power-down, read hits in the write buffer,
  bank-level refresh, a PRE held back for row hits that arrive after its conflict (above).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
from numba import njit

from simulator.machine.nbutil import INF, div_, mod_, pow2_mask, pow2_shift

# ---- the constraint table (latencies in tCK; D = the preceding command's data burst, tCK) -------

LEVELS = ("channel", "rank", "sibling", "bankgroup", "bank")   # sibling: another rank
COMMANDS = ("ACT", "PRE", "RD", "WR")
CONSTRAINTS: tuple[dict[str, Any], ...] = (
    # column to column: command bus, data bus, bank-group and rank spacing, read/write
    # turnaround, rank switch
    {"level": "channel", "preceding": ("RD", "WR"), "following": ("RD", "WR"), "latency": "1"},
    {"level": "channel", "preceding": ("RD",), "following": ("RD",), "latency": "D"},
    {"level": "channel", "preceding": ("WR",), "following": ("WR",), "latency": "D"},
    {"level": "rank", "preceding": ("RD", "WR"), "following": ("RD", "WR"), "latency": "tCCD_S"},
    {"level": "bankgroup", "preceding": ("RD", "WR"), "following": ("RD", "WR"), "latency": "tCCD_L"},
    {"level": "rank", "preceding": ("RD",), "following": ("WR",), "latency": "tCL + D + 2 - tCWL"},
    {"level": "rank", "preceding": ("WR",), "following": ("RD",), "latency": "tCWL + D + tWTR_S"},
    {"level": "bankgroup", "preceding": ("WR",), "following": ("RD",), "latency": "tCWL + D + tWTR_L"},
    {"level": "sibling", "preceding": ("RD",), "following": ("RD",), "latency": "D + tRTRS"},
    {"level": "sibling", "preceding": ("WR",), "following": ("WR",), "latency": "D + tRTRS"},
    {"level": "sibling", "preceding": ("RD",), "following": ("WR",), "latency": "tCL + D + tRTRS - tCWL"},
    {"level": "sibling", "preceding": ("WR",), "following": ("RD",), "latency": "tCWL + D + tRTRS - tCL"},
    # activations: per rank, per bank group, the four-activation window
    {"level": "rank", "preceding": ("ACT",), "following": ("ACT",), "latency": "tRRD_S"},
    {"level": "bankgroup", "preceding": ("ACT",), "following": ("ACT",), "latency": "tRRD_L"},
    {"level": "rank", "preceding": ("ACT",), "following": ("ACT",), "latency": "tFAW", "window": 4},
    # one bank: row cycle, activate to column, row active time, precharge
    {"level": "bank", "preceding": ("ACT",), "following": ("ACT",), "latency": "tRAS + tRP"},
    {"level": "bank", "preceding": ("ACT",), "following": ("RD", "WR"), "latency": "tRCD"},
    {"level": "bank", "preceding": ("ACT",), "following": ("PRE",), "latency": "tRAS"},
    {"level": "bank", "preceding": ("RD",), "following": ("PRE",), "latency": "tRTP"},
    {"level": "bank", "preceding": ("WR",), "following": ("PRE",), "latency": "tCWL + D + tWR"},
    {"level": "bank", "preceding": ("PRE",), "following": ("ACT",), "latency": "tRP"},
)
TIMINGS = ("tCL", "tCWL", "tRCD", "tRP", "tRAS", "tRRD_S", "tRRD_L", "tFAW", "tCCD_S", "tCCD_L",
           "tWTR_S", "tWTR_L", "tWR", "tRTP", "tRTRS", "tRFC", "tREFI")
FIELDS = ("ch", "ra", "bg", "ba", "ro", "co")
F_CH, F_RA, F_BG, F_BA, F_RO, F_CO = range(6)


# ---- parameters (ip: int64, fp: float64 in core cycles) ----------------------------------------
(DI_RANKS, DI_BGS, DI_BPG, DI_NBANKS, DI_BURST_SHIFT, DI_CLOSE, DI_HASH, DI_QT, DI_QB, DI_WB,
 DI_NCH, DI_CHPD, DI_CHPD_MASK, DI_NCH_MASK, DI_CHPD_SHIFT, DI_NCH_SHIFT, DI_FAULT, DI_RANK_SHIFT,
 DI_BPG_SHIFT, DI_BGS_MASK, DI_WLOW, DI_FOLD, DI_MNCH, DI_MCHPD, DI_MCHPD_MASK, DI_MNCH_MASK,
 DI_MCHPD_SHIFT, DI_MNCH_SHIFT, DI_N) = range(29)
# DI_RANK_SHIFT, DI_BPG_SHIFT, DI_BGS_MASK: bank -> rank, bank group without a division
# (nbutil.div_ / mod_; -1 when not a power of two). DI_FOLD: the mapping's channels per die over
# the machine's (dram.mapping_fold); DI_M*: the mapping's channel counts
(DF_CTRL, DF_CL, DF_CWL, DF_RCD, DF_RP, DF_RAS, DF_RC, DF_RTP, DF_WR_PRE, DF_WR_PRE_D, DF_FAW,
 DF_RFC, DF_REFI, DF_CPB, DF_BURST, DF_SPAN_LONG, DF_RRD_L, DF_RRD_S, DF_SPAN_SHORT,
 DF_INV_REFI) = range(20)
DF_CL0 = 20            # column-to-column latencies: fp[DF_CL0 + rel * 4 + prev * 2 + next] ...
DF_CL1 = DF_CL0 + 12   # ... and the part added to the preceding burst (see compile_constraints)
DF_ROFF = DF_CL1 + 12  # per rank (fp[DF_ROFF + rank]): the start of its first refresh period
DF_N = DF_ROFF        # fp holds DF_N + ranks values
# the mapping, least significant field first: (field, count, shift or -1, mask or -1)
MP_FIELD, MP_COUNT, MP_SHIFT, MP_MASK, MP_N = range(5)
HIST_COL = 64         # column commands remembered per channel
HIST_ACT = 32         # activations remembered per rank
FIND_BACK = 16        # _find: entries looked at from the end before a binary search
LOOKAHEAD = 1 << 30        # gaps a command tries among the commands scheduled after its earliest time
# ---- state -------------------------------------------------------------------------------------
# per bank: bk_i[bank] (open row or -1, bank queue head, refresh period of its last access,
# row hits since the row's activation, then the row open before the last conflict's PRE (-1:
# none) and its row hits); bk_f[bank] (earliest ACT, PRE, column command, last column command,
# then for that earlier row its earliest column command and the conflict's PRE, then the bank
# queue: when each of its last QB requests issued)
BI_ROW, BI_BQ, BI_EPOCH, BI_HITS, BI_PROW, BI_PHITS, BI_N = range(7)
BK_ACT, BK_PRE, BK_COL, BK_LAST, BK_PCOL, BK_PPRE, BK_N = range(7)
ROW_HIT_CAP = 4       # row hits served ahead of a waiting PRE, per activation (DRAMsim3's cap)
# per rank: rk_i[rank] (activations remembered, then their bank groups); rk_f[rank] (the last
# activation forgotten, then the remembered activations' times, sorted)
RI_N = 1
RF_FLOOR = 0
# per channel: ch_i[ch] (transaction queue head, writes buffered, column commands remembered,
# then their kinds, then the buffered writes' (bank, row)); ch_f[ch] (the floor: no column
# command before it; then the remembered commands' times (sorted) and bursts, the transaction
# queue, the buffered writes' (arrival, burst))
CI_TQ, CI_WB, CI_HC, CI_N = range(4)
CF_FLOOR, CF_LAST_WR, CF_N = range(3)
# CF_LAST_WR: the latest write command remembered
CF_HT = CF_N                 # column command times
CF_HD = CF_HT + HIST_COL     # their bursts
CF_TQ = CF_HD + HIST_COL     # the transaction queue (QT entries), then the write buffer
CI_HK = CI_N                 # column command kinds: rank << 8 | bank group << 1 | write
CI_WB0 = CI_HK + HIST_COL    # the write buffer: (bank, row) pairs
# counters
(DC_READS, DC_WRITES, DC_HITS, DC_MISSES, DC_CONFLICTS, DC_ACTS, DC_N) = range(7)
DCF_QUEUE, DCF_ACCEPT, DCF_N = range(3)   # DCF_ACCEPT: when the last access was accepted
# fault injection (DI_FAULT bits, set only by tests): one DRAM path broken at a time
FAULT_NO_TRCD, FAULT_NO_FAW, FAULT_NO_BUS = 1, 2, 4
FAULT_NO_MA_OCC = 8     # the engine's memory-side atomic unit: same-address operations do not wait
FAULT_NO_REFRESH = 16   # refresh blocks nothing
EMPTY = -1.0e300

DramState = namedtuple("DramState", ("ip", "fp", "mp", "bk_i", "bk_f", "rk_i", "rk_f", "ch_i",
                                     "ch_f", "cnt", "cntf"))


# ================================================================================================
# The table, compiled

def _latency(expr: str, tck: dict[str, float]) -> tuple[float, float]:
    """A latency expression ("tCL + D + 2 - tCWL") as (constant tCK, coefficient of D)."""
    const, coef, sign = 0.0, 0.0, 1.0
    for tok in expr.replace("+", " + ").replace("-", " - ").split():
        if tok == "+":
            sign = 1.0
        elif tok == "-":
            sign = -1.0
        elif tok == "D":
            coef += sign
        elif tok in tck:
            const += sign * tck[tok]
        else:
            const += sign * float(tok)
    return const, coef


def compile_constraints(tck: dict[str, float]):
    """The table as arrays (tCK). Column commands: cl0[rel, prev, next] (fixed part) and
    cl1[rel, prev, next] (the part added to the preceding burst D); the latency is
    max(cl0, cl1 + D); rel 0 same bank group, 1 same rank, other bank group, 2 another rank;
    commands 0 RD, 1 WR. Activations: act[rel] (rel 0 same bank group, 1 same rank) and the
    window (count, latency). Bank level: {(preceding, following): (const, coef of D)}."""
    cl0 = np.full((3, 2, 2), -INF)
    cl1 = np.full((3, 2, 2), -INF)
    act = np.full(2, 0.0)
    window = (0, 0.0)
    bank: dict[tuple[str, str], tuple[float, float]] = {}
    rels = {"channel": (0, 1, 2), "rank": (0, 1), "bankgroup": (0,), "sibling": (2,), "bank": ()}
    rw = {"RD": 0, "WR": 1}
    for c in CONSTRAINTS:
        const, coef = _latency(c["latency"], tck)
        for p in c["preceding"]:
            for f in c["following"]:
                if c["level"] == "bank":
                    bank[(p, f)] = (const, coef)
                elif p in rw and f in rw:
                    for r in rels[c["level"]]:
                        tab = cl1 if coef else cl0
                        tab[r, rw[p], rw[f]] = max(tab[r, rw[p], rw[f]], const)
                elif p == "ACT" and f == "ACT":
                    if "window" in c:
                        window = (int(c["window"]), const)
                    else:
                        for r in rels[c["level"]]:
                            act[r] = max(act[r], const)
    return cl0, cl1, act, window, bank


def parse_mapping(mapping: str) -> list[str]:
    """'ro,ra,ba,co,bg,ch' -> its fields, most significant first (each of FIELDS once)."""
    fields = [f.strip() for f in mapping.replace(" ", ",").split(",") if f.strip()]
    if sorted(fields) != sorted(FIELDS):
        raise ValueError(f"mapping: expected each of {', '.join(FIELDS)} once (most significant "
                         f"first, e.g. 'ro,ra,ba,co,bg,ch'), got {mapping!r}")
    return fields


def new_state(cfg, fault: int = 0) -> DramState:
    """The DRAM state of a MachineConfig: parameters in core cycles, idle banks, empty queues.
    `fault` (tests only) breaks one DRAM path (FAULT_*)."""
    d = cfg.dram
    nch = cfg.channels
    nbanks = d.ranks * d.bank_groups * d.banks_per_group
    tck = {name: float(getattr(d, name)) for name in TIMINGS}
    cyc = d.tCK_ns * cfg.clock_ghz                  # core cycles per tCK
    cl0, cl1, act, window, bank = compile_constraints(tck)
    burst = d.burst_bytes
    ip = np.zeros(DI_N, dtype=np.int64)
    ip[DI_RANKS], ip[DI_BGS], ip[DI_BPG] = d.ranks, d.bank_groups, d.banks_per_group
    ip[DI_NBANKS] = nbanks
    ip[DI_BURST_SHIFT] = pow2_shift(burst)
    ip[DI_CLOSE] = 1 if d.page_policy == "close" else 0
    ip[DI_HASH] = 1 if d.channel_hash else 0
    ip[DI_QT], ip[DI_QB], ip[DI_WB] = d.queue_depth, d.bank_queue_depth, d.write_buffer
    ip[DI_WLOW] = d.write_low
    ip[DI_NCH], ip[DI_CHPD] = nch, d.channels_per_die
    ip[DI_CHPD_MASK], ip[DI_NCH_MASK] = pow2_mask(d.channels_per_die), pow2_mask(nch)
    ip[DI_CHPD_SHIFT], ip[DI_NCH_SHIFT] = pow2_shift(d.channels_per_die), pow2_shift(nch)
    mchpd, mnch = d.channels_per_die * d.mapping_fold, nch * d.mapping_fold
    ip[DI_FOLD], ip[DI_MNCH], ip[DI_MCHPD] = d.mapping_fold, mnch, mchpd
    ip[DI_MCHPD_MASK], ip[DI_MNCH_MASK] = pow2_mask(mchpd), pow2_mask(mnch)
    ip[DI_MCHPD_SHIFT], ip[DI_MNCH_SHIFT] = pow2_shift(mchpd), pow2_shift(mnch)
    ip[DI_FAULT] = fault
    ip[DI_RANK_SHIFT] = pow2_shift(d.bank_groups * d.banks_per_group)
    ip[DI_BPG_SHIFT], ip[DI_BGS_MASK] = pow2_shift(d.banks_per_group), pow2_mask(d.bank_groups)
    fp = np.zeros(DF_N + d.ranks, dtype=np.float64)
    fp[DF_CTRL] = d.controller_latency_ns * cfg.clock_ghz
    fp[DF_CL], fp[DF_CWL] = d.tCL * cyc, d.tCWL * cyc
    fp[DF_RCD] = bank[("ACT", "RD")][0] * cyc
    fp[DF_RP] = bank[("PRE", "ACT")][0] * cyc
    fp[DF_RAS] = bank[("ACT", "PRE")][0] * cyc
    fp[DF_RC] = bank[("ACT", "ACT")][0] * cyc
    fp[DF_RTP] = bank[("RD", "PRE")][0] * cyc
    fp[DF_WR_PRE], fp[DF_WR_PRE_D] = bank[("WR", "PRE")][0] * cyc, bank[("WR", "PRE")][1]
    if window[0] != 4:
        raise ValueError("the activation window must count 4 activations")   # pragma: no cover
    fp[DF_FAW] = window[1] * cyc
    fp[DF_RRD_L], fp[DF_RRD_S] = act[0] * cyc, act[1] * cyc
    fp[DF_RFC], fp[DF_REFI] = d.tRFC * cyc, d.tREFI * cyc
    fp[DF_CPB] = cfg.clock_ghz / d.channel_bandwidth_gb_per_s    # core cycles per bus byte
    fp[DF_BURST] = burst * fp[DF_CPB]
    fp[DF_CL0:DF_CL0 + 12] = (cl0 * cyc).reshape(-1)
    fp[DF_CL1:DF_CL1 + 12] = (cl1 * cyc).reshape(-1)
    # the widest column-to-column distance (with a full burst): commands further apart cannot
    # constrain each other
    fp[DF_SPAN_LONG] = max(float(cl0.max()), float(cl1.max())) * cyc + fp[DF_BURST] + 1.0
    # ... and without write-to-read turnarounds (the only long ones)
    short = max(float(np.delete(cl0.reshape(3, 4), 2, axis=1).max()),
                float(np.delete(cl1.reshape(3, 4), 2, axis=1).max()))
    fp[DF_SPAN_SHORT] = short * cyc + fp[DF_BURST] + 1.0
    fp[DF_INV_REFI] = 1.0 / fp[DF_REFI] if fp[DF_REFI] > 0 else 0.0
    for r in range(d.ranks):                 # ranks staggered by tREFI / ranks
        fp[DF_ROFF + r] = fp[DF_REFI] * (r + 0.5) / d.ranks
    mp = np.zeros((len(FIELDS), MP_N), dtype=np.int64)
    counts = {"ch": -1, "ra": d.ranks, "bg": d.bank_groups, "ba": d.banks_per_group,
              "ro": d.rows, "co": d.row_bytes // burst}
    for i, f in enumerate(reversed(parse_mapping(d.mapping))):
        mp[i, MP_FIELD] = FIELDS.index(f)
        mp[i, MP_COUNT] = counts[f]          # ch: the region's channel count, given at run time
        mp[i, MP_SHIFT] = pow2_shift(counts[f]) if counts[f] > 0 else -1
        mp[i, MP_MASK] = pow2_mask(counts[f]) if counts[f] > 0 else -1
    nb = nch * nbanks
    nr = nch * d.ranks
    qt, wb = max(1, d.queue_depth), max(1, d.write_buffer)
    bk_i = np.zeros((nb, BI_N), dtype=np.int64)
    bk_i[:, BI_ROW] = -1
    bk_i[:, BI_PROW] = -1
    rk_f = np.zeros((nr, 1 + HIST_ACT))
    rk_f[:, RF_FLOOR] = EMPTY
    ch_f = np.zeros((nch, CF_TQ + qt + 2 * wb))
    ch_f[:, CF_FLOOR] = EMPTY
    ch_f[:, CF_LAST_WR] = EMPTY
    return DramState(
        ip=ip, fp=fp, mp=mp, bk_i=bk_i, bk_f=np.zeros((nb, BK_N + max(1, d.bank_queue_depth))),
        rk_i=np.zeros((nr, RI_N + HIST_ACT), dtype=np.int64), rk_f=rk_f,
        ch_i=np.zeros((nch, CI_WB0 + 2 * wb), dtype=np.int64), ch_f=ch_f,
        cnt=np.zeros(DC_N, dtype=np.int64), cntf=np.zeros(DCF_N, dtype=np.float64))


# ================================================================================================
# Address mapping

@njit(inline="always")
def _fold(ip, ch, ra, ba, ro):
    """Channel ch of a mapping with `fold` times the machine's channels per die, folded onto
    them (a miniature of a larger machine: docs/sampling.md). Channel die x M + e x C + l of
    the mapping (M = fold x C, C the machine's channels per die) goes to channel die x C + l;
    its bank keeps its bank group, and its rank and bank j = ra x BPG + ba become
    (j + e) mod R (R = ranks x BPG); the row becomes (ro, e div R, j). A bijection: each bank
    group takes the share of the accesses it takes on the larger machine, the neighbouring
    bursts that go to channels e = 0, 1, ... there go to different banks here, and a bank's
    row holds as many bursts as before."""
    c = ip[DI_CHPD]
    m = ip[DI_MCHPD]
    die = ch // m
    e = (ch - die * m) // c
    rb = ip[DI_RANKS] * ip[DI_BPG]
    j = ra * ip[DI_BPG] + ba
    k = (j + e) % rb
    wraps = (ip[DI_FOLD] + rb - 1) // rb
    ro = (ro * wraps + e // rb) * rb + j
    return die * c + (ch - die * m) % c, k // ip[DI_BPG], k % ip[DI_BPG], ro


@njit(inline="always")
def dram_map(D, phys, tdie):
    """(global channel, bank within the channel, row) of physical address phys in a region
    interleaved over all channels (tdie < 0) or over die tdie's."""
    ip = D.ip
    mp = D.mp
    x = phys >> ip[DI_BURST_SHIFT]
    ch = 0
    ra = 0
    bg = 0
    ba = 0
    ro = 0
    upper = 0
    if tdie < 0:
        nch = ip[DI_MNCH]
        nmask = ip[DI_MNCH_MASK]
        nshift = ip[DI_MNCH_SHIFT]
    else:
        nch = ip[DI_MCHPD]
        nmask = ip[DI_MCHPD_MASK]
        nshift = ip[DI_MCHPD_SHIFT]
    for i in range(mp.shape[0]):
        f = mp[i, MP_FIELD]
        if f == F_CH:
            ch = mod_(x, nch, nmask)
            x = div_(x, nch, nshift)
            upper = x
            continue
        v = mod_(x, mp[i, MP_COUNT], mp[i, MP_MASK])
        x = div_(x, mp[i, MP_COUNT], mp[i, MP_SHIFT])
        if f == F_RA:
            ra = v
        elif f == F_BG:
            bg = v
        elif f == F_BA:
            ba = v
        elif f == F_RO:
            ro = v
    if ip[DI_HASH] == 1:
        ch = mod_(ch + (upper ^ (upper >> 8) ^ (upper >> 16)), nch, nmask)
    if ip[DI_FOLD] > 1:
        ch, ra, ba, ro = _fold(ip, ch, ra, ba, ro)
    if tdie >= 0:
        ch += tdie * ip[DI_CHPD]
    bank = (ra * ip[DI_BGS] + bg) * ip[DI_BPG] + ba
    return ch, bank, ro


# ================================================================================================
# Scheduling (helpers inlined into dram_schedule, which is compiled once)

@njit(inline="always")
def _find(arr, row, off, n, t):
    """First k in 0..n with arr[row, off + k] > t (arr[row, off:off + n] sorted). Usually near
    the end (requests come roughly in time order): a few steps back from it, then a binary
    search of the rest."""
    hi = n
    lim = n - FIND_BACK if n > FIND_BACK else 0
    while hi > lim and arr[row, off + hi - 1] > t:
        hi -= 1
    if hi > lim or hi == 0:
        return hi
    lo = 0
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[row, off + mid] > t:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(inline="always")
def _col_earliest(D, ch, t, rank, bg, wr, dur):
    """The earliest time >= t a column command (rank, bank group, read/write, burst dur) may
    issue on channel ch, given the column commands remembered there (sorted by time), before or
    after it. One pass over the commands within reach: when t must move past one, it moves to
    the latest "after" bound of every command seen so far, so those before it stay satisfied."""
    fp = D.fp
    ch_f = D.ch_f
    ch_i = D.ch_i
    mek = (rank << 8) | (bg << 1)
    # how far apart two commands can constrain each other: long only from a write to a read
    if wr == 1:
        back = fp[DF_SPAN_SHORT]
        ahead = fp[DF_SPAN_LONG]
    else:
        back = fp[DF_SPAN_LONG] if ch_f[ch, CF_LAST_WR] > t - fp[DF_SPAN_LONG] else fp[DF_SPAN_SHORT]
        ahead = fp[DF_SPAN_SHORT]
    if t < ch_f[ch, CF_FLOOR]:
        t = ch_f[ch, CF_FLOOR]
    n = ch_i[ch, CI_HC]
    if n == 0 or t >= ch_f[ch, CF_HT + n - 1] + back:
        return t                                   # after everything, beyond reach
    j = _find(ch_f, ch, CF_HT, n - 1, t - back)     # the first one within reach
    m = t                                          # the latest "me after it" bound seen
    while j < n:
        et = ch_f[ch, CF_HT + j]
        if et >= t + ahead:
            break
        ek = ch_i[ch, CI_HK + j]
        ew = ek & 1
        rel = 0 if (ek & ~1) == mek else (1 if (ek >> 8) == rank else 2)
        k = rel * 4 + ew * 2 + wr
        bound = et + max(fp[DF_CL0 + k], fp[DF_CL1 + k] + ch_f[ch, CF_HD + j])   # me after it
        if bound > m:
            m = bound
        if et <= t:
            if t < bound:
                t = bound
        else:
            k = rel * 4 + wr * 2 + ew                                        # me before it
            if t + max(fp[DF_CL0 + k], fp[DF_CL1 + k] + dur) > et:
                t = m
        j += 1
    return t


@njit(inline="always")
def _col_record(D, ch, t, rank, bg, wr, dur):
    """Remember a column command (sorted by time). A full history forgets its oldest quarter;
    no later command goes before the end of their reach (the floor)."""
    fp = D.fp
    ch_f = D.ch_f
    ch_i = D.ch_i
    n = ch_i[ch, CI_HC]
    if n == HIST_COL:
        k = HIST_COL // 4
        for i in range(k):
            reach = ch_f[ch, CF_HT + i] + fp[DF_SPAN_LONG]
            if reach > ch_f[ch, CF_FLOOR]:
                ch_f[ch, CF_FLOOR] = reach
        for i in range(n - k):
            ch_f[ch, CF_HT + i] = ch_f[ch, CF_HT + i + k]
            ch_f[ch, CF_HD + i] = ch_f[ch, CF_HD + i + k]
            ch_i[ch, CI_HK + i] = ch_i[ch, CI_HK + i + k]
        n -= k
    j = n                       # insertion from the end: the later ones move up by one
    while j > 0 and ch_f[ch, CF_HT + j - 1] > t:
        ch_f[ch, CF_HT + j] = ch_f[ch, CF_HT + j - 1]
        ch_f[ch, CF_HD + j] = ch_f[ch, CF_HD + j - 1]
        ch_i[ch, CI_HK + j] = ch_i[ch, CI_HK + j - 1]
        j -= 1
    ch_f[ch, CF_HT + j] = t
    ch_f[ch, CF_HD + j] = dur
    ch_i[ch, CI_HK + j] = (rank << 8) | (bg << 1) | wr
    if wr == 1 and t > ch_f[ch, CF_LAST_WR]:
        ch_f[ch, CF_LAST_WR] = t
    ch_i[ch, CI_HC] = n + 1


@njit(inline="always")
def _act_earliest(D, rk, t, bg):
    """The earliest time >= t an activation in bank group bg of rank rk (global rank index) may
    issue, given the rank's remembered activations a[0..n) (sorted): tRRD_S / tRRD_L from each,
    and every five consecutive activations spanning tFAW or more. Sweeps the gaps between
    remembered activations from t's on: in the gap before a[i] the earliest time is bounded
    below by the activations before it and must leave room for those after it. After LOOKAHEAD
    gaps it goes to the last one."""
    a = D.rk_f
    g = D.rk_i
    o = 1                                       # times / bank groups start at column 1
    faw = D.fp[DF_FAW]
    if D.ip[DI_FAULT] & FAULT_NO_FAW:
        faw = 0.0
    rrd_l = D.fp[DF_RRD_L]
    rrd_s = D.fp[DF_RRD_S]
    if t < a[rk, RF_FLOOR]:
        t = a[rk, RF_FLOOR]
    n = g[rk, 0]
    i = _find(a, rk, o, n, t)                   # t lies in the gap before a[i]
    gaps = 0
    while True:
        gaps += 1
        if gaps == LOOKAHEAD and i < n:
            i = n
            if t < a[rk, o + n - 1]:
                t = a[rk, o + n - 1]
        lo = t
        for j in range(i - 1, -1, -1):          # tRRD after the ones before
            if a[rk, o + j] <= lo - rrd_l:
                break
            gap = rrd_l if g[rk, o + j] == bg else rrd_s
            if lo < a[rk, o + j] + gap:
                lo = a[rk, o + j] + gap
        if i >= 4 and lo < a[rk, o + i - 4] + faw:   # the window ending with it
            lo = a[rk, o + i - 4] + faw
        if i < n and lo >= a[rk, o + i]:
            t = lo                              # pushed past the next one: next gap
            i = _find(a, rk, o, n, t)
            continue
        ok = True
        j = i                                   # tRRD before the ones after
        while j < n and a[rk, o + j] < lo + rrd_l:
            gap = rrd_l if g[rk, o + j] == bg else rrd_s
            if a[rk, o + j] - lo < gap:
                ok = False
                break
            j += 1
        if ok:
            # the windows of five holding it and 1..4 of the ones after it
            for k in range(4):                  # k of the window's others come before it
                last = i + 3 - k
                if last >= n or i - k < 0:
                    continue
                first = lo if k == 0 else a[rk, o + i - k]
                if a[rk, o + last] - first < faw:
                    ok = False
                    break
        if ok:
            return lo
        t = a[rk, o + i]                        # no room in this gap: try the next
        i += 1


@njit(inline="always")
def _act_record(D, rk, t, bg):
    """Remember an activation (sorted by time). A full history forgets its oldest quarter; no
    later activation goes within tFAW of them (the floor)."""
    a = D.rk_f
    g = D.rk_i
    o = 1
    n = g[rk, 0]
    if n == HIST_ACT:
        k = HIST_ACT // 4
        a[rk, RF_FLOOR] = a[rk, o + k - 1] + D.fp[DF_FAW] + D.fp[DF_RRD_L]
        for i in range(n - k):
            a[rk, o + i] = a[rk, o + i + k]
            g[rk, o + i] = g[rk, o + i + k]
        n -= k
    j = n                       # insertion from the end: the later ones move up by one
    while j > 0 and a[rk, o + j - 1] > t:
        a[rk, o + j] = a[rk, o + j - 1]
        g[rk, o + j] = g[rk, o + j - 1]
        j -= 1
    a[rk, o + j] = t
    g[rk, o + j] = bg
    g[rk, 0] = n + 1


@njit(inline="always")
def _refresh_epoch(D, rank, t):
    """The rank's refresh period holding t: refresh k starts at off + k tREFI (ranks staggered
    by tREFI / ranks) and lasts tRFC; returns (k, its start)."""
    off = D.fp[DF_ROFF + rank]
    k = np.floor((t - off) * D.fp[DF_INV_REFI])
    return k, off + k * D.fp[DF_REFI]


@njit(inline="always")
def _refresh_free(D, rank, t, span):
    """The earliest time >= t at which [t, t + span) misses the rank's refresh windows."""
    if D.fp[DF_REFI] <= 0.0 or D.ip[DI_FAULT] & FAULT_NO_REFRESH:
        return t
    k, s = _refresh_epoch(D, rank, t + span)     # the last refresh starting before t + span
    if s + D.fp[DF_RFC] > t:
        return s + D.fp[DF_RFC]
    return t


@njit(inline="always")
def _act_place(D, rk, rank, ta, bg):
    """The earliest time >= ta an activation may issue (rank constraints, refresh)."""
    for _ in range(8):
        ta = _act_earliest(D, rk, ta, bg)
        t0 = ta
        ta = _refresh_free(D, rank, ta, D.fp[DF_RAS])
        if ta == t0:
            break
    return ta


@njit(inline="always")
def _col_place(D, ch, tc, rank, bg, wr, dur):
    """The earliest time >= tc a column command may issue (channel constraints, refresh)."""
    for _ in range(8):
        tc = _col_earliest(D, ch, tc, rank, bg, wr, dur)
        t0 = tc
        tc = _refresh_free(D, rank, tc, 0.0)
        if tc == t0:
            break
    return tc


@njit(cache=True, _nrt=False)
def dram_schedule(D, ch, bank, row, wr, t, dur):
    """Schedule one access (column command) to bank `bank` of channel ch, row `row`, read (wr
    0) or write (1), its data burst `dur` cycles on the bus, the request at the controller at t.
    Returns the time its data transfer ends. (Not inlined: compiled once for every caller.)"""
    ip = D.ip
    fp = D.fp
    bk_f = D.bk_f
    fault = ip[DI_FAULT]
    gb = ch * ip[DI_NBANKS] + bank
    rank = div_(bank, ip[DI_BGS] * ip[DI_BPG], ip[DI_RANK_SHIFT])
    bg = mod_(div_(bank, ip[DI_BPG], ip[DI_BPG_SHIFT]), ip[DI_BGS], ip[DI_BGS_MASK])
    rk = ch * ip[DI_RANKS] + rank
    t += fp[DF_CTRL]
    t_arr = t                                    # at the controller: queueing counts from here
    # admission: a read enters the transaction queue (when the read QT before it has moved on
    # to its bank queue; writes come from the write buffer), then its bank queue (when the
    # bank's request QB before it has issued)
    qt = ip[DI_QT] if (wr == 0 or ip[DI_WB] == 0) else 0
    h = D.ch_i[ch, CI_TQ]
    if qt > 0 and D.ch_f[ch, CF_TQ + h] > t:
        t = D.ch_f[ch, CF_TQ + h]
    D.cntf[DCF_ACCEPT] = t - fp[DF_CTRL]         # accepted (in the requester's time)
    qb = ip[DI_QB]
    hb = D.bk_i[gb, BI_BQ]
    if qb > 0 and bk_f[gb, BK_N + hb] > t:
        t = bk_f[gb, BK_N + hb]
    t_in = t
    if fault & FAULT_NO_BUS:
        dur = 0.0
    tc = -1.0
    if D.bk_i[gb, BI_PROW] == row and D.bk_i[gb, BI_PHITS] < ROW_HIT_CAP:
        tc = _overtake(D, ch, gb, rank, bg, wr, t, dur)
    if tc >= 0.0:                                # a row hit served before the conflict's PRE
        D.cnt[DC_HITS] += 1
        D.bk_i[gb, BI_PHITS] += 1
        bk_f[gb, BK_PCOL] = tc                   # the row's requests keep their order
        _col_record(D, ch, tc, rank, bg, wr, dur)
        ideal = t_arr
    else:
        tc, ideal = _in_order(D, ch, gb, rank, rk, bg, row, wr, t, t_arr, dur)
    if qt > 0:
        D.ch_f[ch, CF_TQ + h] = t_in
        D.ch_i[ch, CI_TQ] = h + 1 if h + 1 < qt else 0
    if qb > 0:
        bk_f[gb, BK_N + hb] = tc
        D.bk_i[gb, BI_BQ] = hb + 1 if hb + 1 < qb else 0
    D.cntf[DCF_QUEUE] += tc - ideal
    if wr == 1:
        D.cnt[DC_WRITES] += 1
        return tc + fp[DF_CWL] + dur
    D.cnt[DC_READS] += 1
    return tc + fp[DF_CL] + dur


@njit(inline="always")
def _overtake(D, ch, gb, rank, bg, wr, t, dur):
    """FR-FCFS: a row hit to the row that was open before the bank's last conflict, served ahead
    of that conflict's precharge (after the row's earlier requests) when its column command and
    its read-to-precharge or write recovery fit before the precharge; the time of its column
    command, or -1."""
    fp = D.fp
    tc = t if t > D.bk_f[gb, BK_PCOL] else D.bk_f[gb, BK_PCOL]
    tc = _col_place(D, ch, tc, rank, bg, wr, dur)
    if wr == 1:
        pre = tc + fp[DF_WR_PRE] + fp[DF_WR_PRE_D] * dur
    else:
        pre = tc + fp[DF_RTP]
    return tc if pre <= D.bk_f[gb, BK_PPRE] else -1.0


@njit(inline="always")
def _in_order(D, ch, gb, rank, rk, bg, row, wr, t, t_arr, dur):
    """A request served after the bank's earlier ones: a row hit's column command, or PRE (a
    conflict), ACT and the column command, each at the earliest time the constraints allow.
    Returns (the column command's time, its unloaded time)."""
    fp = D.fp
    bk_f = D.bk_f
    bk_i = D.bk_i
    if bk_f[gb, BK_LAST] > t:                    # one bank serves its requests in order
        t = bk_f[gb, BK_LAST]
    open_row = bk_i[gb, BI_ROW]
    epoch = 0
    if fp[DF_REFI] > 0.0:
        epoch = np.int64(_refresh_epoch(D, rank, t)[0])
        if epoch != bk_i[gb, BI_EPOCH]:
            open_row = -1                        # a refresh since its last access closed it
    rcd = 0.0 if D.ip[DI_FAULT] & FAULT_NO_TRCD else fp[DF_RCD]
    if open_row == row:
        D.cnt[DC_HITS] += 1
        bk_i[gb, BI_HITS] += 1
        tc = t if t > bk_f[gb, BK_COL] else bk_f[gb, BK_COL]
        ideal = t_arr
    else:
        ta = t
        bk_i[gb, BI_PROW] = -1
        if open_row >= 0:
            D.cnt[DC_CONFLICTS] += 1
            tp = t if t > bk_f[gb, BK_PRE] else bk_f[gb, BK_PRE]
            ta = tp + fp[DF_RP]
            ideal = t_arr + fp[DF_RP] + rcd
            if fp[DF_REFI] <= 0.0 or np.int64(_refresh_epoch(D, rank, tp)[0]) == epoch:
                # the open row until the PRE: later row hits to it may go first (FR-FCFS)
                bk_i[gb, BI_PROW] = open_row
                bk_i[gb, BI_PHITS] = bk_i[gb, BI_HITS]
                bk_f[gb, BK_PCOL] = max(bk_f[gb, BK_COL], bk_f[gb, BK_LAST])
                bk_f[gb, BK_PPRE] = tp
        else:
            D.cnt[DC_MISSES] += 1
            ideal = t_arr + rcd
        if bk_f[gb, BK_ACT] > ta:
            ta = bk_f[gb, BK_ACT]
        ta = _act_place(D, rk, rank, ta, bg)
        _act_record(D, rk, ta, bg)
        D.cnt[DC_ACTS] += 1
        bk_i[gb, BI_HITS] = 0
        bk_f[gb, BK_ACT] = ta + fp[DF_RC]
        bk_f[gb, BK_PRE] = ta + fp[DF_RAS]
        bk_f[gb, BK_COL] = ta + rcd
        tc = bk_f[gb, BK_COL]
    tc = _col_place(D, ch, tc, rank, bg, wr, dur)
    _col_record(D, ch, tc, rank, bg, wr, dur)
    bk_f[gb, BK_LAST] = tc
    if fp[DF_REFI] > 0.0:
        bk_i[gb, BI_EPOCH] = np.int64(_refresh_epoch(D, rank, tc)[0])
    if wr == 1:
        pre = tc + fp[DF_WR_PRE] + fp[DF_WR_PRE_D] * dur
    else:
        pre = tc + fp[DF_RTP]
    if pre > bk_f[gb, BK_PRE]:
        bk_f[gb, BK_PRE] = pre
    if D.ip[DI_CLOSE] == 1:
        # auto-precharge: the bank closes as soon as it may
        bk_i[gb, BI_ROW] = -1
        nxt = bk_f[gb, BK_PRE] + fp[DF_RP]
        if nxt > bk_f[gb, BK_ACT]:
            bk_f[gb, BK_ACT] = nxt
    else:
        bk_i[gb, BI_ROW] = row
    return tc, ideal


@njit(inline="always")
def _write_ready(D, ch, bank, row):
    """When bank `bank` of channel ch could take a write to `row`: its next column command after
    the ACT (and PRE) the write needs, and after its last request."""
    gb = ch * D.ip[DI_NBANKS] + bank
    bk_f = D.bk_f
    open_row = D.bk_i[gb, BI_ROW]
    if open_row == row:
        r = bk_f[gb, BK_COL]
    elif open_row < 0:
        r = bk_f[gb, BK_ACT] + D.fp[DF_RCD]
    else:
        r = max(bk_f[gb, BK_PRE] + D.fp[DF_RP], bk_f[gb, BK_ACT]) + D.fp[DF_RCD]
    return r if r > bk_f[gb, BK_LAST] else bk_f[gb, BK_LAST]


@njit(inline="always")
def _take_ready_write(D, ch, k, n):
    """Move the buffered write (k..n) whose bank can take it earliest (the oldest on ties) to
    place k, the others keeping their order."""
    ci = CI_WB0
    wq = CF_TQ + max(1, D.ip[DI_QT])
    best = k
    bkey = INF
    for j in range(k, n):
        key = _write_ready(D, ch, D.ch_i[ch, ci + 2 * j], D.ch_i[ch, ci + 2 * j + 1])
        if key < bkey:
            best = j
            bkey = key
    bank = D.ch_i[ch, ci + 2 * best]
    row = D.ch_i[ch, ci + 2 * best + 1]
    a = D.ch_f[ch, wq + 2 * best]
    dur = D.ch_f[ch, wq + 2 * best + 1]
    for j in range(best, k, -1):
        D.ch_i[ch, ci + 2 * j] = D.ch_i[ch, ci + 2 * j - 2]
        D.ch_i[ch, ci + 2 * j + 1] = D.ch_i[ch, ci + 2 * j - 1]
        D.ch_f[ch, wq + 2 * j] = D.ch_f[ch, wq + 2 * j - 2]
        D.ch_f[ch, wq + 2 * j + 1] = D.ch_f[ch, wq + 2 * j - 1]
    D.ch_i[ch, ci + 2 * k] = bank
    D.ch_i[ch, ci + 2 * k + 1] = row
    D.ch_f[ch, wq + 2 * k] = a
    D.ch_f[ch, wq + 2 * k + 1] = dur


@njit(cache=True, _nrt=False)
def dram_drain(D, ch, t):
    """Drain channel ch's write buffer: every write buffered, from t on, ready-first across banks
    (each time the buffered write whose bank can take it earliest, the oldest on ties), each at
    the earliest time the constraints allow. Returns when the last one ends."""
    n = D.ch_i[ch, CI_WB]
    wq = CF_TQ + max(1, D.ip[DI_QT])
    done = t
    for k in range(n):
        _take_ready_write(D, ch, k, n)
        a = D.ch_f[ch, wq + 2 * k]
        end = dram_schedule(D, ch, D.ch_i[ch, CI_WB0 + 2 * k], D.ch_i[ch, CI_WB0 + 2 * k + 1], 1,
                            a if a > t else t, D.ch_f[ch, wq + 2 * k + 1])
        if end > done:
            done = end
    D.ch_i[ch, CI_WB] = 0
    return done


@njit(inline="always")
def dram_access(D, ch, bank, row, wr, t, nbytes):
    """An access of nbytes (one column command) reaching channel ch's controller at t. A read
    returns when its data has arrived; a write when the write buffer has accepted it (the
    buffer drains when full, or when at least write_low are buffered and no command waits)."""
    dur = nbytes * D.fp[DF_CPB]
    if wr == 0 or D.ip[DI_WB] == 0:
        return dram_schedule(D, ch, bank, row, wr, t, dur)
    n = D.ch_i[ch, CI_WB]
    wq = CF_TQ + max(1, D.ip[DI_QT])
    D.ch_i[ch, CI_WB0 + 2 * n] = bank
    D.ch_i[ch, CI_WB0 + 2 * n + 1] = row
    D.ch_f[ch, wq + 2 * n] = t
    D.ch_f[ch, wq + 2 * n + 1] = dur
    D.ch_i[ch, CI_WB] = n + 1
    D.cntf[DCF_ACCEPT] = t
    # drain when full, or when enough are buffered and no command waits in the channel: its
    # latest column command (every scheduled request has one, after its PRE and ACT) is past
    hc = D.ch_i[ch, CI_HC]
    if n + 1 >= D.ip[DI_WB] or (0 < D.ip[DI_WLOW] <= n + 1 and (
            hc == 0 or D.ch_f[ch, CF_HT + hc - 1] <= t + D.fp[DF_CTRL])):
        dram_drain(D, ch, t)
    return t + D.fp[DF_CTRL]


@njit(cache=True, _nrt=False)
def drain_all(D, t):
    """Schedule every buffered write of every channel from t on (end of a phase); returns when
    the last ends."""
    done = t
    for ch in range(D.ip[DI_NCH]):
        if D.ch_i[ch, CI_WB] > 0:
            end = dram_drain(D, ch, t)
            if end > done:
                done = end
    return done


# ================================================================================================
# Synthetic streams (`smash micro`)

PATTERNS = ("seq", "random", "mixed", "rmw", "chain-random", "chain-seq")
P_SEQ, P_RANDOM, P_MIXED, P_RMW, P_CHAIN_RANDOM, P_CHAIN_SEQ = range(6)


@njit(cache=True, _nrt=False)
def _micro_run(D, pattern, n, window, access, blocks, seed, lat, ring):
    """Offer n requests of `pattern` (access bytes each, over `blocks` aligned blocks) to die 0's
    DRAM controllers: `window` requests in flight (closed loop: the next is offered when one
    returns) or, window 0, as fast as the controllers accept them (in order: each is offered
    when the one before it was accepted, a read into the transaction queue, a write into the
    write buffer). rmw: a read, then a write of the same address (the write is posted; the
    window counts reads). mixed: with probability 1/2 the same channel, rank, bank and
    row as the previous request (another column), else uniform. Fills lat[k] with request k's
    read latency; returns when the last request completed (cycles). ring: window zeros."""
    np.random.seed(seed)
    head = 0
    last = 0.0
    acc = 0.0
    ch = 0
    bank = 0
    row = 0
    wr = 0
    for k in range(2 * n if pattern == P_RMW else n):
        if window == 0:
            t = acc
        if wr == 0:
            if window > 0:
                t = ring[head]
            if pattern == P_SEQ or pattern == P_CHAIN_SEQ:
                ch, bank, row = dram_map(D, (k % blocks) * access, 0)
            elif not (pattern == P_MIXED and k > 0 and np.random.random() < 0.5):
                ch, bank, row = dram_map(D, np.random.randint(0, blocks) * access, 0)
        done = dram_access(D, ch, bank, row, wr, t, access)
        acc = D.cntf[DCF_ACCEPT]      # an in-order source offers the next when this one is in
        if done > last:
            last = done
        if wr == 0:
            lat[k // 2 if pattern == P_RMW else k] = done - t
            if window > 0:
                ring[head] = done
                head = head + 1 if head + 1 < window else 0
        if pattern == P_RMW:
            wr = 1 - wr          # the write of the same address, offered with its read
    return drain_all(D, last)


def micro(cfg, pattern: str, outstanding: int | None = None, requests: int = 20000,
          access_bytes: int | None = None, seed: int = 1, footprint_bytes: int = 4 << 30,
          _fault: int = 0) -> dict:
    """One synthetic stream offered to the DRAM of die 0 of `cfg` (its controllers alone: no
    cores, no network). pattern: one of PATTERNS; outstanding: requests in flight (closed loop;
    None: as fast as the controllers accept them; chains: always 1); access_bytes: bytes per
    request (default one burst), aligned; footprint: the address range (uniform patterns).
    Returns bandwidth (read and written bytes over the run), mean read latency, row-buffer hit
    rate (of all column commands) and activations, with their counts."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern: expected one of {', '.join(PATTERNS)}, got {pattern!r}")
    access = cfg.dram.burst_bytes if access_bytes is None else int(access_bytes)
    if access <= 0 or access > cfg.dram.burst_bytes or access % cfg.dram.access_granularity_bytes:
        raise ValueError(f"access_bytes: expected a multiple of the access granularity "
                         f"({cfg.dram.access_granularity_bytes}) up to one burst "
                         f"({cfg.dram.burst_bytes}), got {access}")
    if requests < 1:
        raise ValueError(f"requests: expected at least 1, got {requests}")
    window = 1 if pattern.startswith("chain") else (0 if outstanding is None else int(outstanding))
    if window < 0 or (outstanding is not None and window < 1):
        raise ValueError(f"outstanding: expected at least 1, got {outstanding}")
    D = new_state(cfg, _fault)          # _fault: tests only (FAULT_*)
    lat = np.zeros(requests)
    last = _micro_run(D, PATTERNS.index(pattern), int(requests), window, access,
                      max(1, footprint_bytes // access), int(seed), lat, np.zeros(max(window, 1)))
    c = D.cnt
    cols = int(c[DC_HITS] + c[DC_MISSES] + c[DC_CONFLICTS])
    nbytes = requests * access * (2 if pattern == "rmw" else 1)
    ns = last / cfg.clock_ghz
    return {"pattern": pattern, "preset": cfg.name, "outstanding": window or None,
            "requests": int(requests), "access_bytes": access,
            "bandwidth_gb_per_s": nbytes / ns if ns > 0 else 0.0,
            "latency_ns_mean": float(lat.mean()) / cfg.clock_ghz,
            "row_hit_rate": int(c[DC_HITS]) / cols if cols else 0.0,
            "activations": int(c[DC_ACTS]),
            "row_hits": int(c[DC_HITS]), "row_misses": int(c[DC_MISSES]),
            "row_conflicts": int(c[DC_CONFLICTS]),
            "peak_gb_per_s": cfg.dram.channels_per_die * cfg.dram.channel_bandwidth_gb_per_s,
            "elapsed_ns": ns}
