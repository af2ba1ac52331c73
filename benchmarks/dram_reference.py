"""The DRAM model against the reference: every stream of ../shared/reference/dram/ on the
reference device (preset ddr4-3200-x8), for both address mappings the reference lists.

    .venv/bin/python benchmarks/dram_reference.py [--requests 20000] [--markdown]

For each stream: saturated bandwidth (requests offered as fast as the controller accepts
them), row-buffer hit rate, W32 bandwidth and mean latency (32 reads in flight), and for the
chains (one request in flight) bandwidth and unloaded latency; the reference's value beside
each and the relative difference. The target is within 15 % on saturated bandwidth and on mean
latency (W32 and chains). Prints a table (markdown with --markdown, as in docs/dram.md). Takes
a few seconds after the JIT warm-up.
"""
from __future__ import annotations

import argparse

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
    args = ap.parse_args()
    rows = compare(args.requests)
    print(table(rows, args.markdown))
    bad = [f"{r['mapping']} {r['pattern']}" for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} streams within {TARGET:.0%}"
          + (f"; outside: {', '.join(bad)}" if bad else ""))


if __name__ == "__main__":
    main()
