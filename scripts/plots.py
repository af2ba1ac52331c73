#!/usr/bin/env python3
"""Draw smash figures from a results file (JSONL or CSV): the same as `smash plot KIND RESULTS`.

    python scripts/plots.py speedup smash-out/reproduce/records.jsonl -o figs/speedup
    python scripts/plots.py all smash-out/reproduce/records.jsonl -o figs

Reads result files only: the figures are drawn by simulator.plots, which imports nothing of the
simulator besides the results-file reader.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.plots import KINDS, load_results, plot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=sorted(KINDS) + ["all"])
    ap.add_argument("results", help="JSONL or CSV results file")
    ap.add_argument("-o", "--out", default=None, help="output stem (a folder with 'all')")
    ap.add_argument("--format", action="append", choices=["png", "pdf", "svg"],
                    help="figure format (repeatable; default png and pdf)")
    args = ap.parse_args(argv)
    try:
        recs = load_results(args.results)
        kinds = [k for k in KINDS if k != "scaling"] if args.kind == "all" else [args.kind]
        base = Path(args.out) if args.out else Path(args.results).parent
        for k in kinds:
            stem = base / k if (args.kind == "all" or not args.out) else base
            for p in plot(k, recs, stem, formats=args.format or ["png", "pdf"]):
                print(p)
    except (ValueError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
