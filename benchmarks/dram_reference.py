"""The DRAM model against the reference: every stream of ../shared/reference/dram/ on the
reference device (preset ddr4-3200-x8), for both address mappings the reference lists.

    .venv/bin/python benchmarks/dram_reference.py [--requests 20000] [--markdown] [--breakdown]

For each stream: saturated bandwidth (requests offered as fast as the controller accepts
them), row-buffer hit rate, W32 bandwidth and mean latency (32 reads in flight), and for the
chains (one request in flight) bandwidth and unloaded latency; the reference's value beside
each and the relative difference. The target is within 15 % on saturated bandwidth and on mean
latency (W32 and chains). Prints a table (markdown with --markdown, as in docs/dram.md). Takes
a few seconds after the JIT warm-up. `--breakdown` instead traces the random stream (W32 and
saturated, reference mapping) command by command and prints where the data bus's time per
column command goes (docs/dram.md, "Where random's gap comes from").
"""
from __future__ import annotations

import argparse

import numpy as np

from simulator.machine import dram as M
from simulator.machine.config import load_config
from simulator.machine.dram import micro

# ../shared/reference/dram/README.md (DRAMsim3 2981759, DDR4_8Gb_x8_3200): per stream
# saturated GB/s, row-buffer hit rate, W32 GB/s, W32 mean latency ns (chains: unloaded latency)
REFERENCE = {
    "seq": (16.87, 0.992, 15.02, 136.0),
    "random": (20.56, 0.000, 19.67, 104.0),
    "mixed": (23.39, 0.498, 21.75, 94.0),
    "rmw": (18.72, 0.001, 18.48, 221.0),
    "chain-random": (1.37, 0.000, None, 46.7),
    "chain-seq": (3.43, 0.990, None, 18.6),
}
# the same device with the mapping `ch ro ra ba co bg`: saturated GB/s only
REFERENCE_CH_FIRST = {"seq": 24.2, "random": 20.5, "mixed": 23.4, "rmw": 18.8}
MAPPINGS = {"ro,ch,ra,ba,bg,co": REFERENCE, "ch,ro,ra,ba,co,bg": REFERENCE_CH_FIRST}
TARGET = 0.15


def _diff(model: float, ref: float | None) -> float | None:
    return None if ref is None else model / ref - 1


def compare(requests: int = 20000) -> list[dict]:
    """One row per (mapping, stream): the model's numbers, the reference's, the differences
    and whether the targeted ones are within TARGET."""
    rows = []
    for mapping, ref in MAPPINGS.items():
        cfg = load_config("ddr4-3200-x8", [f"dram.mapping={mapping}"])
        for pattern in REFERENCE:
            if pattern not in ref:
                continue
            r = ref[pattern]
            sat_ref, hit_ref, w32_ref, lat_ref = r if isinstance(r, tuple) else (r, None, None, None)
            sat = micro(cfg, pattern, requests=requests)
            row = {"mapping": mapping, "pattern": pattern,
                   "sat_gb_s": sat["bandwidth_gb_per_s"], "sat_ref": sat_ref,
                   "sat_diff": _diff(sat["bandwidth_gb_per_s"], sat_ref),
                   "hit_rate": sat["row_hit_rate"], "hit_ref": hit_ref}
            targeted = [row["sat_diff"]]
            if pattern.startswith("chain"):
                row.update(lat_ns=sat["latency_ns_mean"], lat_ref=lat_ref,
                           lat_diff=_diff(sat["latency_ns_mean"], lat_ref))
            else:
                w = micro(cfg, pattern, outstanding=32, requests=requests)
                row.update(w32_gb_s=w["bandwidth_gb_per_s"], w32_ref=w32_ref,
                           w32_diff=_diff(w["bandwidth_gb_per_s"], w32_ref),
                           lat_ns=w["latency_ns_mean"], lat_ref=lat_ref,
                           lat_diff=_diff(w["latency_ns_mean"], lat_ref))
            targeted.append(row["lat_diff"])
            row["ok"] = all(d is None or abs(d) <= TARGET for d in targeted)
            rows.append(row)
    return rows


