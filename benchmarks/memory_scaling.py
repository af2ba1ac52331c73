"""Peak host memory and wall time of one simulation against the matrix size (R-MAT scales).

    .venv/bin/python benchmarks/memory_scaling.py [--kernel smash-v3] [--scales 12-16]
        [--presets piuma-die,piuma-node] [--timeout 7200] [--jsonl out.jsonl] [--census]

Each point is `smash run -k KERNEL -m rmat:scale=S,ef=16 --preset P --max-ops 1e12 --json` in a
fresh process, so the numbers are that process's own: its peak resident set (the kernel's
ru_maxrss for the child, which includes the Python runtime, numba and scipy, ~0.2 GB), its wall
time, and from its record the simulated operations and cycles. Points run one at a time (each
is a heavy job); a point that runs out of time or memory is reported as such and the sweep goes
on. --census samples the child's /proc/PID/smaps every 5 s and keeps, at its largest resident
set, the mappings holding more than 20 MB (their size and resident MB: the arrays they hold are
found by size). The table in docs/engine-api.md ("Memory") comes from this script.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from simulator.cli._common import format_table


def parse_scales(text: str) -> list[int]:
    """"12-16" or "12,14,16"."""
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def smaps_census(pid: int, min_kb: int = 20 * 1024) -> tuple[int, list[list]]:
    """(resident kB, [[mapping, size MB, resident MB], ...] of those above min_kb resident)."""
    maps, total, cur = [], 0, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head, _, rest = line.partition(" ")
            if not head.endswith(":"):                       # a mapping's first line
                parts = rest.split()
                cur = [f"{head} {parts[4] if len(parts) > 4 else ''}".strip(), 0, 0]
            elif head == "Size:":
                cur[1] = int(rest.split()[0])
            elif head == "Rss:":
                cur[2] = int(rest.split()[0])
                total += cur[2]
                if cur[2] > min_kb:
                    maps.append([cur[0], cur[1] >> 10, cur[2] >> 10])
    return total, maps


def watch(pid: int, out: dict, every: float = 5.0) -> None:
    """Keep in `out` the census at the child's largest resident set, until it exits."""
    best = 0
    while True:
        try:
            total, maps = smaps_census(pid)
        except (OSError, ValueError, TypeError):
            return
        if total > best:
            best = total
            out.update(census_rss_mb=total >> 10, census_maps=maps)
        time.sleep(every)


def run_point(kernel: str, scale: int, preset: str, timeout: float,
              census: bool = False) -> dict:
    """One simulation in a child process: its record's key numbers, its peak RSS and wall time
    (and with `census`, its largest mappings at its largest sampled resident set)."""
    spec = f"rmat:scale={scale},ef=16"
    cmd = [sys.executable, "-c", "from simulator.cli import main; main()", "run", "-k", kernel,
           "-m", spec, "--preset", preset, "--max-ops", str(10**12), "--json", "--out", ""]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # os.kill, not proc.kill: Popen.kill polls first, which would reap an exited child before
    # wait4 gets its resource usage
    timer = threading.Timer(timeout, os.kill, (proc.pid, signal.SIGKILL))
    timer.start()
    seen: dict = {}
    if census:
        threading.Thread(target=watch, args=(proc.pid, seen), daemon=True).start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)          # this child's own resource usage
    timer.cancel()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    row = {"kernel": kernel, "matrix": spec, "preset": preset, "wall_seconds": round(wall, 1),
           "peak_rss_mb": round(usage.ru_maxrss / 1024), **seen}   # ru_maxrss: kB on Linux
    if code != 0:
        row["status"] = ("timeout" if wall >= timeout else
                         f"killed by signal {-code}" if code < 0 else f"exit {code}")
        return row
    rec = json.loads(out)
    row.update(status="ok", operations=rec["operations"], cycles=rec["cycles"],
               host_seconds=round(rec["host_seconds"], 1), verified=rec["verified"])
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="smash-v3")
    ap.add_argument("--scales", default="12-16", help='R-MAT scales, "12-16" or "12,14"')
    ap.add_argument("--presets", default="piuma-die,piuma-node")
    ap.add_argument("--timeout", type=float, default=7200.0, help="seconds per point")
    ap.add_argument("--jsonl", default=None, help="append each point's row to this file")
    ap.add_argument("--census", action="store_true",
                    help="keep the child's largest mappings at its largest resident set")
    args = ap.parse_args(argv)
    rows = []
    for preset in args.presets.split(","):
        for scale in parse_scales(args.scales):
            row = run_point(args.kernel, scale, preset, args.timeout, args.census)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if args.jsonl:
                with Path(args.jsonl).open("a") as f:
                    f.write(json.dumps(row) + "\n")
    print(format_table(rows, ["preset", "matrix", "status", "operations", "peak_rss_mb",
                              "wall_seconds", "host_seconds"],
                       ["preset", "matrix", "status", "simulated ops", "peak RSS (MB)",
                        "wall (s)", "simulation (s)"]))
    print()
    print(markdown(rows))
    return 0


def commit() -> str:
    """The checkout's short commit hash (the table's last column), or "?" outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return out.stdout.strip() or "?"


def markdown(rows: list[dict]) -> str:
    """The rows as the Markdown table of docs/engine-api.md."""
    out = ["| preset | matrix | simulated operations | peak resident memory | wall time | commit |",
           "|---|---|---:|---:|---:|---|"]
    at = commit()
    for r in rows:
        ops = f"{r['operations'] / 1e6:,.0f} M" if "operations" in r else r["status"]
        out.append(f"| {r['preset']} | `{r['matrix']}` | {ops} | {r['peak_rss_mb'] / 1024:.2f} GB "
                   f"| {r['wall_seconds']:,.0f} s | {at} |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
