"""SMASH on the machine: shared tables under contention, locks, spreading a heavy row over a
core's threads, entry-wise spills, windows, knob combinations, and what breaks on purpose."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import matrices
import spgemm
from simulator.machine import Simulation, load_config
from simulator.programs import Operands, get_kernel
from simulator.programs import smash as S
from simulator.run import VerificationError, run_kernel, smash_host_c_entries

FAMILIES = ["rmat:scale=6,ef=4", "er:n=96,nnz_per_row=4", "banded:n=80,bandwidth=3",
            "poisson2d:n=8", "poisson3d:n=4", "powerlaw:n=96,nnz_per_row=4",
            "imbalanced:n=96,nnz_per_row=3,n_long=2,long_len=40"]


def _run(kernel, matrix, preset="piuma-core", **kw):
    return run_kernel(kernel, matrix, preset=preset, **kw)


def bank_matrices(heavy: bool, rows: int = 16, k: int = 512, m: int = 16):
    """A (rows x k, dense rows) times B (k x 8m): every row of B holds m columns, multiples of 8
    (heavy) or 0..m-1 (light). Same flops, keys, contributions per key and output; with the
    modulo hash the heavy keys all sit in slots 8 apart, i.e. in one scratchpad bank."""
    rng = np.random.default_rng(0)
    A = sp.csr_array((rng.uniform(0.5, 1.5, rows * k),
                      (np.repeat(np.arange(rows), k), np.tile(np.arange(k), rows))), shape=(rows, k))
    cols = np.tile(np.arange(m) * (8 if heavy else 1), k)
    B = sp.csr_array((rng.uniform(0.5, 1.5, k * m), (np.repeat(np.arange(k), m), cols)),
                     shape=(k, 8 * m))
    return A, B


@pytest.mark.parametrize("kernel,knobs", [
    ("smash-v2", {"hash": "mod", "table_slots": "4096", "chunk": "64"}),
    ("smash-v3", {"hash": "mod", "load_factor": "16", "chunk": "64"})])
def test_same_bank_atomics_contend(kernel, knobs):
    """Many threads inserting the same few keys of the same rows: when the keys' slots share a
    bank, the atomics queue there and the run takes longer than with the slots spread."""
    heavy = _run(kernel, bank_matrices(True)[0], B=bank_matrices(True)[1], knobs=knobs)
    light = _run(kernel, bank_matrices(False)[0], B=bank_matrices(False)[1], knobs=knobs)
    assert heavy["verified"] and light["verified"]
    for key in ("flops", "nnz_c", "hash_probes", "spad_atomics"):
        assert heavy[key] == light[key], key
    assert heavy["instructions"] == pytest.approx(light["instructions"], rel=0.01)
    assert heavy["atomic_stall_cycles"] > 4 * light["atomic_stall_cycles"]
    assert heavy["cycles"] > 1.05 * light["cycles"]


def test_locks_on_a_shared_table_cost_more_than_atomics():
    A, B = bank_matrices(False)
    knobs = {"hash": "mod", "table_slots": "4096", "chunk": "64"}
    atom = _run("smash-v2", A, B=B, knobs=knobs)
    lock = _run("smash-v2", A, B=B, knobs={**knobs, "atomics": "false"})
    assert atom["verified"] and lock["verified"]
    assert atom["lock_acquires"] == 0 and lock["lock_acquires"] == lock["hash_probes"] > 0
    # acquire = an atomic swap per probe; the value read and written back under the lock
    assert lock["stores"] >= atom["stores"] + lock["flops"]
    assert lock["loads"] >= atom["loads"] + lock["flops"]
    assert lock["cycles"] > atom["cycles"]


def test_a_heavy_row_is_spread_over_the_cores_threads():
    """One row with ~500x the work of the others: row-wise gives it to one thread, SMASH splits
    its partial products among the core's threads. (With DRAM banks every row-wise thread also
    waits on DRAM for its own rows, so the long row's thread stands out less than it did with
    a bankless DRAM: imbalance ~2.9 rather than > 5.)"""
    spec = "imbalanced:n=2048,nnz_per_row=4,n_long=1,long_len=2000"
    rw = _run("rowwise-hash", spec)
    v2 = _run("smash-v2", spec)
    assert rw["load_imbalance"] > 2.5
    assert v2["load_imbalance"] < 1.5
    assert v2["thread_busy_cycles_max"] < rw["thread_busy_cycles_max"] / 2.5


@pytest.mark.parametrize("kernel,knobs", [("smash-v2", {"table_slots": "64", "max_probes": "4"}),
                                          ("smash-v3", {"fragment_max_slots": "16", "max_probes": "4"})])
def test_overflow_spills_entry_by_entry(kernel, knobs):
    """Rows larger than the table: the entries that find no slot within max_probes go to the
    DRAM table one by one (memory-side atomics); the rest stay in the scratchpad."""
    r = _run(kernel, "rmat:scale=7,ef=8", knobs=knobs)
    assert r["verified"]
    assert 0 < r["spilled_entries"] < r["nnz_c"]
    assert r["mc_atomics"] > 0 and r["spad_atomics"] > r["mc_atomics"]
    assert r["spilled_rows"] == 0


def test_a_row_gets_the_fragment_it_needs_up_to_the_largest_block():
    """Two rows of ~2000 entries on a 256 KB scratchpad (a pool of 11588 slots, its largest
    block 8192): by default each gets the 4096 slots load_factor x its size asks for and
    nothing spills; capped at 1/8 of the pool (1024 slots, the default until stop 19) the same
    rows overflow to DRAM entry by entry and the run is slower."""
    spec = "imbalanced:n=2048,nnz_per_row=4,n_long=2,long_len=400"
    kw = dict(preset="piuma-core", overrides=["spad.size_bytes=262144"])
    whole = _run("smash-v3", spec, **kw)
    capped = _run("smash-v3", spec, knobs={"fragment_max_slots": "1024"}, **kw)
    assert whole["verified"] and capped["verified"]
    assert whole["spilled_entries"] == 0 < capped["spilled_entries"]
    assert capped["hash_probes"] > whole["hash_probes"]
    assert capped["cycles"] > 1.05 * whole["cycles"]


def test_nothing_is_free():
    """Every kernel pays for the bounds / symbolic information it uses, in its own phases."""
    spec = "powerlaw:n=128,nnz_per_row=4"
    for kernel in ("smash-v1", "smash-v2", "smash-v3", "inner", "inner-candidates", "outer"):
        r = _run(kernel, spec)
        assert r["symbolic_cycles"] > 0, kernel
        assert r["cycles"] > r["symbolic_cycles"]
    for kernel in ("rowwise-hash", "rowwise-dense"):
        inline = _run(kernel, spec)          # bounds counted by each row's own task
        sym = _run(kernel, spec, knobs={"offsets": "symbolic"})
        assert inline["symbolic_cycles"] == 0 and sym["symbolic_cycles"] > 0
        assert sym["phase_symbolic_cycles"] > 0
    exact = _run("smash-v3", spec, knobs={"sizes": "symbolic", "offsets": "symbolic"})
    bound = _run("smash-v3", spec)
    assert exact["phase_symbolic_cycles"] > 0 and "phase_symbolic_cycles" not in bound
    assert exact["hash_slots_scanned"] < bound["hash_slots_scanned"]     # tighter fragments


def test_imbalance_of_the_issues_matrix():
    """6000 rows, 6 of them with 3000 nonzeros (the issue's example) on a die."""
    spec = "imbalanced:n=6000,nnz_per_row=8,n_long=6,long_len=3000"
    for kernel in ("smash-v2", "smash-v3"):
        r = _run(kernel, spec, preset="piuma-die")
        assert r["verified"] and r["load_imbalance"] <= 1.5, (kernel, r["load_imbalance"])


def test_dynamic_windows_beat_static_when_flops_mislead():
    """Windows of equal flops but unequal time (the first half of the rows contends on one
    bank): static windows leave the cores with the slow half behind; tokens even it out."""
    A1, B1 = bank_matrices(True, rows=64)
    A2, _ = bank_matrices(False, rows=64)
    B2 = bank_matrices(False, rows=64)[1]
    # rows 0-63 hit B1's stride-8 columns, rows 64-127 B2's dense ones: stack [A 0; 0 A]
    A = sp.block_diag([A1, A2], format="csr")
    B = sp.vstack([B1, B2], format="csr")
    knobs = {"hash": "mod", "table_slots": "4096", "chunk": "64"}
    v1 = _run("smash-v1", A, B=B, preset="piuma-die", knobs=knobs)
    v2 = _run("smash-v2", A, B=B, preset="piuma-die", knobs=knobs)
    assert v1["verified"] and v2["verified"]
    assert v2["cycles"] < v1["cycles"]


def test_windows_in_flight_must_not_share_a_table(monkeypatch):
    """Fault injection: if the windows that different cores run at once shared one host table
    (as if the cores shared one scratchpad table), the run breaks: entries of one window are
    written back by another (C wrong, or a row outside the window's cursors)."""
    monkeypatch.setattr(S._HostTables, "take", lambda self: _take_one(self))
    with pytest.raises((VerificationError, ValueError)):
        _run("smash-v2", "rmat:scale=9,ef=8", preset="piuma-die")


def _take_one(host):
    return 0


@pytest.mark.parametrize("small_pages", [True, False])
def test_host_table_rows_are_released_empty_and_kept_when_they_grow(small_pages, monkeypatch):
    """A host table row given back reads as empty (zeros) and its pages are released; when all
    rows are out the rows grow and the rows in flight keep their entries; keys are int32 only
    where they fit. Off Linux (small_pages False) the rows are numpy arrays zeroed in place."""
    if small_pages and not S._SMALL_PAGES:
        pytest.skip("anonymous small-page tables are Linux only")
    monkeypatch.setattr(S, "_SMALL_PAGES", small_pages)
    rows = S._TableRows(3000, 2, S.key_dtype(2**31 - 2), first=1)
    assert rows.k.dtype == np.int32 and S.key_dtype(2**31 - 1) == np.int64
    assert rows.k.shape[1] >= 3000 and rows.k.strides[0] % 4096 == 0     # whole pages a row
    h = rows.take()
    assert h == 1                                    # row 0 stays out (the shared empty row)
    rows.k[h, :3000], rows.v[h, :3000] = 7, 2.5
    g = rows.take()                                  # all out: grows, keeps row h
    assert rows.k.shape[0] > 2 and g != h and rows.k[h, :3000].min() == 7
    rows.give(h)
    assert not rows.k[h].any() and not rows.v[h].any() and rows.take() == h


@pytest.mark.parametrize("kernel,knobs", [("smash-v3", {}), ("smash-v1", {}),
                                          ("smash-v3", {"offsets": "symbolic"})])
def test_c_rows_are_checked_as_windows_finish_and_given_back(kernel, knobs):
    """Given a RowCheck, SMASH checks each window's rows of C when the window's last task is
    made and gives their pages back: after the run C's host arrays read zeros in most places
    (pages shared by two windows stay), every row was checked, and the simulation is the same
    as without the check (C's host copy is not simulated)."""
    A = matrices.load("rmat:scale=11,ef=16")
    ops = Operands.build(A, A)
    k = get_kernel(kernel)
    kn = k.resolve_knobs(knobs)
    rows, largest = [], [0]
    cfg = load_config("piuma-die")

    class Seen(spgemm.RowCheck):
        def rows(self, r0, r1, lens, *rest):
            largest[0] = max(largest[0], int(np.sum(lens)))
            return super().rows(r0, r1, lens, *rest)

    for check in (Seen(A, A), None):
        sim = Simulation(cfg)
        out = k.run(sim, ops, kn, check=check)
        row = sim.result().to_row()
        row.pop("host_seconds")
        rows.append(row)
        assert out.checked == (check is not None)
        if check is None:
            assert spgemm.compare(out.matrix(ops.sym.shape), A, A)
            continue
        assert check.ok(A.shape[0]) and check.checked == A.shape[0]
        if S._SMALL_PAGES:
            assert np.count_nonzero(out.c_val) < 0.2 * ops.nnz_c
    assert rows[0] == rows[1]
    # the guard's share for C: its windows in flight, each within its bound per window
    assert 0 < largest[0] * (cfg.cores + 1) * 5 // 4 <= smash_host_c_entries(kn, A.shape[1], cfg)


def test_a_wrong_entry_made_by_a_window_fails_the_run(monkeypatch):
    """Fault injection: a generator that makes one wrong value in every window's rows of C
    (after the kernel's own work, before the window's check) fails verification, although
    the rows are given back once checked (so the end of the run never sees them)."""
    orig = S.smash_generate

    def wrong(*args):
        out = orig(*args)
        c_val = args[16]                         # ids, TK, WIN, then run_smash's args tuple
        hit = np.flatnonzero(c_val)
        if hit.size:
            c_val[hit[-1]] *= 1.5
        return out

    monkeypatch.setattr(S, "smash_generate", wrong)
    with pytest.raises(VerificationError, match="differs from scipy"):
        _run("smash-v3", "rmat:scale=9,ef=8", preset="piuma-die")


# ---- every knob, on every family ----------------------------------------------------------

SMASH_KNOB_VALUES = [
    ("windows", "static"), ("order", "heaviest"), ("table", "fragments"), ("table", "shared"),
    ("placement", "dram"), ("atomics", "false"), ("chunk", "16"), ("load_factor", "1"),
    ("load_factor", "4"), ("sizes", "symbolic"), ("offsets", "symbolic"), ("hash", "mod"),
    ("max_probes", "1"), ("table_slots", "128"), ("fragment_max_slots", "32"), ("batches", "1"),
    ("batches", "3"), ("writeback", "sorted")]


@pytest.mark.parametrize("spec", FAMILIES)
@pytest.mark.parametrize("kernel", ["smash-v1", "smash-v3"])
@pytest.mark.parametrize("knob,value", SMASH_KNOB_VALUES)
def test_every_smash_knob_verifies_on_every_family(kernel, knob, value, spec):
    r = _run(kernel, spec, knobs={knob: value})
    assert r["verified"] and r["muladds"] == r["flops"] and r["nnz_written"] == r["nnz_c"]


def _combos():
    """A seeded sample of whole knob combinations (all knobs at once)."""
    rng = np.random.default_rng(8)
    k = get_kernel("smash-v2")
    choices = {name: (list(kb.choices) if kb.choices else None) for name, kb in k.knobs.items()}
    numeric = {"chunk": [16, 64, 256], "load_factor": [1, 2, 3], "max_probes": [1, 2, 16],
               "table_slots": [0, 64, 512], "fragment_max_slots": [0, 16, 64], "batches": [1, 2, 8]}
    out = []
    for _ in range(24):
        kn = {}
        for name, ch in choices.items():
            if ch is not None:
                kn[name] = ch[rng.integers(len(ch))]
            elif name in numeric:
                kn[name] = numeric[name][rng.integers(3)]
            else:
                kn[name] = bool(rng.integers(2))
        out.append(kn)
    return out


@pytest.mark.parametrize("knobs", _combos())
def test_random_knob_combinations_verify(knobs):
    for spec, preset in (("rmat:scale=7,ef=4", "piuma-die"), ("powerlaw:n=160,nnz_per_row=5", "piuma-core")):
        r = _run("smash-v2", spec, preset=preset, knobs=knobs)
        assert r["verified"], knobs


@pytest.mark.parametrize("name", ["1138_bus.mtx.gz", "cryg2500.mtx.gz", "bcsstk08.mtx.gz",
                                  "dwt_2680.mtx.gz"])
@pytest.mark.parametrize("kernel,knobs", [("smash-v1", {}), ("smash-v2", {"atomics": "false"}),
                                          ("smash-v3", {}), ("smash-v3", {"sizes": "symbolic",
                                                                          "offsets": "symbolic"})])
def test_shared_matrices(kernel, knobs, name, shared_matrices_dir):
    r = _run(kernel, str(shared_matrices_dir / name), preset="piuma-die", knobs=knobs)
    assert r["verified"] and r["muladds"] == r["flops"]


def test_cut_groups():
    units = np.array([5, 5, 5, 40, 5, 5, 0, 5, 5, 5])
    b = S.cut_groups(units, 40, 4)
    assert b[0] == 0 and b[-1] == units.size
    sums = [units[a:c].sum() for a, c in zip(b, b[1:])]
    assert max(sums) <= 40 and 3 in b and 4 in b            # the big row alone
    assert all(c - a <= 4 for a, c in zip(b, b[1:]))
    assert list(S.cut_groups(np.array([], np.int64), 10, 4)) == [0]
    fl = np.array([1, 1, 100, 1, 1, 1, 1, 1, 1, 1])
    b2 = S.cut_groups(np.ones(10, np.int64), 1000, 100, flops=fl, flop_step=50)
    assert 3 in b2                                           # the flop prefix crosses 100


def test_home_slot_is_spgemms_hash_on_power_of_two_tables():
    """SMASH's tables take any size; on a power of two its hash is the native kernels'."""
    from simulator.programs.smash_gen import home_slot
    from spgemm.accumulators import hash_slot
    for size in (4, 64, 1024):
        for hid in (0, 1):
            for key in range(0, 5000, 7):
                assert home_slot(key, size, hid) == hash_slot(key, np.uint64(size - 1), hid)
    assert all(0 <= home_slot(k, 1000, 0) < 1000 for k in range(0, 10**6, 997))


def test_wide_spill_keys_beside_narrow_fragment_keys(monkeypatch):
    """rows x columns above 2^31: the fragments' keys (columns) stay int32 while the shared-key
    spill tables' (row x n_col + column) need int64; both kinds run in one generator."""
    seen = {}
    init = S._HostTables.__init__

    def record(self, *args):
        init(self, *args)
        seen["keys"] = (self.tab.k.dtype, self.spill.k.dtype)
    monkeypatch.setattr(S._HostTables, "__init__", record)
    n = 50_000
    A = sp.random(n, n, density=4 / n, format="csr", random_state=np.random.default_rng(3))
    r = _run("smash-v3", A, preset="piuma-die")
    assert r["verified"] and seen["keys"] == (np.int32, np.int64)


def test_a_write_back_past_its_rows_place_in_c_raises_before_writing():
    """`_gather` moves a table's entries into C's host arrays: an entry beyond the row's place
    (a table holding more than the symbolic pass said) is an error raised before it lands in the
    next row's place (or past the array's end: numba does not check bounds)."""
    from simulator.programs.base import CT_N
    from simulator.programs.smash_gen import _gather
    hk = np.zeros(16, np.uint64)
    hv = np.zeros(16)
    hk[[1, 5, 9]] = [3, 7, 11]              # keys stored + 1
    hv[[1, 5, 9]] = [1.0, 2.0, 3.0]
    out_k = np.full(6, -1, np.int64)
    out_v = np.zeros(6)
    buf = np.zeros((64, 2), np.int64)
    ct = np.zeros(CT_N, np.int64)
    _, _, p = _gather(buf, 0, 0, hk.copy(), hv, 0, 0, 16, out_k, out_v, 1, 4, ct)
    assert p == 4 and list(out_k) == [-1, 2, 6, 10, -1, -1]
    out_k[:] = -1
    with pytest.raises(AssertionError, match="more entries than their place"):
        _gather(buf, 0, 0, hk.copy(), hv, 0, 0, 16, out_k, out_v, 1, 3, ct)
    assert list(out_k) == [-1, 2, 6, -1, -1, -1]    # nothing written at or past p_end