def trace_random(cfg, window: int, requests: int, seed: int = 1) -> np.ndarray:
    """The random read stream offered as `micro` offers it (window reads in flight, or 0:
    each when the one before was accepted), one request at a time: per request (arrival at the
    controller, bank, ACT time or NaN for a row hit, column command time)."""
    D = M.new_state(cfg)
    rng = np.random.default_rng(seed)
    ring = np.zeros(max(window, 1))
    out = np.zeros((requests, 4))
    acc, head = 0.0, 0
    for k in range(requests):
        t = ring[head] if window else acc
        ch, bank, row = M.dram_map(D, int(rng.integers(0, (4 << 30) // 64)) * 64, 0)
        acts = D.cnt[M.DC_ACTS]
        done = M.dram_access(D, ch, bank, row, 0, t, 64)
        acc = D.cntf[M.DCF_ACCEPT]
        gb = ch * D.ip[M.DI_NBANKS] + bank
        ta = D.bk_f[gb, M.BK_ACT] - D.fp[M.DF_RC] if D.cnt[M.DC_ACTS] > acts else np.nan
        out[k] = (t + D.fp[M.DF_CTRL], bank, ta, D.bk_f[gb, M.BK_LAST])
        if window:
            ring[head] = done
            head = (head + 1) % window
    return out


def bus_breakdown(window: int, requests: int = 20000) -> dict:
    """Where the data bus's time goes on the random stream (reference device and mapping), in
    tCK per column command: the minimum spacing of consecutive commands (4 tCK, +1 at a rank
    switch, 8 in one bank group) and the idle rest; the activation rate against tFAW's; the
    share of column commands that waited 4 tCK or more past their ready time (ACT + tRCD), and
    per such wait the commands placed in it that arrived earlier but were ready later."""
    cfg = load_config("ddr4-3200-x8")
    d = cfg.dram
    tck = d.tCK_ns * cfg.clock_ghz
    t, bank, ta, tc = trace_random(cfg, window, requests).T
    per_rank = d.bank_groups * d.banks_per_group
    rank, bg = bank // per_rank, (bank // d.banks_per_group) % d.bank_groups
    o = np.argsort(tc, kind="stable")
    gap = np.diff(tc[o]) / tck
    same_rank = rank[o][1:] == rank[o][:-1]
    same_bg = same_rank & (bg[o][1:] == bg[o][:-1])
    least = np.where(same_bg, d.tCCD_L, np.where(same_rank, d.tCCD_S, d.burst_length / 2 + d.tRTRS))
    ready = np.where(np.isnan(ta), t, ta + d.tRCD * tck)
    waited = np.flatnonzero(tc - ready >= 4 * tck)
    tcs, rds = tc[o], ready[o]
    inversions = sum(int(np.sum((rds[lo:hi] > ready[i]) & (o[lo:hi] < i)))
                     for i in waited for lo, hi in [np.searchsorted(tcs, [ready[i], tc[i]])])
    span = (tc.max() - tc.min()) / tck
    return {"window": window, "tck_per_column": float(gap.mean()),
            "least_spacing": float(least.mean()), "idle": float((gap - least).mean()),
            "rank_switches": float(1 - same_rank.mean()),
            "act_rate_of_tfaw": float(np.sum(~np.isnan(ta)) / span / (d.ranks * 4 / d.tFAW)),
            "waited_share": len(waited) / requests,
            "inversions_per_wait": inversions / max(1, len(waited))}


def _fmt(v, pct=False) -> str:
    if v is None:
        return ""
    if pct:
        return f"{v:+.0%}"
    return f"{v:.3f}" if abs(v) < 2 else f"{v:.1f}" if abs(v) >= 50 else f"{v:.2f}"


COLUMNS = [("mapping", "mapping", False), ("pattern", "stream", False),
           ("sat_gb_s", "sat. GB/s", False), ("sat_ref", "ref", False), ("sat_diff", "diff", True),
           ("hit_rate", "hit rate", False), ("hit_ref", "ref", False),
           ("w32_gb_s", "W32 GB/s", False), ("w32_ref", "ref", False), ("w32_diff", "diff", True),
           ("lat_ns", "latency ns", False), ("lat_ref", "ref", False), ("lat_diff", "diff", True),
           ("ok", "within 15 %", False)]


def table(rows: list[dict], markdown: bool) -> str:
    cells = [[h for _, h, _ in COLUMNS]]
    for r in rows:
        cells.append([("yes" if r[k] else "NO") if k == "ok" else
                      (r[k] if isinstance(r.get(k), str) else _fmt(r.get(k), pct))
                      for k, _, pct in COLUMNS])
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        lines.insert(1, "|" + "|".join("---" for _ in COLUMNS) + "|")
        return "\n".join(lines)
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c[i].rjust(widths[i]) for i in range(len(c))) for c in cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--breakdown", action="store_true")
    args = ap.parse_args()
    if args.breakdown:
        for window in (32, 0):
            print(", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in bus_breakdown(window, args.requests).items()))
        return
    rows = compare(args.requests)
    print(table(rows, args.markdown))
    bad = [f"{r['mapping']} {r['pattern']}" for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} streams within {TARGET:.0%}"
          + (f"; outside: {', '.join(bad)}" if bad else ""))


if __name__ == "__main__":
    main()
