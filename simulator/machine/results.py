"""One result record of a simulation: named, unit-suffixed fields; `to_row()` for CSV/JSONL."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from simulator.machine import engine as E
from simulator.machine.config import ACCESS_CLASSES, config_hash
from simulator.machine.dram import DC_ACTS, DC_CONFLICTS, DC_HITS, DC_MISSES, DCF_QUEUE

if TYPE_CHECKING:  # pragma: no cover
    from simulator.machine.sim import Simulation

#: The per-region DRAM byte quantities, in the engine's column order (E.RB_*).
REGION_BYTE_KEYS = ("read_useful", "read_transferred", "written_useful", "written_transferred")
#: The SimResult total each of them sums to.
REGION_BYTE_TOTALS = {"read_useful": "dram_read_useful_bytes",
                      "read_transferred": "dram_read_transferred_bytes",
                      "written_useful": "dram_write_useful_bytes",
                      "written_transferred": "dram_write_transferred_bytes"}


@dataclass(frozen=True)
class SimResult:
    """What the engine counted over all phases run so far. Cycles are machine cycles."""
    config_name: str
    config_hash: str
    cycles: float
    seconds: float
    phase_cycles: dict[str, float]
    instructions: int
    operations: int                      # trace rows executed (incl. DMA gather elements)
    ipc: float                           # whole machine: instructions / cycles
    ipc_per_pipeline: np.ndarray = field(repr=False)
    loads: int
    stores: int
    load_bytes: int
    store_bytes: int
    atomics: int
    spad_atomics: int
    mc_atomics: int
    token_atomics: int                   # scheduler fetch-adds (included in atomics)
    atomic_stall_cycles: float           # time atomics waited at busy atomic units / banks
    dram_read_useful_bytes: int
    dram_read_transferred_bytes: int
    dram_write_useful_bytes: int
    dram_write_transferred_bytes: int
    dram_writeback_useful_bytes: int     # of the written bytes: dirty-line write-backs
    dram_requests: int
    dram_queue_cycles: float
    dram_row_hits: int                   # column commands to the open row
    dram_row_misses: int                 # ... to a closed bank (activation)
    dram_row_conflicts: int              # ... to a bank with another row open (precharge, activation)
    dram_activations: int
    dram_bandwidth_utilization: float    # transferred bytes / (cycles x peak bytes per cycle)
    # the four DRAM byte totals above split by DRAM region (name -> REGION_BYTE_KEYS -> bytes);
    # cache fills and write-backs count for the region of the line, atomics at the memory
    # controller as a read and a write of their region; each column sums to its total
    dram_region_bytes: dict[str, dict[str, int]] = field(repr=False)
    spad_reads: int
    spad_writes: int
    spad_read_bytes: int
    spad_write_bytes: int
    spad_queue_cycles: float
    cache_hits: int
    cache_misses: int
    cache_bypassed: int
    cache_hits_by_class: dict[str, int]
    cache_misses_by_class: dict[str, int]
    cache_bypassed_by_class: dict[str, int]
    cache_read_hit_bytes: int
    cache_write_bytes: int
    cache_writebacks: int
    network_bytes: int                   # bytes of the packets sent (headers included)
    mesh_link_bytes: int                 # bytes x on-die mesh links crossed (ports not counted)
    mesh_queue_cycles: float             # cycles packets waited for mesh links and router ports
    mesh_busiest_link_utilization: float   # the busiest mesh link's (or port's) busy share
    link_bytes: int                      # bytes x die-to-die (HyperX) links crossed
    link_queue_cycles: float             # cycles packets waited for die-to-die links
    link_busiest_utilization: float      # the busiest die-to-die link's busy share
    remote_spad_accesses: int
    remote_die_accesses: int
    steals: int                          # task units / windows taken from another die's queue
    dma_transfers: int
    dma_bytes: int
    dma_stall_cycles: float
    barriers: int
    tasks: int
    thread_busy_cycles: np.ndarray = field(repr=False)   # per thread that took part
    load_imbalance: float                # max / mean busy cycles over threads that took part
    thread_stall_cycles: float           # issue delayed by dependences and outstanding limits
    host_seconds: float

    @classmethod
    def from_simulation(cls, sim: "Simulation") -> "SimResult":
        cfg = sim.cfg
        c, cf, k = sim.cnt, sim.cntf, sim.cls_cnt
        cycles = float(sim.now)
        busy = sim.th_f[sim.participated, E.TF_BUSY].copy()
        mean_busy = float(busy.mean()) if busy.size else 0.0
        xfer = int(c[E.C_DRAM_RD_XFER] + c[E.C_DRAM_WR_XFER])
        phase_cycles: dict[str, float] = {}
        for p in sim.phases:
            phase_cycles[p.name] = phase_cycles.get(p.name, 0.0) + p.cycles
        safe = cycles if cycles > 0 else 1.0
        return cls(
            config_name=cfg.name,
            config_hash=config_hash(cfg),
            cycles=cycles,
            seconds=cycles / (cfg.clock_ghz * 1e9),
            phase_cycles=phase_cycles,
            instructions=int(c[E.C_INSTR]),
            operations=int(c[E.C_OPS]),
            ipc=float(c[E.C_INSTR]) / safe,
            ipc_per_pipeline=sim.pipe_instr / safe,
            loads=int(c[E.C_LOADS]),
            stores=int(c[E.C_STORES]),
            load_bytes=int(c[E.C_LOAD_BYTES]),
            store_bytes=int(c[E.C_STORE_BYTES]),
            atomics=int(c[E.C_ATOMICS]),
            spad_atomics=int(c[E.C_SPAD_ATOMICS]),
            mc_atomics=int(c[E.C_MC_ATOMICS]),
            token_atomics=int(c[E.C_TOKEN_ATOMICS]),
            atomic_stall_cycles=float(cf[E.CF_ATOMIC_STALL]),
            dram_read_useful_bytes=int(c[E.C_DRAM_RD_USEFUL]),
            dram_read_transferred_bytes=int(c[E.C_DRAM_RD_XFER]),
            dram_write_useful_bytes=int(c[E.C_DRAM_WR_USEFUL]),
            dram_write_transferred_bytes=int(c[E.C_DRAM_WR_XFER]),
            dram_writeback_useful_bytes=int(c[E.C_DRAM_WB_USEFUL]),
            dram_requests=int(c[E.C_DRAM_REQS]),
            dram_queue_cycles=float(sim.dram.cntf[DCF_QUEUE]),
            dram_row_hits=int(sim.dram.cnt[DC_HITS]),
            dram_row_misses=int(sim.dram.cnt[DC_MISSES]),
            dram_row_conflicts=int(sim.dram.cnt[DC_CONFLICTS]),
            dram_activations=int(sim.dram.cnt[DC_ACTS]),
            dram_bandwidth_utilization=xfer / (safe * cfg.peak_dram_bytes_per_cycle),
            dram_region_bytes={r.name: {key: int(sim.reg_cnt[r.id, j])
                                        for j, key in enumerate(REGION_BYTE_KEYS)}
                               for r in sim.regions if r.kind == "dram"},
            spad_reads=int(c[E.C_SPAD_READS]),
            spad_writes=int(c[E.C_SPAD_WRITES]),
            spad_read_bytes=int(c[E.C_SPAD_RD_BYTES]),
            spad_write_bytes=int(c[E.C_SPAD_WR_BYTES]),
            spad_queue_cycles=float(cf[E.CF_SPAD_QUEUE]),
            cache_hits=int(k[:, E.CL_HITS].sum()),
            cache_misses=int(k[:, E.CL_MISSES].sum()),
            cache_bypassed=int(k[:, E.CL_BYPASS].sum()),
            cache_hits_by_class={n: int(k[i, E.CL_HITS]) for i, n in enumerate(ACCESS_CLASSES)},
            cache_misses_by_class={n: int(k[i, E.CL_MISSES]) for i, n in enumerate(ACCESS_CLASSES)},
            cache_bypassed_by_class={n: int(k[i, E.CL_BYPASS]) for i, n in enumerate(ACCESS_CLASSES)},
            cache_read_hit_bytes=int(c[E.C_CACHE_RD_HIT_BYTES]),
            cache_write_bytes=int(c[E.C_CACHE_WR_BYTES]),
            cache_writebacks=int(c[E.C_WRITEBACKS]),
            network_bytes=int(c[E.C_NET_BYTES]),
            **_network_counters(sim, safe),
            remote_spad_accesses=int(c[E.C_REMOTE_SPAD]),
            remote_die_accesses=int(c[E.C_REMOTE_DIE]),
            steals=int(c[E.C_STEALS]),
            dma_transfers=int(c[E.C_DMA_OPS]),
            dma_bytes=int(c[E.C_DMA_BYTES]),
            dma_stall_cycles=float(cf[E.CF_DMA_STALL]),
            barriers=int(c[E.C_BARRIERS]),
            tasks=int(c[E.C_TASKS]),
            thread_busy_cycles=busy,
            load_imbalance=float(busy.max()) / mean_busy if mean_busy > 0 else 1.0,
            thread_stall_cycles=float(sim.th_f[:, E.TF_STALL].sum()),
            host_seconds=sim.host_seconds,
        )

    @property
    def dram_useful_bytes(self) -> int:
        return self.dram_read_useful_bytes + self.dram_write_useful_bytes

    @property
    def dram_transferred_bytes(self) -> int:
        return self.dram_read_transferred_bytes + self.dram_write_transferred_bytes

    def dram_bytes_by(self, group: Callable[[str], str]) -> dict[str, dict[str, int]]:
        """`dram_region_bytes` summed over groups of regions: group(region name) -> group name."""
        out: dict[str, dict[str, int]] = {}
        for name, b in self.dram_region_bytes.items():
            acc = out.setdefault(group(name), dict.fromkeys(REGION_BYTE_KEYS, 0))
            for key in REGION_BYTE_KEYS:
                acc[key] += b[key]
        return out

    def to_row(self, regions: bool = False) -> dict[str, Any]:
        """A flat dict of scalars (per-class and per-phase values get their own keys; the
        per-pipeline and per-thread arrays are summarized). The per-region DRAM bytes are left
        out unless `regions` (keys `dram_region_<name>_<read|written>_<useful|transferred>`)."""
        row: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "dram_region_bytes":
                if regions:
                    for name, b in v.items():
                        for key in REGION_BYTE_KEYS:
                            row[f"dram_region_{name}_{key}"] = b[key]
            elif f.name == "phase_cycles":
                for name, cyc in v.items():
                    row[f"phase_{name}_cycles"] = cyc
            elif f.name.endswith("_by_class"):
                stem = f.name[:-len("_by_class")]
                for cls_name, n in v.items():
                    row[f"{stem}_{cls_name}"] = n
            elif f.name == "ipc_per_pipeline":
                row["ipc_pipeline_mean"] = float(v.mean()) if v.size else 0.0
                row["ipc_pipeline_max"] = float(v.max()) if v.size else 0.0
            elif f.name == "thread_busy_cycles":
                row["thread_busy_cycles_max"] = float(v.max()) if v.size else 0.0
                row["thread_busy_cycles_mean"] = float(v.mean()) if v.size else 0.0
            else:
                row[f.name] = v
        row["dram_useful_bytes"] = self.dram_useful_bytes
        row["dram_transferred_bytes"] = self.dram_transferred_bytes
        return row


def _network_counters(sim: "Simulation", cycles: float) -> dict[str, Any]:
    """Mesh (links and router ports) and die-to-die link totals from the per-link counters."""
    from simulator.machine.sim import LINK_HYPERX, LINK_MESH
    hx = sim.net.kind == LINK_HYPERX
    busy = sim.nl_bytes * sim.nl_cpb / cycles
    return {"mesh_link_bytes": int(sim.nl_bytes[sim.net.kind == LINK_MESH].sum()),
            "mesh_queue_cycles": float(sim.nl_queue[~hx].sum()),
            "mesh_busiest_link_utilization": float(busy[~hx].max(initial=0.0)),
            "link_bytes": int(sim.nl_bytes[hx].sum()),
            "link_queue_cycles": float(sim.nl_queue[hx].sum()),
            "link_busiest_utilization": float(busy[hx].max(initial=0.0))}
