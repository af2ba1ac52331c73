"""Timing engine: invariants, schedulers, lazy traces, addressing, DMA, barriers, errors."""
import numpy as np
import pytest

from simulator.machine import (DynamicTokens, Phase, Simulation, StaticLists, StaticWindows,
                               TraceBuilder, load_config)
from simulator.machine import trace as T


def concat(traces):
    ptr = np.concatenate([[0], np.cumsum([t.shape[0] for t in traces])]).astype(np.int64)
    return np.concatenate(traces), ptr


def mixed_generator(sim, seed=0, ops_per_task=40):
    """Per task: random DRAM loads, cached streaming loads, SPAD loads/stores/atomics, stores
    to DRAM, compute; deterministic in the task id."""
    rand = sim.dram_region("rand", 1 << 22, access_class="random")
    strm = sim.dram_region("strm", 1 << 22, access_class="stream")
    out = sim.dram_region("out", 1 << 22, access_class="output")
    own = sim.spad_region("own", 1024, per="thread")
    shared = sim.spad_region("shared", 4096)

    def one(i):
        rng = np.random.default_rng(seed * 100003 + int(i))
        b = TraceBuilder()
        n = ops_per_task // 8
        b.load(rand.addr(rng.integers(0, 1 << 19, n) * 8))
        b.load(strm.addr((int(i) * n + np.arange(n)) * 8 % (1 << 22)))
        b.load(own.addr(rng.integers(0, 128, n) * 8))
        b.store(own.addr(rng.integers(0, 128, n) * 8))
        b.atomic(shared.addr(rng.integers(0, 512, n) * 8))
        b.store(out.addr(rng.integers(0, 1 << 19, n) * 8))
        b.compute(np.full(n, 3))
        b.load(rand.addr(rng.integers(0, 1 << 19, n) * 8), flags=T.DEP)
        return b.build()

    return lambda ids: concat([one(i) for i in ids])


def run_mixed(preset="piuma-core", n_tasks=200, schedule=None, overrides=(), threads=None, **kw):
    sim = Simulation(load_config(preset, list(overrides)), **kw)
    gen = mixed_generator(sim)
    sim.run_phase(Phase("mixed", n_tasks, gen, schedule or DynamicTokens(), threads=threads))
    return sim, sim.result()


def test_every_operation_and_task_completes():
    sim, res = run_mixed()
    assert res.tasks == 200
    assert res.operations == 200 * 40
    assert res.loads == 200 * 20 and res.stores == 200 * 10
    assert res.atomics == 200 * 5 + res.token_atomics
    assert res.cycles > 0 and res.seconds == pytest.approx(res.cycles * 1e-9)
    # every thread left the phase after its last operation completed
    assert (sim.th_f[:, 6] <= sim.phases[-1].work_end_cycles).all()


def test_bytes_are_conserved_between_requesters_and_resources():
    _, r = run_mixed(preset="piuma-die", n_tasks=300)
    atomic_bytes = 8 * r.atomics
    # every byte read was served by a cache hit, DRAM or a scratchpad
    assert (r.load_bytes + atomic_bytes + r.dma_bytes
            == r.cache_read_hit_bytes + r.dram_read_useful_bytes + r.spad_read_bytes)
    # every byte written went to the cache, DRAM or a scratchpad; the cache wrote back at most
    # what it absorbed (dirty lines, at the latest at the end-of-phase flush)
    direct_dram = r.dram_write_useful_bytes - r.dram_writeback_useful_bytes
    assert (r.store_bytes + atomic_bytes + r.dma_bytes
            == r.cache_write_bytes + direct_dram + r.spad_write_bytes)
    assert 0 < r.dram_writeback_useful_bytes <= r.cache_write_bytes
    assert r.dram_read_transferred_bytes >= r.dram_read_useful_bytes
    assert r.dram_write_transferred_bytes >= r.dram_write_useful_bytes


