"""Closed-form validation of the timing engine, and its speed benchmark.

Each check builds a microbenchmark trace, runs the engine and compares one number with its
closed-form value computed from the config alone. A record is
`{name, model, expected, rel_error, ok, unit, preset, details}`; `ok` means within TOLERANCE
(for an expected value of 0, the absolute error is used).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from simulator.machine import engine as E
from simulator.machine.config import MachineConfig, load_config
from simulator.machine.sim import Phase, Simulation, StaticLists, StaticWindows
from simulator.machine.trace import ATOMIC, COMPUTE, DEP, LOAD, NORET, OP_WIDTH, STORE
from simulator.machine.trace import rows as _rows

TOLERANCE = 0.05
# Streaming compares with Little's law at the unloaded latency, which ignores queueing for the
# data bus near saturation (measured up to 6 % below it at the knee).
STREAM_TOLERANCE = 0.08
# An activation-rate bound is reached only with perfect bank scheduling: random requests to
# banks, with finite queues and per-bank order, reach 80-100 % of it (DRAMsim3's random stream
# on the reference DDR4 device: 81 % of peak). A bound check passes in [1 - BOUND_SLACK,
# 1 + TOLERANCE] x bound.
BOUND_SLACK = 0.2
Record = dict[str, Any]


def _record(name: str, model: float, expected: float, unit: str, cfg: MachineConfig,
            tolerance: float = TOLERANCE, bound: bool = False, **details: Any) -> Record:
    """A check's result: ok when the model is within `tolerance` of expected or, for a bound,
    between (1 - BOUND_SLACK) and (1 + tolerance) times it."""
    err = abs(model - expected) / abs(expected) if expected != 0 else abs(model - expected)
    if bound:
        ok = (1 - BOUND_SLACK) * expected <= model <= (1 + tolerance) * expected
    else:
        ok = err <= tolerance
    return {"name": name, "model": float(model), "expected": float(expected),
            "rel_error": float(err), "ok": bool(ok), "unit": unit,
            "tolerance": BOUND_SLACK if bound else tolerance, "bound": bound,
            "preset": cfg.name, "details": details}


def _run_lists(sim: Simulation, traces: list[np.ndarray], threads: np.ndarray, name: str = "check"):
    """Run one phase in which thread threads[i] executes traces[i] (one task each)."""
    def generate(ids: np.ndarray):
        parts = [traces[i] for i in ids]
        ptr = np.concatenate([[0], np.cumsum([p.shape[0] for p in parts])]).astype(np.int64)
        return np.ascontiguousarray(np.concatenate(parts)), ptr
    lists = [np.array([i]) for i in range(len(traces))]
    return sim.run_phase(Phase(name, len(traces), generate, StaticLists(lists), threads=threads))


def _cached(cfg: MachineConfig, access_class: str) -> bool:
    return cfg.cache.size_bytes > 0 and access_class not in cfg.cache.bypass


def without_refresh(cfg: MachineConfig, **dram: Any) -> MachineConfig:
    """cfg with DRAM refresh off (and other DRAM settings changed): the latency and bandwidth
    checks isolate one mechanism each; refresh has its own check."""
    return replace(cfg, dram=replace(cfg.dram, tREFI=0, **dram))


def mean_dram_hops(cfg: MachineConfig, core: int = 0) -> float:
    """Mean one-way mesh hops from a core to the channels of its die (uniform addresses)."""
    from simulator.machine.sim import hop_tables
    _, _, chan_hops = hop_tables(cfg)
    return float(chan_hops[core % cfg.cores_per_die].mean())


def mean_remote_channels(cfg: MachineConfig, core: int = 0) -> float:
    """Share of its die's channels a core reaches through the mesh (not at its own router)."""
    from simulator.machine.sim import hop_tables
    _, _, chan_hops = hop_tables(cfg)
    return float((chan_hops[core % cfg.cores_per_die] > 0).mean())


def tck_cycles(cfg: MachineConfig) -> float:
    """Core cycles per DRAM clock."""
    return cfg.dram.tCK_ns * cfg.clock_ghz