@pytest.mark.parametrize("preset", ["piuma-core", "piuma-die"])
def test_dram_bytes_per_region_sum_to_the_totals(preset):
    """Every DRAM byte is counted for the region it belongs to: fills and write-backs for the
    region of their line, atomics at the memory controller (DRAM scheduler counters) for theirs."""
    sim, r = run_mixed(preset=preset, n_tasks=300, schedule=DynamicTokens(counter="dram"))
    per = r.dram_region_bytes
    assert set(per) == {reg.name for reg in sim.regions if reg.kind == "dram"}
    for key, total in (("read_useful", r.dram_read_useful_bytes),
                       ("read_transferred", r.dram_read_transferred_bytes),
                       ("written_useful", r.dram_write_useful_bytes),
                       ("written_transferred", r.dram_write_transferred_bytes)):
        assert sum(b[key] for b in per.values()) == total
    # only "out" is stored to: the dirty lines written back (during the phase and at the flush)
    # are its lines, whatever region their cache set was shared with
    assert per["out"]["written_useful"] > 0
    assert per["rand"]["written_transferred"] == per["strm"]["written_transferred"] == 0
    assert per["rand"]["read_useful"] > 0 and per["strm"]["read_transferred"] > 0
    token = [name for name in per if ".token" in name]
    assert len(token) == 1
    # the memory-side atomic unit holds the token counter's value from its first operation on:
    # read from DRAM once, written back once (at the phase's flush)
    assert r.token_atomics > 1
    assert per[token[0]]["read_useful"] == per[token[0]]["written_useful"] == 8
    groups = r.dram_bytes_by(lambda name: "data" if name in ("rand", "strm", "out") else "other")
    assert groups["other"] == per[token[0]]
    assert sum(g["read_transferred"] for g in groups.values()) == r.dram_read_transferred_bytes
    assert "dram_region_out_written_useful" in r.to_row(regions=True)
    assert not any(k.startswith("dram_region_") for k in r.to_row())


def test_conservation_without_cache_writes():
    """With every class bypassing the cache, DRAM useful bytes are exactly the requests' bytes."""
    _, r = run_mixed(overrides=["cache.bypass=default,stream,random,output"])
    assert r.cache_hits == 0 and r.cache_write_bytes == 0
    assert r.load_bytes + 8 * r.atomics == r.dram_read_useful_bytes + r.spad_read_bytes
    assert r.store_bytes + 8 * r.atomics == r.dram_write_useful_bytes + r.spad_write_bytes


def test_same_inputs_same_results():
    a = run_mixed(preset="piuma-die", n_tasks=150)[1].to_row()
    b = run_mixed(preset="piuma-die", n_tasks=150)[1].to_row()
    a.pop("host_seconds"), b.pop("host_seconds")
    assert a == b


def stream_cycles(overrides=(), threads=8, loads=400):
    sim = Simulation(load_config("piuma-core", list(overrides)))
    reg = sim.dram_region("s", threads * loads * 64, access_class="random")
    # the threads walk one range together (thread i: blocks i, T + i, ...), so more threads do
    # not add row conflicts between separate streams
    traces = [T.TraceBuilder().load(reg.addr((np.arange(loads) * threads + i) * 64), 64).build()
              for i in range(threads)]
    gen = lambda ids: concat([traces[i] for i in ids])
    sim.run_phase(Phase("s", threads, gen, StaticLists([[i] for i in range(threads)]),
                        threads=sim.thread_ids(threads)))
    return sim.now


def test_more_bandwidth_or_threads_is_never_slower():
    base = stream_cycles()
    # a faster DRAM clock (same bus width, same timings in tCK) is faster
    assert stream_cycles(["dram.tCK_ns=0.3", "dram.channel_bandwidth_gb_per_s=26.6667"]) < base
    assert stream_cycles(["dram.channels_per_die=2"]) <= base
    # fixed work split over more threads: faster until DRAM saturates
    work = 64 * 400
    times = [stream_cycles(threads=t, loads=work // t) for t in (1, 2, 4, 8, 16, 32, 64)]
    # (past saturation up to 6 % slower: the order in which requests reach the banks changes)
    assert all(b <= a * 1.06 for a, b in zip(times, times[1:]))
    assert times[0] > 4 * times[-1]


def test_static_windows_split_by_cost():
    sim = Simulation(load_config("piuma-core"))
    reg = sim.spad_region("x", 64, per="thread")
    seen = []

    def gen(ids):
        seen.extend(ids.tolist())
        return concat([TraceBuilder().load(reg.addr(0)).compute(1).build() for _ in ids])
    cost = np.ones(100)
    cost[:10] = 50.0
    threads = sim.thread_ids(4)
    sim.run_phase(Phase("w", 100, gen, StaticWindows(cost=cost), threads=threads))
    res = sim.result()
    assert sorted(seen) == list(range(100)) and res.tasks == 100 and res.token_atomics == 0
    per_thread = sim.th_i[threads, 11]   # TI_TASKS
    assert per_thread[0] < per_thread[-1]  # the costly first tasks make a short first window


def test_dynamic_tokens_go_through_the_model():
    sim, res = run_mixed(n_tasks=100, schedule=DynamicTokens(chunk=2))
    participants = sim.n_threads
    # one fetch-add per unit of 2 tasks, plus one failing fetch-add per thread at the end
    assert res.token_atomics == 50 + participants
    assert res.spad_atomics >= res.token_atomics
    _, per_core = run_mixed(preset="piuma-die", n_tasks=100, schedule=DynamicTokens(scope="core"))
    assert per_core.tasks == 100
    _, in_dram = run_mixed(n_tasks=50, schedule=DynamicTokens(counter="dram"))
    assert in_dram.mc_atomics == in_dram.token_atomics


def test_traces_are_generated_lazily_in_bounded_memory():
    sim = Simulation(load_config("piuma-core"), arena_ops=4096)
    reg = sim.spad_region("x", 64, per="thread")
    body = TraceBuilder().load(reg.addr(0)).compute(2).store(reg.addr(8)).build()
    calls = []

    def gen(ids):
        calls.append(ids.size)
        return concat([body] * ids.size)
    n = 20000
    sim.run_phase(Phase("lazy", n, gen, DynamicTokens(lookahead=32)))
    assert sim.result().tasks == n and sum(calls) == n
    assert max(calls) <= 32 and len(calls) > 100     # a lookahead of 32 tasks
    assert sim.arena.peak_rows <= 4096                # memory bounded by the arena's budget


def test_generator_may_return_several_tasks_and_empty_tasks():
    sim = Simulation(load_config("piuma-core"))
    reg = sim.spad_region("x", 64)
    one = TraceBuilder().load(reg.addr(0)).build()
    gen = lambda ids: concat([one if i % 2 else one[:0] for i in ids])
    sim.run_phase(Phase("e", 10, gen, StaticWindows(), threads=[0, 1]))
    assert sim.result().tasks == 10 and sim.result().loads == 5


def test_thread_relative_addressing():
    cfg = load_config("piuma-die")
    sim = Simulation(cfg)
    local = sim.spad_region("local", 64, per="thread")
    core0 = sim.spad_region("core0", 64, core=0)
    body = TraceBuilder().store(local.addr(0)).load(local.addr(0), flags=T.DEP).build()
    remote = TraceBuilder().load(core0.addr(0)).build()
    gen = lambda ids: concat([body if i < 64 else remote for i in ids])
    threads = sim.thread_ids(64)                    # spread over all 8 cores
    sim.run_phase(Phase("a", 128, gen, StaticLists([[i, 64 + i] for i in range(64)]),
                        threads=threads))
    res = sim.result()
    cores_used = set(sim.th_i[threads, 3].tolist())
    assert len(cores_used) == 8
    # 'local' resolved on each executing thread's own core; core0's SPAD is remote for 7 cores
    remote_threads = sum(1 for t in threads if sim.th_i[t, 3] != 0)
    assert res.remote_spad_accesses == remote_threads
    assert res.spad_writes == 64 and res.spad_reads == 128


def test_per_thread_dram_slices_and_local_die():
    sim = Simulation(load_config("piuma-node"))
    stack = sim.dram_region("stack", 256, per="thread", die="local")
    body = TraceBuilder().store(stack.addr(np.arange(4) * 64), 64).build()
    threads = sim.thread_ids(32)
    sim.run_phase(Phase("d", 32, lambda ids: concat([body] * ids.size), StaticWindows(),
                        threads=threads))
    res = sim.result()
    assert res.remote_die_accesses == 0 and res.link_bytes == 0
    far = sim.dram_region("far", 4096, die=15)
    sim.run_phase(Phase("far", 1, lambda ids: concat([TraceBuilder().load(far.addr(0)).build()]),
                        StaticWindows(), threads=[0]))
    res = sim.result()
    # a cache miss to die 15 (coordinates (3, 3): two HyperX hops from die 0): a header-only
    # request and a reply of header + line, each over both links
    cfg = sim.cfg
    hdr, line = cfg.network.header_bytes, cfg.cache.line_bytes
    assert res.remote_die_accesses == 1 and res.link_bytes == 2 * (hdr + hdr + line)


def test_dma_copy_gather_and_wait():
    cfg = load_config("piuma-core")
    sim = Simulation(cfg)
    src = sim.dram_region("src", 1 << 16, access_class="stream")
    buf = sim.spad_region("buf", 4096, per="thread")
    b = TraceBuilder().dma_copy(src.addr(0), buf.addr(0), 2048)
    b.dma_gather(buf.addr(2048), src.addr(np.arange(16) * 512), 8)
    b.dma_wait().load(buf.addr(0))
    trace = b.build()
    sim.run_phase(Phase("dma", 1, lambda ids: concat([trace]), StaticWindows(), threads=[0]))
    res = sim.result()
    assert res.dma_transfers == 2 and res.dma_bytes == 2048 + 16 * 8
    assert res.dram_read_useful_bytes == 2048 + 16 * 8
    assert res.spad_write_bytes == 2048 + 16 * 8
    assert res.operations == trace.shape[0]
    assert res.dram_region_bytes == {"src": {"read_useful": 2048 + 16 * 8,
                                             "read_transferred": res.dram_read_transferred_bytes,
                                             "written_useful": 0, "written_transferred": 0}}
    # the copy streams at the engine's bandwidth: the wait ends after setup + bytes / bandwidth
    assert res.cycles > cfg.dma.setup_cycles + 2048 / (cfg.dma.bandwidth_gb_per_s / cfg.clock_ghz)


def test_barrier_in_trace_waits_for_everyone():
    sim = Simulation(load_config("piuma-core"))
    slow = TraceBuilder().compute(1000).barrier().compute(1).build()
    fast = TraceBuilder().compute(1).barrier().compute(1).build()
    gen = lambda ids: concat([slow if i == 0 else fast for i in ids])
    threads = sim.thread_ids(4)
    sim.run_phase(Phase("b", 4, gen, StaticLists([[0], [1], [2], [3]]), threads=threads))
    res = sim.result()
    busy = res.thread_busy_cycles
    assert busy.min() > 1000            # everyone waited for the slow thread
    assert res.barriers == 2            # the in-trace barrier and the phase's closing one


def test_phases_accumulate_and_result_row_is_flat():
    sim = Simulation(load_config("piuma-core"))
    reg = sim.spad_region("x", 8)
    one = TraceBuilder().load(reg.addr(0)).build()
    for name in ("first", "second"):
        sim.run_phase(Phase(name, 10, lambda ids: concat([one] * ids.size), StaticWindows()))
    res = sim.result()
    row = res.to_row()
    assert set(res.phase_cycles) == {"first", "second"}
    assert res.cycles == pytest.approx(sum(res.phase_cycles.values()))
    assert all(np.isscalar(v) or isinstance(v, str) for v in row.values())
    for key in ("cycles", "seconds", "dram_read_useful_bytes", "dram_read_transferred_bytes",
                "dram_bandwidth_utilization", "spad_reads", "cache_hits_default", "atomics",
                "atomic_stall_cycles", "instructions", "ipc_pipeline_mean", "load_imbalance",
                "network_bytes", "dma_bytes", "barriers", "phase_first_cycles", "config_hash"):
        assert key in row


@pytest.mark.parametrize("bad, message", [
    (lambda r: TraceBuilder().load(r.addr(4096)).build(), "address beyond its region"),
    (lambda r: TraceBuilder().load((999 << T.ADDR_SHIFT)).build(), "unknown region id"),
    (lambda r: np.array([[77, 0]], dtype=np.int64), "unknown operation code"),
    (lambda r: TraceBuilder().load(r.addr(0), size=0).build(), "size must be positive"),
])
def test_invalid_operations_raise_with_context(bad, message):
    sim = Simulation(load_config("piuma-core"))
    reg = sim.dram_region("table", 4096)
    trace = bad(reg)
    with pytest.raises(ValueError, match=message):
        sim.run_phase(Phase("bad", 1, lambda ids: concat([trace]), StaticWindows(), threads=[0]))


def test_api_errors():
    sim = Simulation(load_config("piuma-core"))
    with pytest.raises(ValueError, match="needs"):
        sim.spad_region("huge", 8 << 20)
    with pytest.raises(ValueError, match="already exists"):
        sim.dram_region("a", 8), sim.dram_region("a", 8)
    with pytest.raises(ValueError, match="access_class"):
        sim.dram_region("b", 8, access_class="weird")
    gen = lambda ids: (np.zeros((0, 2), np.int64), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="ptr must have"):
        sim.run_phase(Phase("p", 1, gen, StaticWindows(), threads=[0]))


def test_numba_generator_with_emit_helpers():
    """Kernel programs emit traces from numba code: rows written with the emit_* helpers."""
    from numba import njit

    @njit(cache=False)
    def gen_rows(task_ids, a_base, h_base, out, ptr):
        n = 0
        for k in range(task_ids.size):
            i = task_ids[k]
            n = T.emit_load(out, n, a_base + i * 8, 8, 0)
            n = T.emit_atomic(out, n, h_base + (i % 16) * 8, T.ATOMIC_ADD, T.DEP)
            n = T.emit_compute(out, n, 2)
            ptr[k + 1] = n
        return n

    sim = Simulation(load_config("piuma-core"))
    a = sim.dram_region("a", 8 * 1000, access_class="stream")
    h = sim.spad_region("h", 128, per="thread")

    def gen(ids):
        out = np.empty((3 * ids.size, T.OP_WIDTH), dtype=np.int64)
        ptr = np.zeros(ids.size + 1, dtype=np.int64)
        n = gen_rows(ids, a.base, h.base, out, ptr)
        return out[:n], ptr
    sim.run_phase(Phase("numba", 1000, gen, DynamicTokens(chunk=4)))
    res = sim.result()
    assert res.loads == 1000 and res.spad_atomics == 1000 + res.token_atomics
    assert res.instructions == 1000 * 4 + res.token_atomics


def test_phase_record_busy_time_adds_up_over_phases():
    """PhaseRecord.busy_cycles: the phase's share of the threads' busy cycles (what a sampled
    run extrapolates); over the phases it sums to the result's busy cycles."""
    sim = Simulation(load_config("piuma-core"))
    gen = mixed_generator(sim)
    a = sim.run_phase(Phase("a", 120, gen, DynamicTokens()))
    b = sim.run_phase(Phase("b", 40, gen, DynamicTokens(), threads=np.arange(8)))
    busy = sim.result().thread_busy_cycles
    assert a.threads == sim.n_threads and b.threads == 8
    assert a.busy_cycles + b.busy_cycles == pytest.approx(busy.sum())
    assert 0 < a.busy_cycles_mean <= a.work_end_cycles - a.start_cycles
    assert 0 < b.busy_cycles_mean <= b.work_end_cycles - b.start_cycles


def flush_of_one_core(overrides=()):
    """One thread of core 7 of piuma-die stores 64 cached lines spread over every channel; they
    stay dirty in its pipeline's cache until the phase's flush. Returns (flush + drain + barrier
    cycles, network bytes)."""
    sim = Simulation(load_config("piuma-die", list(overrides)))
    out = sim.dram_region("out", 1 << 20, access_class="output")
    trace = TraceBuilder().store(out.addr(np.arange(64) * 4096 + 128), 8).build()
    gen = lambda ids: concat([trace for _ in ids])
    rec = sim.run_phase(Phase("w", 1, gen, StaticLists([[0]]),
                              threads=sim.thread_ids(1, cores=[7])))
    return rec.end_cycles - rec.work_end_cycles, sim.result().network_bytes


def test_the_flushs_write_backs_cross_the_mesh():
    """The end-of-phase flush sends a core's dirty lines to their channels as write packets over
    the mesh and waits for the acknowledgements: slower hops make it slower, and its bytes are
    network bytes."""
    base, net = flush_of_one_core()
    slow, net_slow = flush_of_one_core(["network.hop_latency_cycles=40"])
    assert net_slow == net and net >= 64 * 8
    assert slow > base + 2 * 38      # at least one hop each way, 38 cycles slower per hop