def dram_latency(cfg: MachineConfig, nbytes: int, cached: bool, core: int = 0,
                 row: str = "hit", hops: float | None = None) -> float:
    """Unloaded cycles from issuing a DRAM load to its data (JEDEC command timing): issue,
    (cache lookup), mesh both ways, the controller, then for a row hit RD -> data tCL, for a
    closed bank ACT -> RD tRCD first, for another open row PRE -> ACT tRP before that; the data
    burst (its bytes at the bus rate)."""
    d = cfg.dram
    g = d.access_granularity_bytes
    xfer = cfg.cache.line_bytes if cached else nbytes
    xfer = -(-xfer // g) * g
    if hops is None:
        hops = mean_dram_hops(cfg, core)      # to a channel of its die, uniformly
        remote = mean_remote_channels(cfg, core)
    else:
        remote = 1.0 if hops > 0 else 0.0
    hdr = cfg.network.header_bytes
    # mesh: hops both ways, and a header-only request and a reply with the data, each
    # serialized once (cut-through), when the channel is at another router
    net = (2 * hops * cfg.network.hop_latency_cycles
           + remote * (hdr + hdr + (cfg.cache.line_bytes if cached else nbytes))
           / cfg.network.mesh_link_bytes_per_cycle)
    before = {"hit": 0, "miss": d.tRCD, "conflict": d.tRP + d.tRCD}[row]
    return (1.0 + (cfg.cache.latency_cycles if cached else 0.0) + net
            + d.controller_latency_ns * cfg.clock_ghz + (before + d.tCL) * tck_cycles(cfg)
            + xfer / cfg.channel_bytes_per_cycle)


def dram_address(cfg: MachineConfig, **fields: int) -> int:
    """The physical address of DRAM fields (ch, ra, bg, ba, ro, co; missing ones 0) under the
    config's mapping, without the channel hash: the mapping's definition, most significant
    field first, above the byte within a burst."""
    from simulator.machine.dram import parse_mapping
    d = cfg.dram
    count = {"ch": d.channels_per_die, "ra": d.ranks, "bg": d.bank_groups,
             "ba": d.banks_per_group, "ro": d.rows, "co": d.row_bytes // d.burst_bytes}
    x = 0
    for f in parse_mapping(d.mapping):
        x = x * count[f] + fields.get(f, 0)
    return x * d.burst_bytes


def activation_bound(cfg: MachineConfig) -> float:
    """Activations per cycle one die's DRAM can sustain with one 8-byte access each (closed
    page), from the timing alone: per rank at most 4 per tFAW, one per tRRD_S and (one column
    command each) one per tCCD_S; per bank one per tRC; per channel the data bus (an access
    granule each)."""
    d = cfg.dram
    tck = tck_cycles(cfg)
    per_rank = min(4 / d.tFAW, 1 / d.tRRD_S, 1 / d.tCCD_S) / tck
    per_bank = 1 / ((d.tRAS + d.tRP) * tck)
    bus = cfg.channel_bytes_per_cycle / max(8, d.access_granularity_bytes)
    return d.channels_per_die * min(d.ranks * per_rank, d.banks * per_bank, bus)


# ------------------------------------------------------------------------------------------------
# The checks

def check_streaming(cfg: MachineConfig, threads: int, loads_per_thread: int = 1500,
                    size: int = 64, _fault: int = 0) -> Record | None:
    """T threads of die 0 stream `size`-byte loads from die 0's DRAM (refresh off), together
    walking one range in order (thread i loads blocks i, T + i, 2T + i, ...), each keeping
    its window of outstanding loads full: bandwidth = min(peak, sum over threads of window x
    size / latency), i.e. min(peak, T x bytes in flight / latency) (Little's law), the latency
    that of a row hit (consecutive bursts share rows). Applies when consecutive bursts go to
    different bank groups or channels (the column is not the mapping's lowest field): else
    the walk's column commands are spaced by tCCD_L, or less as the threads drift apart, and
    no closed form holds (`benchmarks/dram_reference.py` compares that case with the
    reference)."""
    from simulator.machine.dram import parse_mapping
    if parse_mapping(cfg.dram.mapping)[-1] == "co":
        return None
    cfg = without_refresh(cfg)
    sim = Simulation(cfg, _fault=_fault)
    cls = "stream"
    cached = _cached(cfg, cls)
    region = sim.dram_region("stream", threads * loads_per_thread * size + 4096, access_class=cls,
                             die=0 if cfg.dies > 1 else "all")
    ids = sim.thread_ids(threads, cores=range(cfg.cores_per_die))
    traces = []
    for i in range(threads):
        off = (np.arange(loads_per_thread) * threads + i) * size
        traces.append(_rows(LOAD, region.addr(off), size))
    rec = _run_lists(sim, traces, ids)
    span = rec.work_end_cycles - rec.start_cycles
    model = threads * loads_per_thread * size / span
    window = cfg.core.max_outstanding_per_thread
    peak = cfg.dram.channels_per_die * cfg.channel_bytes_per_cycle
    cores = sim.th_i[ids, E.TI_CORE]
    demand = sum(window * size / dram_latency(cfg, size, cached, int(c)) for c in cores)
    expected = min(peak, demand)
    return _record(f"stream_bandwidth_T{threads}", model, expected, "bytes/cycle", cfg,
                   tolerance=STREAM_TOLERANCE, threads=threads, window=window, peak_bytes_per_cycle=peak,
                   latency_cycles=dram_latency(cfg, size, cached))


def check_pointer_chase(cfg: MachineConfig, hops: int = 400, seed: int = 1,
                        _fault: int = 0) -> Record:
    """One thread, each load's address depending on the previous one, random over a large
    range, closed-page policy (refresh off): every load activates its row, hops x the
    row-miss latency."""
    cfg = without_refresh(cfg, page_policy="close")
    sim = Simulation(cfg, _fault=_fault)
    cls = "random"
    cached = _cached(cfg, cls)
    span_bytes = max(64 * cfg.cache.size_bytes, 1 << 26)
    region = sim.dram_region("chase", span_bytes, access_class=cls,
                             die=0 if cfg.dies > 1 else "all")
    rng = np.random.default_rng(seed)
    off = rng.integers(0, span_bytes // 64, size=hops) * 64
    trace = _rows(LOAD, region.addr(off), 8, flags=DEP)
    rec = _run_lists(sim, [trace], sim.thread_ids(1))
    model = rec.work_end_cycles - rec.start_cycles
    lat = dram_latency(cfg, 8, cached, row="miss")
    return _record("pointer_chase", model, hops * lat, "cycles", cfg, hops=hops,
                   latency_cycles=lat, cached=cached)


def check_row_hits(cfg: MachineConfig, hops: int = 400, _fault: int = 0) -> Record:
    """One thread, dependent loads to the columns of one row of one bank of channel 0 (open
    page, refresh off, no channel hash, bypassing the cache): the first activates the row, the rest hit it: (hops - 1) x the
    row-hit latency + the row-miss latency."""
    cfg = without_refresh(cfg, page_policy="open", channel_hash=False)
    cfg = replace(cfg, cache=replace(cfg.cache, bypass=tuple(set(cfg.cache.bypass) | {"random"})))
    sim = Simulation(cfg, _fault=_fault)
    cls = "random"
    cached = False
    cols = cfg.dram.row_bytes // cfg.dram.burst_bytes
    span = dram_address(cfg, ro=2) + cfg.dram.row_bytes
    region = sim.dram_region("row", span, access_class=cls, die=0 if cfg.dies > 1 else "all")
    base = int(sim.reg[region.id, E.RG_BASE])
    row = -(-base // max(dram_address(cfg, ro=1), 1))          # a row above the region's base
    phys = np.array([dram_address(cfg, ro=row, co=k % cols) for k in range(hops)])
    trace = _rows(LOAD, region.addr(phys - base), 8, flags=DEP)
    rec = _run_lists(sim, [trace], sim.thread_ids(1))
    model = rec.work_end_cycles - rec.start_cycles
    from simulator.machine.sim import hop_tables
    hops_0 = float(hop_tables(cfg)[2][0, 0])              # core 0 to channel 0
    hit = dram_latency(cfg, 8, cached, row="hit", hops=hops_0)
    miss = dram_latency(cfg, 8, cached, row="miss", hops=hops_0)
    return _record("row_hit_chase", model, (hops - 1) * hit + miss, "cycles", cfg, hops=hops,
                   hit_latency_cycles=hit, miss_latency_cycles=miss, cached=cached)


def check_random_activations(cfg: MachineConfig, per_thread: int = 200, seed: int = 3,
                             _fault: int = 0) -> Record:
    """Every thread of die 0 issues independent 8-byte loads, uniformly random over a range far
    larger than the banks' rows, bypassing the cache (closed page, refresh off): each is an
    activation, and the die sustains the timing's activation bound (tFAW, tRRD_S, tCCD_S per
    rank, tRC per bank) when enough are in flight; the offered rate (threads x window /
    row-miss latency) bounds it otherwise."""
    cfg = without_refresh(cfg, page_policy="close")
    cfg = replace(cfg, cache=replace(cfg.cache, bypass=tuple(set(cfg.cache.bypass) | {"random"})))
    sim = Simulation(cfg, _fault=_fault)
    span = 1 << 30
    region = sim.dram_region("table", span, access_class="random", die=0 if cfg.dies > 1 else "all")
    ids = sim.thread_ids(cores=range(cfg.cores_per_die))
    rng = np.random.default_rng(seed)
    traces = [_rows(LOAD, region.addr(rng.integers(0, span // 8, per_thread) * 8), 8)
              for _ in range(ids.size)]
    rec = _run_lists(sim, traces, ids)
    res = sim.result()
    span_c = rec.work_end_cycles - rec.start_cycles
    model = res.dram_activations / span_c
    offered = ids.size * cfg.core.max_outstanding_per_thread / dram_latency(cfg, 8, False, row="miss")
    expected = min(activation_bound(cfg), offered)
    return _record("random_activation_rate", model, expected, "activations/cycle", cfg,
                   bound=True, timing_bound=activation_bound(cfg), offered=offered, activations=res.dram_activations,
                   loads=ids.size * per_thread)


def check_refresh(cfg: MachineConfig, requests: int = 100_000, _fault: int = 0) -> Record:
    """A saturated sequential stream on die 0's DRAM (its controllers alone, `smash micro`)
    with refresh and without: every rank is unavailable tRFC of every tREFI, so the bandwidth
    ratio is 1 - tRFC / tREFI."""
    from simulator.machine.dram import micro
    d = cfg.dram
    with_ref = micro(cfg, "seq", requests=requests, _fault=_fault)["bandwidth_gb_per_s"]
    without = micro(without_refresh(cfg), "seq", requests=requests)["bandwidth_gb_per_s"]
    expected = 1 - d.tRFC / d.tREFI if d.tREFI else 1.0
    return _record("refresh_bandwidth_ratio", with_ref / without, expected, "ratio", cfg,
                   with_refresh_gb_per_s=with_ref, without_gb_per_s=without)


def check_atomics(cfg: MachineConfig, where: str, per_thread: int = 2640,
                  _fault: int = 0) -> Record | None:
    """Every thread of die 0 hammers one address (on core 0 / die 0) with atomics, about
    `per_thread` in all: they serialize at the unit's occupancy, so cycles per atomic =
    occupancy (+ one latency spread over all of them; at the memory controller the unit reads
    the value from DRAM once and then holds it)."""
    if where == "spad" and cfg.spad.size_bytes < 8:
        return None
    cfg = without_refresh(cfg)
    sim = Simulation(cfg, _fault=_fault)
    if where == "spad":
        region = sim.spad_region("counter", 8, core=0)
        occ = cfg.spad_atomic.occupancy_cycles
        lat = 1 + cfg.spad.latency_cycles + cfg.spad_atomic.latency_cycles
    else:
        region = sim.dram_region("counter", 8, die=0)
        occ = cfg.mc_atomic.occupancy_cycles
        lat = dram_latency(cfg, 8, False, row="miss") + cfg.mc_atomic.latency_cycles
    ids = sim.thread_ids(cores=range(cfg.cores_per_die))
    per_thread = max(4, per_thread // ids.size)
    trace = _rows(ATOMIC, np.full(per_thread, region.addr(0)), 8, flags=NORET)
    rec = _run_lists(sim, [trace] * ids.size, ids)
    n = per_thread * ids.size
    model = (rec.work_end_cycles - rec.start_cycles) / n
    return _record(f"atomic_serialization_{where}", model, occ + lat / n, "cycles/atomic", cfg,
                   atomics=n, occupancy_cycles=occ)


def check_atomic_pipelining(cfg: MachineConfig, k: int = 8, per_thread: int = 2640,
                            _fault: int = 0) -> Record:
    """Every thread of die 0 does atomics round-robin on k different addresses (in different
    access granules) that live on one DRAM channel (and that its atomic unit can hold together): different addresses enter the
    unit one per `interval_cycles` and each address takes one per `occupancy_cycles`, so cycles
    per atomic = max(interval, occupancy / k) (+ the first one's latency spread over all)."""
    from simulator.machine.dram import dram_map
    cfg = without_refresh(cfg)
    sim = Simulation(cfg, _fault=_fault)
    region = sim.dram_region("counters", 1 << 16, die=0)
    base = int(sim.reg[region.id, E.RG_BASE])
    g = max(8, cfg.dram.access_granularity_bytes)   # the unit holds values by granule
    words = np.arange((1 << 16) // g) * g
    chans = np.array([dram_map(sim.dram, base + int(w), 0)[0] for w in words])
    offs = words[chans == chans[0]][:k]
    ids = sim.thread_ids(cores=range(cfg.cores_per_die))
    per_thread = max(4, per_thread // ids.size)
    traces = [_rows(ATOMIC, region.addr(offs[(i + np.arange(per_thread)) % k]), 8, flags=NORET)
              for i in range(ids.size)]
    rec = _run_lists(sim, traces, ids)
    n = per_thread * ids.size
    model = (rec.work_end_cycles - rec.start_cycles) / n
    a = cfg.mc_atomic
    lat = dram_latency(cfg, 8, False, row="miss") + a.latency_cycles
    return _record(f"atomic_pipelining_{k}_addresses", model,
                   max(a.interval_cycles, a.occupancy_cycles / k) + lat / n, "cycles/atomic", cfg,
                   atomics=n, addresses=k)


def check_issue_bound(cfg: MachineConfig, k: int, iterations: int = 400) -> Record | None:
    """k threads of one MTP loop on (scratchpad load; dependent compute): IPC of the pipeline =
    min(1, 2k / (2 + scratchpad latency)), reaching 1 with enough threads."""
    if cfg.core.mtps < 1 or cfg.spad.size_bytes < 8 * 16 * k or k > cfg.core.threads_per_mtp:
        return None
    sim = Simulation(cfg)
    region = sim.spad_region("loop", 8 * 16, per="thread")
    ids = np.arange(k)                      # threads 0..k-1: MTP 0 of core 0
    traces = []
    for i in range(k):
        t = np.empty((2 * iterations, OP_WIDTH), dtype=np.int64)
        t[0::2] = _rows(LOAD, region.addr((np.arange(iterations) % 16) * 8), 8)
        t[1::2] = _rows(COMPUTE, 0, np.ones(iterations), flags=DEP)
        traces.append(t)
    rec = _run_lists(sim, traces, ids)
    span = rec.work_end_cycles - rec.start_cycles
    model = sim.pipe_instr[0] / span
    expected = min(1.0, 2 * k / (2 + cfg.spad.latency_cycles))
    return _record(f"spad_issue_bound_k{k}", model, expected, "IPC", cfg, threads=k)


def check_cache_reuse(cfg: MachineConfig, beyond: bool) -> Record | None:
    """One thread touches W lines twice: hit rate of the second pass is 1 for W = capacity / 2
    and 0 for W = 2 x capacity (LRU, cyclic)."""
    if cfg.cache.size_bytes == 0 or "default" in cfg.cache.bypass:
        return None
    sim = Simulation(cfg)
    lines = cfg.cache.size_bytes // cfg.cache.line_bytes
    w = 2 * lines if beyond else lines // 2
    region = sim.dram_region("reuse", w * cfg.cache.line_bytes, access_class="default",
                             die=0 if cfg.dies > 1 else "all")
    off = np.arange(w) * cfg.cache.line_bytes
    trace = _rows(LOAD, region.addr(np.concatenate([off, off])), 8)
    _run_lists(sim, [trace], sim.thread_ids(1))
    res = sim.result()
    hits = res.cache_hits
    model = hits / w
    return _record("cache_reuse_beyond_capacity" if beyond else "cache_reuse_within_capacity",
                   model, 0.0 if beyond else 1.0, "hit rate (2nd pass)", cfg, lines=w,
                   hits=hits, misses=res.cache_misses)


def check_granularity(cfg: MachineConfig, n: int = 4000, seed: int = 2) -> Record:
    """Random 8-byte loads that bypass the cache: 64-byte access granularity moves 8x the bytes
    of 8-byte granularity (useful bytes unchanged)."""
    rng = np.random.default_rng(seed)
    xfer = {}
    useful = {}
    for g in (8, 64):
        c = replace(cfg, dram=replace(cfg.dram, access_granularity_bytes=g),
                    cache=replace(cfg.cache, bypass=tuple(set(cfg.cache.bypass) | {"random"})))
        sim = Simulation(c)
        region = sim.dram_region("table", 1 << 26, access_class="random",
                                 die=0 if c.dies > 1 else "all")
        off = rng.integers(0, (1 << 26) // 8, size=n) * 8
        _run_lists(sim, [_rows(LOAD, region.addr(off), 8)], sim.thread_ids(1))
        res = sim.result()
        xfer[g] = res.dram_read_transferred_bytes
        useful[g] = res.dram_read_useful_bytes
    return _record("granularity_64_vs_8", xfer[64] / xfer[8], 64 / 8, "transferred ratio", cfg,
                   transferred_8=xfer[8], transferred_64=xfer[64], useful_8=useful[8],
                   useful_64=useful[64])


# ------------------------------------------------------------------------------------------------
# The network: closed forms from the mesh and HyperX parameters (docs/network.md)

NET_STORE_BYTES = 64          # payload of the stores the bandwidth checks send


def mesh_position(cfg: MachineConfig, core: int) -> tuple[int, int]:
    """(row, column) of a core's router on its die's mesh (cores row-major)."""
    return divmod(core % cfg.cores_per_die, cfg.network.mesh_cols)


def mesh_distance(cfg: MachineConfig, a: int, b: int) -> int:
    """Manhattan distance between two cores' routers."""
    (ra, ca), (rb, cb) = mesh_position(cfg, a), mesh_position(cfg, b)
    return abs(ra - rb) + abs(ca - cb)


def die_coords(cfg: MachineConfig, die: int) -> tuple[int, ...]:
    return tuple(int(x) for x in np.unravel_index(die, cfg.network.die_shape))


def hyperx_bytes_per_cycle(cfg: MachineConfig) -> float:
    return cfg.network.link_bandwidth_gb_per_s / cfg.clock_ghz


def _spad_chase(cfg: MachineConfig, core: int, target: int, loads: int, _fault: int) -> float:
    """Cycles per dependent 8-byte load from a thread of `core` to `target`'s scratchpad."""
    sim = Simulation(cfg, _fault=_fault)
    region = sim.spad_region("remote", 4096, core=target)
    trace = _rows(LOAD, region.addr((np.arange(loads) % 512) * 8), 8, flags=DEP)
    rec = _run_lists(sim, [trace], np.array([core * cfg.core.threads]))
    return (rec.work_end_cycles - rec.start_cycles) / loads


def remote_load_latency(cfg: MachineConfig, mesh_hops: int, die_hops: int) -> float:
    """Unloaded cycles of an 8-byte scratchpad load over mesh_hops mesh hops and die_hops
    HyperX hops each way: issue, the hops' latencies, a header-only request and a reply of
    header + 8 bytes each serialized once at the slowest link of the way (cut-through), the
    scratchpad's latency."""
    net = cfg.network
    bw = net.mesh_link_bytes_per_cycle
    if die_hops:
        bw = min(bw, hyperx_bytes_per_cycle(cfg))
    one_way = mesh_hops * net.hop_latency_cycles + die_hops * net.link_latency_cycles
    return (1.0 + 2 * one_way + (2 * net.header_bytes + 8) / bw + cfg.spad.latency_cycles)


def check_mesh_latency(cfg: MachineConfig, loads: int = 200, _fault: int = 0) -> Record | None:
    """A thread of the die's last core chases 8-byte loads in core 0's scratchpad: per load,
    Manhattan distance x hop latency each way + serialization + the scratchpad's latency."""
    if cfg.cores_per_die < 2 or cfg.spad.size_bytes < 4096:
        return None
    far = cfg.cores_per_die - 1
    hops = mesh_distance(cfg, far, 0)
    model = _spad_chase(cfg, far, 0, loads, _fault)
    return _record("mesh_latency", model, remote_load_latency(cfg, hops, 0), "cycles/load", cfg,
                   mesh_hops=hops)


def _store_run(cfg: MachineConfig, pairs: list[tuple[int, int]], per_thread: int, seed: int,
               _fault: int, uniform: bool = False) -> float:
    """Every thread of each sender core stores NET_STORE_BYTES to the scratchpads of its
    destination cores (round-robin; uniformly random over the die's other cores if `uniform`).
    Returns packet bytes per cycle: a request of header + data and an acknowledgement of a
    header per store."""
    sim = Simulation(cfg, _fault=_fault)
    rng = np.random.default_rng(seed)
    cores = sorted({c for pair in pairs for c in pair})
    regions = {c: sim.spad_region(f"sink{c}", 1 << 14, core=c) for c in cores}
    dests: dict[int, list[int]] = {}
    for a, b in pairs:
        dests.setdefault(a, []).append(b)
    traces, ids = [], []
    for a, ds in dests.items():
        for t in range(cfg.core.threads):
            if uniform:
                pick = rng.choice(ds, size=per_thread)
            else:
                pick = np.array(ds)[(t + np.arange(per_thread)) % len(ds)]
            off = rng.integers(0, (1 << 14) // NET_STORE_BYTES, size=per_thread) * NET_STORE_BYTES
            addr = np.array([regions[int(d)].addr(int(o)) for d, o in zip(pick, off)])
            traces.append(_rows(STORE, addr, NET_STORE_BYTES))
            ids.append(a * cfg.core.threads + t)
    rec = _run_lists(sim, traces, np.array(ids))
    n = len(traces) * per_thread
    return n * (NET_STORE_BYTES + 2 * cfg.network.header_bytes) / (rec.work_end_cycles - rec.start_cycles)


def check_mesh_hotspot(cfg: MachineConfig, per_thread: int = 40, _fault: int = 0) -> Record | None:
    """The cores of row 0 left of the middle store to every core right of it: all their
    requests cross one mesh link (row 0, eastward, at the middle), the acknowledgements go
    back over others, so request bytes per cycle = that link's bandwidth."""
    net = cfg.network
    if net.mesh_cols < 2 or cfg.spad.size_bytes < 1 << 15:
        return None
    mid = net.mesh_cols // 2 - 1              # the hot link: (0, mid) -> (0, mid + 1)
    cores = range(cfg.cores_per_die)
    left = [c for c in cores if mesh_position(cfg, c) == (0, mesh_position(cfg, c)[1])
            and mesh_position(cfg, c)[1] <= mid]
    right = [c for c in cores if mesh_position(cfg, c)[1] > mid]
    if not left or not right:
        return None
    pairs = [(a, b) for a in left for b in right]
    total = _store_run(cfg, pairs, per_thread, 5, _fault)
    request_share = (NET_STORE_BYTES + net.header_bytes) / (NET_STORE_BYTES + 2 * net.header_bytes)
    return _record("mesh_hotspot_link", total * request_share, net.mesh_link_bytes_per_cycle,
                   "bytes/cycle", cfg, senders=len(left), receivers=len(right))


def mesh_bisection_bound(cfg: MachineConfig) -> float:
    """Packet bytes per cycle a die's mesh carries under uniform random traffic between its
    cores (each to the others), from its cuts: a cut crossed by L links each way, separating n
    of the N cores from the rest, carries the share 2 n (N - n) / (N (N - 1)) of the traffic,
    so the total is at most 2 L x link bandwidth / that share; and each core's injection port
    bounds it by N x link bandwidth."""
    net = cfg.network
    n_cores = cfg.cores_per_die
    pos = [mesh_position(cfg, c) for c in range(n_cores)]
    bw = net.mesh_link_bytes_per_cycle
    bound = n_cores * bw
    for axis, size, links in ((1, net.mesh_cols, net.mesh_rows), (0, net.mesh_rows, net.mesh_cols)):
        for cut in range(size - 1):
            n = sum(p[axis] <= cut for p in pos)
            share = 2 * n * (n_cores - n) / (n_cores * (n_cores - 1))
            if share > 0:
                bound = min(bound, 2 * links * bw / share)
    return bound


def check_mesh_bisection(cfg: MachineConfig, per_thread: int = 30, _fault: int = 0) -> Record | None:
    """Every thread of die 0 stores to the scratchpads of uniformly random other cores: packet
    bytes per cycle reach the mesh's bisection bound (a bound check)."""
    if cfg.cores_per_die < 2 or cfg.spad.size_bytes < 1 << 15:
        return None
    cores = range(cfg.cores_per_die)
    pairs = [(a, b) for a in cores for b in cores if a != b]
    model = _store_run(cfg, pairs, per_thread, 6, _fault, uniform=True)
    return _record("mesh_bisection_uniform", model, mesh_bisection_bound(cfg), "bytes/cycle",
                   cfg, bound=True)


def check_die_pair_bandwidth(cfg: MachineConfig, per_thread: int = 40,
                             _fault: int = 0) -> Record | None:
    """Every core of die 0 stores to every core of die 1 (one HyperX hop): all requests cross
    the one link from die 0 to die 1, so request bytes per cycle = its bandwidth (when the
    meshes around the link's routers carry more: checked here from their links, _mesh_bound)."""
    net = cfg.network
    if cfg.dies < 2 or cfg.spad.size_bytes < 1 << 15:
        return None
    link = hyperx_bytes_per_cycle(cfg)
    cpd = cfg.cores_per_die
    feed = _mesh_bound(cfg, [(0, a, 1, b, 1.0 / cpd ** 2) for a in range(cpd) for b in range(cpd)])
    if feed <= link * 1.2:
        return None                   # the mesh, not the link, would be the bottleneck
    pairs = [(a, cpd + b) for a in range(cpd) for b in range(cpd)]
    total = _store_run(cfg, pairs, per_thread, 7, _fault)
    request_share = (NET_STORE_BYTES + net.header_bytes) / (NET_STORE_BYTES + 2 * net.header_bytes)
    return _record("hyperx_die_pair_bandwidth", total * request_share, link, "bytes/cycle", cfg,
                   mesh_feed_bytes_per_cycle=feed)


def _xy_path(cfg: MachineConfig, a: int, b: int) -> list[tuple[int, int]]:
    """The directed mesh links (from router, to router) from router a to router b of a die:
    along the row (X), then the column (Y)."""
    cols = cfg.network.mesh_cols
    (r, c), (rb, cb) = divmod(a, cols), divmod(b, cols)
    out = []
    while c != cb:
        step = 1 if cb > c else -1
        out.append((r * cols + c, r * cols + c + step))
        c += step
    while r != rb:
        step = 1 if rb > r else -1
        out.append((r * cols + c, (r + step) * cols + c))
        r += step
    return out


def _port(cfg: MachineConfig, die: int, dim: int, value: int) -> int:
    """The router of `die` where its HyperX link along `dim` to coordinate `value` attaches: the
    die's links are numbered dimension by dimension, coordinates ascending but its own, and
    attach at the interface routers in turn (`network.interface_routers`)."""
    shape = cfg.network.die_shape
    own = die_coords(cfg, die)[dim]
    j = sum(d - 1 for d in shape[:dim]) + (value if value < own else value - 1)
    return cfg.network.port_router(j)


def die_route(cfg: MachineConfig, a: int, ra: int, b: int, rb: int
              ) -> list[tuple[int, list[tuple[int, int]]]]:
    """The mesh part of the route from router ra of die a to router rb of die b, per die it
    crosses: [(die, its mesh links)], the HyperX hops in dimension order between them (a link
    arrives at the router from which the link back leaves)."""
    shape = cfg.network.die_shape
    out = []
    die, r = a, ra
    for dim in range(len(shape)):
        c, cb = list(die_coords(cfg, die)), die_coords(cfg, b)
        if c[dim] != cb[dim]:
            out.append((die, _xy_path(cfg, r, _port(cfg, die, dim, cb[dim]))))
            back = c[dim]
            c[dim] = cb[dim]
            die = int(np.ravel_multi_index(tuple(c), shape))
            r = _port(cfg, die, dim, back)
    out.append((die, _xy_path(cfg, r, rb)))
    return out


def _mesh_bound(cfg: MachineConfig, flows) -> float:
    """Bytes per cycle of traffic split into `flows` (die a, router ra, die b, router rb,
    weight: its share) that no mesh link or core port exceeds its bandwidth under: each flow
    enters at ra's injection port, takes its route's mesh links (`die_route`) and leaves at rb's
    ejection port; the busiest link or port, with share s, bounds the total at bandwidth / s."""
    load: dict[tuple, float] = {}
    for a, ra, b, rb, w in flows:
        for key in [("inject", a, ra), ("eject", b, rb)] + [
                (die, x, y) for die, links in die_route(cfg, a, ra, b, rb) for x, y in links]:
            load[key] = load.get(key, 0.0) + w
    return cfg.network.mesh_link_bytes_per_cycle / max(load.values())


def interface_bound(cfg: MachineConfig) -> float:
    """Packet bytes per cycle all the dies together send each other under uniform traffic
    between the cores of different dies (every ordered pair of cores on different dies alike),
    as the meshes and core ports allow: each packet crosses its source die's mesh to the router
    of its first HyperX link, the mesh of every die it passes through between the router a link
    arrives at and the one the next leaves from, and its destination die's mesh
    (`die_route`); the busiest mesh link or port bounds the total."""
    n, D = cfg.cores_per_die, cfg.dies
    w = 1.0 / (D * (D - 1) * n * n)
    flows = [(a, ra, b, rb, w) for a in range(D) for b in range(D) if a != b
             for ra in range(n) for rb in range(n)]
    return _mesh_bound(cfg, flows)


def hyperx_all_to_all_bound(cfg: MachineConfig) -> float:
    """Packet bytes per cycle under uniform traffic between all dies (each core to cores of the
    other dies): the HyperX bisection (a dimension of size d cut in halves h, d - h is crossed
    by h (d - h) x dies / d links each way, and carries the share 2 m (D - m) / (D (D - 1))
    of the traffic, m = dies on one side), and the meshes around the dies' interfaces
    (interface_bound)."""
    shape = cfg.network.die_shape
    D = cfg.dies
    link = hyperx_bytes_per_cycle(cfg)
    bound = interface_bound(cfg)
    for d in shape:
        if d < 2:
            continue
        h = d // 2
        crossing = h * (d - h) * D // d
        m = D * h // d
        share = 2 * m * (D - m) / (D * (D - 1))
        bound = min(bound, 2 * crossing * link / share)
    return bound


def check_hyperx_all_to_all(cfg: MachineConfig, per_thread: int = 30,
                            _fault: int = 0) -> Record | None:
    """Every thread of every die stores to uniformly random cores of the other dies: packet
    bytes per cycle reach the bound of hyperx_all_to_all_bound (a bound check)."""
    if cfg.dies < 2 or cfg.spad.size_bytes < 1 << 15:
        return None
    cpd = cfg.cores_per_die
    cores = range(cfg.cores)
    pairs = [(a, b) for a in cores for b in cores if a // cpd != b // cpd]
    model = _store_run(cfg, pairs, per_thread, 8, _fault, uniform=True)
    return _record("hyperx_all_to_all", model, hyperx_all_to_all_bound(cfg), "bytes/cycle", cfg,
                   bound=True)


def check_die_latency(cfg: MachineConfig, die_hops: int, loads: int = 50,
                      _fault: int = 0) -> Record | None:
    """A thread of die 0's core at the router of its first HyperX link towards a die die_hops
    hops away (coordinates differing in that many dimensions) chases 8-byte loads in the
    scratchpad of that die's core where the last link arrives: per load, die_hops x link
    latency each way, the mesh hops of the two routes (`die_route`: through the dies passed and
    back to the source), serialization and the scratchpad."""
    shape = cfg.network.die_shape
    cpd = cfg.cores_per_die
    far = [k for k in range(cfg.dies)
           if sum(a != b for a, b in zip(die_coords(cfg, k), die_coords(cfg, 0))) == die_hops]
    if not far or cfg.spad.size_bytes < 4096 or len(shape) < die_hops:
        return None
    dim = next(d for d in range(len(shape)) if die_coords(cfg, far[0])[d] != 0)
    src = _port(cfg, 0, dim, die_coords(cfg, far[0])[dim])
    there = die_route(cfg, 0, src, far[0], 0)
    dst = there[-1][1][0][0] if there[-1][1] else 0     # where the last link arrives
    hops = sum(len(links) for _, links in there[:-1] + die_route(cfg, far[0], dst, 0, src))
    if max(src, dst) >= cpd:
        return None
    model = _spad_chase(cfg, src, far[0] * cpd + dst, loads, _fault)
    return _record(f"hyperx_latency_{die_hops}_hops", model,
                   remote_load_latency(cfg, hops / 2, die_hops), "cycles/load", cfg,
                   target_die=far[0], mesh_hops=hops)


def network_checks(cfg: MachineConfig, _fault: int = 0) -> list[Callable[[], Record | None]]:
    """The network's checks that apply to the config (piuma-core and other one-core, one-die
    configs have none: no mesh beyond one router, no die-to-die links)."""
    f = _fault
    return [lambda: check_mesh_latency(cfg, _fault=f),
            lambda: check_mesh_hotspot(cfg, _fault=f),
            lambda: check_mesh_bisection(cfg, _fault=f),
            lambda: check_die_pair_bandwidth(cfg, _fault=f),
            lambda: check_hyperx_all_to_all(cfg, _fault=f),
            lambda: check_die_latency(cfg, 1, _fault=f),
            lambda: check_die_latency(cfg, 2, _fault=f)]


def stream_thread_counts(cfg: MachineConfig) -> list[int]:
    """Thread counts from 1 past saturation: powers of two up to all threads of a die."""
    top = cfg.core.threads * cfg.cores_per_die
    counts = [1 << k for k in range(top.bit_length()) if 1 << k <= top]
    return counts + ([top] if counts[-1] != top else [])


def run_checks(cfg: MachineConfig, _fault: int = 0) -> list[Record]:
    """Every closed-form check that applies to the config. `_fault` (tests only) breaks one
    DRAM or network path of the engine (simulator.machine.dram.FAULT_*,
    simulator.machine.sim.FAULT_*): some check must then fail."""
    checks: list[Callable[[], Record | None]] = []
    f = _fault
    for t in stream_thread_counts(cfg):
        checks.append(lambda t=t: check_streaming(cfg, t, _fault=f))
    checks.append(lambda: check_pointer_chase(cfg, _fault=f))
    checks.append(lambda: check_row_hits(cfg, _fault=f))
    checks.append(lambda: check_random_activations(cfg, _fault=f))
    checks.append(lambda: check_refresh(cfg, _fault=f))
    checks.append(lambda: check_atomics(cfg, "spad"))
    checks.append(lambda: check_atomics(cfg, "dram", _fault=f))
    checks.append(lambda: check_atomic_pipelining(cfg, _fault=f))
    for k in (1, 8, 16):
        checks.append(lambda k=k: check_issue_bound(cfg, k))
    checks.append(lambda: check_cache_reuse(cfg, beyond=False))
    checks.append(lambda: check_cache_reuse(cfg, beyond=True))
    checks.append(lambda: check_granularity(cfg))
    checks += network_checks(cfg, _fault=f)
    out = []
    for check in checks:
        rec = check()
        if rec is not None:
            out.append(rec)
    return out


# ------------------------------------------------------------------------------------------------
# Speed

def _mixed_trace(sim: Simulation, n_ops: int, seed: int) -> np.ndarray:
    """A trace mixing DRAM loads (random, bypassing; streaming, cached), scratchpad loads,
    stores and atomics, and compute, in random order."""
    rng = np.random.default_rng(seed)
    rand = sim.dram_region(f"rand{seed}", 1 << 26, access_class="random")
    strm = sim.dram_region(f"strm{seed}", 1 << 26, access_class="stream")
    own = sim.spad_region(f"own{seed}", 8192, per="thread")
    shared = sim.spad_region(f"shared{seed}", 1 << 16)
    kind = rng.integers(0, 6, size=n_ops)
    ops = np.zeros((n_ops, OP_WIDTH), dtype=np.int64)
    for k, rows in (
        (0, lambda m: _rows(LOAD, rand.addr(rng.integers(0, 1 << 23, m) * 8), 8)),
        (1, lambda m: _rows(LOAD, strm.addr(np.arange(m) * 8), 8)),
        (2, lambda m: _rows(LOAD, own.addr(rng.integers(0, 1024, m) * 8), 8)),
        (3, lambda m: _rows(STORE, own.addr(rng.integers(0, 1024, m) * 8), 8)),
        (4, lambda m: _rows(ATOMIC, shared.addr(rng.integers(0, 8192, m) * 8), 8)),
        (5, lambda m: _rows(COMPUTE, 0, np.full(m, 2))),
    ):
        mask = kind == k
        ops[mask] = rows(int(mask.sum()))
    return ops


def speed_benchmark(cfg: MachineConfig | None = None, tasks_per_thread: int = 40,
                    ops_per_task: int = 250, repeats: int = 3) -> Record:
    """Engine throughput (simulated operations per host second, one host core) on a mixed
    DRAM / scratchpad / atomic trace on all threads of `cfg` (default piuma-die); the JIT is
    warmed first; the best of `repeats` runs is reported (the host is shared and noisy)."""
    cfg = cfg or load_config("piuma-die")
    templates = 16

    def one_run(tpt: int) -> tuple[int, float, float]:
        sim = Simulation(cfg)
        blocks = _mixed_trace(sim, templates * ops_per_task, 0).reshape(templates, ops_per_task, OP_WIDTH)

        def generate(ids: np.ndarray):
            ops = blocks[ids % templates].reshape(-1, OP_WIDTH)
            return ops, np.arange(ids.size + 1, dtype=np.int64) * ops_per_task
        t0 = time.perf_counter()
        sim.run_phase(Phase("speed", sim.n_threads * tpt, generate, StaticWindows()))
        dt = time.perf_counter() - t0
        return int(sim.cnt[E.C_OPS]), dt, sim.now

    one_run(1)                                           # JIT warm-up (and cache load)
    best = None
    for _ in range(repeats):
        ops, dt, cycles = one_run(tasks_per_thread)
        if best is None or ops / dt > best[0] / best[1]:
            best = (ops, dt, cycles)
    ops, dt, cycles = best
    return {"name": "engine_speed", "preset": cfg.name, "ops": ops, "host_seconds": dt,
            "ops_per_second": ops / dt, "simulated_cycles": cycles, "threads": cfg.threads,
            "target_ops_per_second": 10e6, "ok": ops / dt >= 10e6}
