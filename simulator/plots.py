"""Figures from result files (JSONL/CSV records of `smash run`, `smash sweep`, `smash reproduce`).

    recs = load_results("smash-out/records.jsonl")
    plot("speedup", recs, "figures/speedup")        # -> figures/speedup.png, .pdf

Reads records only, never the simulator: every number on a figure is a record field. Kinds:

- ``speedup``  SMASH v1/v2/v3 speedup over inner and outer product per matrix, with the geomean
- ``dram``     DRAM traffic per kernel by data structure (A, B, C, partial products, hash tables
               and spills): useful vs transferred, read vs written (records without the
               `dram_bytes_<structure>_*` keys: by kind only)
- ``workload`` per-thread workload distribution: load imbalance (max/mean busy cycles)
- ``ipc``      machine IPC and DRAM bandwidth utilization per kernel
- ``roofline`` arithmetic intensity vs achieved GFLOP/s under the preset's bandwidth and issue
               ceilings
- ``scaling``  cycles / speedup against a swept `--set` parameter (threads, cores, bandwidth)
- ``ablation`` SMASH's ingredients on one at a time from the row-wise baseline (the records of
               `smash reproduce`): speedup over the baseline, DRAM traffic, atomic stall cycles
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

KERNEL_ORDER = ["inner", "inner-candidates", "outer", "rowwise-dense", "rowwise-hash", "smash-v1",
                "smash-v2", "smash-v3"]
COLORS = {"inner": "#7f7f7f", "inner-candidates": "#c7c7c7", "outer": "#bcbd22", "rowwise-dense": "#17becf",
          "rowwise-hash": "#9467bd", "smash-v1": "#1f77b4", "smash-v2": "#ff7f0e",
          "smash-v3": "#2ca02c"}
REQUIRED = ("kernel", "matrix", "cycles")


def load_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of a results file, checked for the fields every plot needs (ValueError if not)."""
    from simulator.sweep import read_records
    recs = read_records(path)
    if not recs:
        raise ValueError(f"{path}: no records")
    ok = [r for r in recs if r.get("status", "ok") == "ok"]
    if not ok:
        raise ValueError(f"{path}: every record is a failed run (status = error)")
    for i, r in enumerate(ok, 1):
        missing = [k for k in REQUIRED if r.get(k) is None]
        if missing:
            raise ValueError(f"{path}: record {i} lacks {', '.join(missing)}: not a smash "
                             f"results file")
    return recs


def _ok(recs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in recs if r.get("status", "ok") == "ok"]


def _need(recs: Sequence[Mapping[str, Any]], kind: str, fields: Sequence[str]) -> None:
    for r in recs:
        missing = [f for f in fields if r.get(f) is None]
        if missing:
            raise ValueError(f"plot {kind}: a record of {r.get('kernel')} on {r.get('matrix')} "
                             f"lacks {', '.join(missing)}")


def _series(r: Mapping[str, Any]) -> str:
    """A record's series: its kernel, and the knobs given to it when any (sweeps over knobs
    draw one series per setting)."""
    knobs = r.get("knobs") or ""
    return f"{r['kernel']} [{knobs}]" if knobs else r["kernel"]


def _base(series: str) -> str:
    return series.split(" [", 1)[0]


def _kernels(recs) -> list[str]:
    ks = {_series(r) for r in recs}
    order = {k: i for i, k in enumerate(KERNEL_ORDER)}
    return sorted(ks, key=lambda k: (order.get(_base(k), len(order)), _base(k), k))


def _matrices(recs) -> list[str]:
    seen: list[str] = []
    for r in recs:
        if r["matrix"] not in seen:
            seen.append(r["matrix"])
    return seen


def _table(recs) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(matrix, series) -> record, within one configuration; a repeated run (the same point
    appended twice) counts once: the last record wins."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in recs:
        out[(r["matrix"], _series(r))] = r
    return out


#: The fields that make a record's machine configuration: runs under different ones are never
#: compared in one panel (speedups pair runs of the same configuration).
CONFIG_FIELDS = ("preset", "config_hash", "overrides", "seed")


def configuration(r: Mapping[str, Any]) -> tuple:
    """A record's configuration: preset, config hash (the machine's values), `--set`
    overrides and seed. Knobs are not part of it: they make series within a figure."""
    return tuple(str(r.get(f) if r.get(f) is not None else "") for f in CONFIG_FIELDS)


def configurations(recs: Sequence[Mapping[str, Any]]) -> dict[tuple, list[Mapping[str, Any]]]:
    """Records grouped by configuration, in first-seen order."""
    out: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in recs:
        out.setdefault(configuration(r), []).append(r)
    return out


def config_label(key: tuple, all_keys: Sequence[tuple] = ()) -> str:
    """A short label: the preset and overrides; the hash when two configurations share them
    (an edited config file), the seed when seeds differ."""
    preset, chash, overrides, seed = key
    parts = [preset or "?"] + ([overrides] if overrides else [])
    if sum(k[0] == preset and k[2] == overrides for k in all_keys) > 1:
        parts.append(f"config {chash}")
    if len({k[3] for k in all_keys}) > 1:
        parts.append(f"seed {seed}")
    return ", ".join(parts)


def _slug(label: str) -> str:
    import re
    text = re.sub(r"[^A-Za-z0-9._=-]+", "_", label).strip("_")
    return text[:80] or "config"


def _unique(recs, field: str) -> Any:
    """The value of `field` shared by the records (None when absent or not unique)."""
    vals = {r.get(field) for r in recs}
    return vals.pop() if len(vals) == 1 else None


def _short(m: str, width: int = 22) -> str:
    """Matrix names as tick labels: break specs at commas so they stay readable."""
    if len(m) <= width:
        return m
    kind, _, rest = m.partition(":")
    lines, cur = [kind + ":"], ""
    for part in rest.split(","):
        if cur and len(cur) + len(part) + 1 > width:
            lines.append(cur + ",")
            cur = part
        else:
            cur = f"{cur},{part}" if cur else part
    lines.append(cur)
    return "\n".join(lines)


def _si(v: float) -> str:
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suf}"
    return f"{v:.3g}"


def _color(k: str) -> str:
    """A series' color: its kernel's, and for knob variants a shade of it (set per figure by
    `_shade_variants`)."""
    return _VARIANT_COLORS.get(k) or COLORS.get(_base(k), "#333333")


_VARIANT_COLORS: dict[str, str] = {}


def _shade_variants(recs) -> None:
    """Distinct shades for the knob variants of each kernel in these records."""
    from matplotlib.colors import to_hex, to_rgb
    _VARIANT_COLORS.clear()
    by_base: dict[str, list[str]] = {}
    for k in _kernels(recs):
        by_base.setdefault(_base(k), []).append(k)
    for base, ks in by_base.items():
        if len(ks) < 2:
            continue
        rgb = np.array(to_rgb(COLORS.get(base, "#333333")))
        for i, k in enumerate(ks):
            t = i / (len(ks) - 1)             # dark to light
            shade = rgb * (1.3 - 0.6 * t) if t < 0.5 else rgb + (1 - rgb) * (t - 0.3)
            _VARIANT_COLORS[k] = to_hex(np.clip(shade, 0, 1))


#: Matrices per row of a figure over matrices: more wrap into further rows.
PER_ROW = 8


def _rows_of(mats: Sequence[str], extra: int = 0) -> list[list[str]]:
    """Matrices in rows of at most PER_ROW (`extra` slots kept free in the last row)."""
    rows = [list(mats[i:i + PER_ROW]) for i in range(0, len(mats), PER_ROW)] or [[]]
    if extra and len(rows[-1]) + extra > PER_ROW and len(rows[-1]) > 1:
        rows.append([])
    return rows


def _save(fig, stem: Path, formats: Sequence[str]) -> list[Path]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    from matrices.outputs import atomic_output
    if stem.suffix.lower() in (".png", ".pdf", ".svg"):       # -o figs/speedup.png
        stem = stem.with_suffix("")
    out = []
    try:
        for fmt in formats:
            p = stem.with_name(f"{stem.name}.{fmt}")
            with atomic_output(p) as tmp:
                fig.savefig(tmp, dpi=130, bbox_inches="tight", format=fmt)
            out.append(p)
    finally:
        plt.close(fig)
    return out


def ax_vals(ax) -> list[float]:
    """Heights of the bars of an axis (error bars' ends included)."""
    from matplotlib.container import BarContainer, ErrorbarContainer
    out = [b.get_height() for c in ax.containers if isinstance(c, BarContainer) for b in c]
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            for col in c.lines[2]:
                for seg in col.get_segments():
                    out += [float(seg[0][1]), float(seg[1][1])]
    return out


def _plain_log_ticks(ax) -> None:
    """Log axes labelled 0.2, 0.5, 1, 2, 5, 10 instead of 2 x 10^-1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _sampled(r: Mapping[str, Any] | None) -> bool:
    from simulator.sampling import is_sampled
    return is_sampled(r)


def _sampled_note(fig, recs, bars: bool = False) -> None:
    """A footnote under the figure when some run was estimated from a sample."""
    if any(_sampled(r) for r in recs):
        fig.text(0.01, 0.0, "* a run on this matrix was estimated from a sample (miniatures of "
                 "the run; cycles_ci_low/high in the record)"
                 + ("; error bars: its 95% interval" if bars else ""), fontsize=7,
                 color="#555555", va="top")


# ----------------------------------------------------------------------------------------------


def _mark(m: str, recs_of_m) -> str:
    """A matrix's tick label, starred when a run on it was sampled."""
    return _short(m, 16) + (" *" if any(_sampled(r) for r in recs_of_m) else "")


def _title_suffix(recs) -> str:
    return f"; {_TITLE}" if _TITLE else ""


_TITLE = ""     # the configuration of the figure being drawn (set by `plot`)


def plot_speedup(recs, stem, formats=("png", "pdf")) -> list[Path]:
    recs = _ok(recs)
    _need(recs, "speedup", ["cycles"])
    tab = _table(recs)
    mats = _matrices(recs)
    versions = [k for k in _kernels(recs) if _base(k).startswith("smash")]
    bases = [b for b in _kernels(recs) if _base(b) in ("inner", "inner-candidates", "outer")
             and any((m, b) in tab for m in mats)]
    if not versions or not bases:
        raise ValueError("plot speedup: needs records of smash-v* and of inner or outer product "
                         "on the same matrices")
    rows = _rows_of(mats, extra=1)
    n_ax = len(bases) * len(rows)
    width = max(6.0, 1.3 * (min(len(mats), PER_ROW) + 1) + 1.5)
    fig, axes = plt.subplots(n_ax, 1, figsize=(width, 3.4 * n_ax + 0.8), squeeze=False)
    w = 0.8 / len(versions)
    for bi, base in enumerate(bases):
        from simulator.sampling import geomean_interval, speedup_interval
        speed = {}
        for v in versions:
            for m in mats:
                b, r = tab.get((m, base)), tab.get((m, v))
                speed[(m, v)] = (speedup_interval(b, r) if b and r and r["cycles"]
                                 else (np.nan, np.nan, np.nan))
        for ri, row in enumerate(rows):
            ax = axes[bi * len(rows) + ri, 0]
            last = ri == len(rows) - 1
            labels = row + (["geomean"] if last else [])
            x = np.arange(len(labels))
            for i, v in enumerate(versions):
                trip = [speed[(m, v)] for m in row]
                if last:
                    trip.append(geomean_interval([speed[(m, v)] for m in mats]))
                vals = [t[0] for t in trip]
                err = np.array([[max(t[0] - t[1], 0) if np.isfinite(t[1]) else 0 for t in trip],
                                [max(t[2] - t[0], 0) if np.isfinite(t[2]) else 0 for t in trip]])
                pos = x - 0.4 + w * (i + 0.5)
                bars = ax.bar(pos, vals, w, color=_color(v), label=v, edgecolor="black",
                              linewidth=0.4)
                if err.any():           # sampled runs: their interval
                    ax.errorbar(pos, vals, yerr=err, fmt="none", ecolor="black",
                                elinewidth=0.8, capsize=2)
                if last:
                    bars[-1].set_hatch("//")
                for p_, val in zip(pos, vals):
                    if math.isfinite(val):
                        ax.text(p_, val, f"{val:.1f}" if val < 100 else f"{val:.0f}",
                                ha="center", va="bottom", fontsize=6,
                                rotation=90 if len(labels) * len(versions) > 24 else 0)
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
            ax.set_yscale("log")
            finite = [v for v in ax_vals(ax) if math.isfinite(v) and v > 0] + [1.0]
            ax.set_ylim(min(finite) / 1.6, max(finite) * 2.2)
            _plain_log_ticks(ax)
            ax.set_ylabel(f"speedup over\n{base} (x, log)", fontsize=8)
            ticks = [_mark(m, [tab.get((m, k)) for k in [base] + versions]) for m in row]
            ax.set_xticks(x, ticks + (["geomean"] if last else []), fontsize=7)
            ax.set_xlim(-0.6, max(len(labels), 2) - 0.4)
            if last:
                ax.axvline(len(row) - 0.5, color="#999999", linewidth=0.8)
            if ri == 0:
                ax.set_title(f"SMASH speedup over {base} (baseline cycles / SMASH cycles, "
                             f"simulated{_title_suffix(recs)})", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(versions), 4), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0.02, 1, 1 - 0.45 / (3.4 * n_ax + 0.8)))
    _sampled_note(fig, recs, bars=True)
    return _save(fig, stem, formats)


#: DRAM traffic by data structure: the record keys' group names (simulator.run.DRAM_GROUPS),
#: legend labels and colors, in stacking order
DRAM_STRUCTURES = [("A", "A", "#1f77b4"), ("B", "B", "#ff7f0e"), ("C", "C", "#2ca02c"),
                   ("partials", "partial products", "#d62728"),
                   ("hash", "hash tables, spills, dense accumulators", "#9467bd"),
                   ("symbolic", "bounds, symbolic phase, scans", "#8c564b"),
                   ("other", "other (counters)", "#7f7f7f")]


def _has_structures(recs) -> bool:
    return all(r.get(f"dram_bytes_{g}_{d}_{q}") is not None for r in recs
               for g, _, _ in DRAM_STRUCTURES for d in ("read", "written")
               for q in ("useful", "transferred"))


def plot_dram(recs, stem, formats=("png", "pdf")) -> list[Path]:
    """By data structure (A, B, C, partial products, accumulators) when the records carry the
    `dram_bytes_<structure>_...` keys; else (older records) by kind only."""
    recs = _ok(recs)
    if recs and _has_structures(recs):
        return _plot_dram_structures(recs, stem, formats)
    return _plot_dram_kinds(recs, stem, formats)


def _plot_dram_structures(recs, stem, formats) -> list[Path]:
    _need(recs, "dram", ["dram_read_transferred_bytes", "dram_write_transferred_bytes"])
    tab = _table(recs)
    mats, ks = _matrices(recs), _kernels(recs)
    n = len(mats)
    cols = min(n, 2 if n <= 4 else 3 if n <= 12 else 4)     # 40 matrices: 10 rows of 4
    rows = math.ceil(n / cols)
    fig_h = 4.4 * rows + 0.8
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, fig_h), squeeze=False)
    w = 0.4
    for idx, m in enumerate(mats):
        ax = axes[idx // cols, idx % cols]
        present = [k for k in ks if (m, k) in tab]
        x = np.arange(len(present))
        tops = []
        for side, d in ((-1, "read"), (1, "written")):
            pos = x + side * w / 2
            bottom = np.zeros(len(present))
            for g, label, color in DRAM_STRUCTURES:
                useful = np.array([tab[(m, k)][f"dram_bytes_{g}_{d}_useful"] for k in present]) / 1e6
                xfer = np.array([tab[(m, k)][f"dram_bytes_{g}_{d}_transferred"] for k in present]) / 1e6
                extra = np.maximum(xfer - useful, 0)
                ax.bar(pos, useful, w * 0.92, bottom=bottom, color=color, label=label,
                       edgecolor="black", linewidth=0.3)
                bottom += useful
                ax.bar(pos, extra, w * 0.92, bottom=bottom, color=color, alpha=0.35, hatch="////",
                       edgecolor="black", linewidth=0.3)
                bottom += extra
            tops.append(bottom)
        top = np.maximum(tops[0], tops[1])
        spills = [tab[(m, k)].get("spilled_products") or 0 for k in present]
        for xi, s, t in zip(x, spills, top):
            if s:
                ax.text(xi, t, f"spill\n{_si(s)}", ha="center", va="bottom", fontsize=6)
        # one bar far above the rest (inner product's re-reads of B): clip it, print its value
        allb = np.concatenate(tops)
        order = np.sort(allb)
        if len(order) > 1 and order[-1] > 3 * order[-2]:
            cap = 1.5 * order[-2]
            ax.set_ylim(0, cap)
            i = int(np.argmax(allb))
            xi = x[i % len(present)] + (-1 if i < len(present) else 1) * w / 2
            ax.text(xi + 0.25, cap * 0.97, f"{allb[i]:.3g} MB\n(off scale)", ha="left",
                    va="top", fontsize=7, bbox=dict(facecolor="white", edgecolor="none", pad=1))
        else:
            # explicit: the empty (zero-height) segments on top of a stack would pin the axis
            ax.set_ylim(0, 1.12 * order[-1] if len(order) and order[-1] > 0 else 1.0)
        ax.set_xticks(np.concatenate([x - w / 2, x + w / 2]), ["r"] * len(x) + ["w"] * len(x),
                      minor=True, fontsize=6)
        ax.set_xticks(x, present, rotation=35, ha="right", fontsize=8)
        ax.tick_params(axis="x", which="major", pad=11, length=0)
        ax.tick_params(axis="x", which="minor", length=2, pad=1)
        ax.set_ylabel("DRAM traffic (MB)")
        ax.set_title(m + (" *" if any(_sampled(tab[(m, k)]) for k in present) else ""),
                     fontsize=9)
    for idx in range(n, rows * cols):
        axes[idx // cols, idx % cols].set_visible(False)
    from matplotlib.patches import Patch
    handles = [Patch(facecolor=c, edgecolor="black", linewidth=0.3, label=l)
               for g, l, c in DRAM_STRUCTURES]
    handles.append(Patch(facecolor="#bbbbbb", alpha=0.5, hatch="////", edgecolor="black",
                         linewidth=0.3, label="transferred beyond useful (lighter, hatched)"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("DRAM traffic by data structure: bytes read (r) and written (w) per kernel; "
                 "solid = useful, hatched = transferred beyond useful" + _title_suffix(recs) + "\n"
                 "(C read = the cache's line fills before C is written; A includes the outer "
                 "product's A transposed, B the inner product's B transposed)", fontsize=9)
    fig.tight_layout(rect=(0, 0.5 / fig_h, 1, 0.97))
    _sampled_note(fig, recs)
    return _save(fig, stem, formats)


def _plot_dram_kinds(recs, stem, formats) -> list[Path]:
    fields = ["dram_read_useful_bytes", "dram_read_transferred_bytes", "dram_write_useful_bytes",
              "dram_write_transferred_bytes"]
    _need(recs, "dram", fields)
    tab = _table(recs)
    mats, ks = _matrices(recs), _kernels(recs)
    n = len(mats)
    cols = min(n, 3 if n <= 12 else 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows + 0.6), squeeze=False)
    parts = [("read, useful", "dram_read_useful_bytes", None, "#1f77b4", None),
             ("read, transferred beyond useful", "dram_read_transferred_bytes", "dram_read_useful_bytes", "#aec7e8", None),
             ("written, useful", "dram_write_useful_bytes", None, "#d62728", None),
             ("written, transferred beyond useful", "dram_write_transferred_bytes", "dram_write_useful_bytes", "#ff9896", None)]
    for idx, m in enumerate(mats):
        ax = axes[idx // cols, idx % cols]
        present = [k for k in ks if (m, k) in tab]
        x = np.arange(len(present))
        bottom = np.zeros(len(present))
        for label, f, minus, color, _ in parts:
            vals = np.array([(tab[(m, k)][f] - (tab[(m, k)][minus] if minus else 0)) / 1e6
                             for k in present])
            ax.bar(x, vals, 0.7, bottom=bottom, color=color, label=label, edgecolor="black",
                   linewidth=0.3)
            bottom += vals
        partial = np.array([((tab[(m, k)].get("partial_bytes_written") or 0)
                             + (tab[(m, k)].get("partial_bytes_read") or 0)) / 1e6 for k in present])
        if partial.any():
            ax.bar(x, partial, 0.7, fill=False, hatch="xx", edgecolor="#444444", linewidth=0,
                   label="of which partial products (written + read back)")
        comp = [tab[(m, k)].get("compulsory_dram_bytes") for k in present]
        if all(c is not None for c in comp):
            ax.axhline(comp[0] / 1e6, color="black", linestyle=":", linewidth=1,
                       label="compulsory (A, B read once, C written once)")
        spills = [tab[(m, k)].get("spilled_products") or 0 for k in present]
        for xi, s, top in zip(x, spills, bottom):
            if s:
                ax.text(xi, top, f"spill\n{_si(s)}", ha="center", va="bottom", fontsize=6)
        # one bar far above the rest (inner product's re-reads of B): clip it, print its value
        order = np.sort(bottom)
        if len(order) > 1 and order[-1] > 3 * order[-2]:
            cap = 1.5 * order[-2]
            ax.set_ylim(0, cap)
            i = int(np.argmax(bottom))
            ax.text(x[i] + 0.42, cap * 0.97, f"{bottom[i]:.0f} MB\n(off scale)", ha="left", va="top",
                    fontsize=7, bbox=dict(facecolor="white", edgecolor="none", pad=1))
        ax.set_xticks(x, present, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("DRAM traffic (MB)")
        ax.set_title(m + (" *" if any(_sampled(tab[(m, k)]) for k in present) else ""),
                     fontsize=9)
        ax.margins(y=0.12)
    for idx in range(n, rows * cols):
        axes[idx // cols, idx % cols].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for a in axes.flat:
        for h, l in zip(*a.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("DRAM traffic by kind: useful vs transferred bytes, read vs written"
                 + _title_suffix(recs), fontsize=11)
    fig.tight_layout(rect=(0, 0.09, 1, 0.97))
    _sampled_note(fig, recs)
    return _save(fig, stem, formats)


def _grouped(ax, recs, field: str, mats: Sequence[str], value=None) -> None:
    """Bars of `field` (or value(record)) per matrix of `mats`, one per series."""
    tab = _table(recs)
    ks = _kernels(recs)
    x = np.arange(len(mats))
    w = 0.8 / len(ks)
    get = value or (lambda r: r.get(field))
    for i, k in enumerate(ks):
        vals = [get(tab[(m, k)]) if (m, k) in tab and get(tab[(m, k)]) is not None else np.nan
                for m in mats]
        ax.bar(x - 0.4 + w * (i + 0.5), vals, w, color=_color(k), label=k, edgecolor="black",
               linewidth=0.3)
    ax.set_xticks(x, [_mark(m, [r for r in recs if r["matrix"] == m]) for m in mats], fontsize=7)
    ax.set_xlim(-0.6, max(len(mats), 2) - 0.4)


def _panels(recs, n_metrics: int, height: float = 2.9):
    """A figure with `n_metrics` panels per row of matrices (rows of PER_ROW), legend on top."""
    rows = _rows_of(_matrices(recs))
    n = n_metrics * len(rows)
    width = max(7.0, 1.2 * min(len(_matrices(recs)), PER_ROW) + 2)
    fig, axes = plt.subplots(n, 1, figsize=(width, height * n + 0.9), squeeze=False)
    return fig, axes[:, 0], rows


def _finish_panels(fig, axes, recs, stem, formats) -> list[Path]:
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 1.0))
    h = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0.02, 1, 1 - 0.5 / h))
    _sampled_note(fig, recs)
    return _save(fig, stem, formats)


def plot_workload(recs, stem, formats=("png", "pdf")) -> list[Path]:
    recs = _ok(recs)
    _need(recs, "workload", ["load_imbalance", "thread_busy_cycles_max", "thread_busy_cycles_mean"])
    fig, axes, rows = _panels(recs, 2)
    for ri, mats in enumerate(rows):
        a0, a1 = axes[2 * ri], axes[2 * ri + 1]
        _grouped(a0, recs, "load_imbalance", mats)
        a0.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
        a0.set_yscale("log")
        _plain_log_ticks(a0)
        a0.set_ylabel("load imbalance, log\n(busiest / mean thread)", fontsize=8)
        top = max([v for v in ax_vals(a0) if math.isfinite(v)] + [1.0])
        a0.set_ylim(0.8, top * 4)
        # busy time of the busiest (light) and the mean (solid) thread, % of the run
        tab = _table(recs)
        ks = _kernels(recs)
        x = np.arange(len(mats))
        w = 0.8 / len(ks)
        for i, k in enumerate(ks):
            pct = lambda f: [tab[(m, k)][f] / tab[(m, k)]["cycles"] * 100 if (m, k) in tab
                             and tab[(m, k)]["cycles"] else np.nan for m in mats]
            pos = x - 0.4 + w * (i + 0.5)
            a1.bar(pos, pct("thread_busy_cycles_max"), w, color=_color(k), alpha=0.35,
                   edgecolor="black", linewidth=0.3)
            a1.bar(pos, pct("thread_busy_cycles_mean"), w, color=_color(k), edgecolor="black",
                   linewidth=0.3)
        a1.set_xticks(x, [_mark(m, [r for r in recs if r["matrix"] == m]) for m in mats],
                      fontsize=7)
        a1.set_xlim(-0.6, max(len(mats), 2) - 0.4)
        a1.set_ylabel("thread busy time\n(% of the run)", fontsize=8)
        a1.set_ylim(0, 105)
        if ri == 0:
            a0.set_title(f"Workload distribution across hardware threads (1 = balanced)"
                         f"{_title_suffix(recs)}", fontsize=9)
            a1.set_title("Busy time of the mean thread (solid) and of the busiest thread "
                         "(light)", fontsize=9)
    return _finish_panels(fig, axes, recs, stem, formats)


def plot_ipc(recs, stem, formats=("png", "pdf")) -> list[Path]:
    recs = _ok(recs)
    _need(recs, "ipc", ["ipc", "dram_bandwidth_utilization"])
    fig, axes, rows = _panels(recs, 2)
    peak = _unique(recs, "machine_pipelines")        # from the records, not from a preset
    for ri, mats in enumerate(rows):
        a0, a1 = axes[2 * ri], axes[2 * ri + 1]
        _grouped(a0, recs, "ipc", mats)
        if peak:
            a0.axhline(peak, color="#d62728", linestyle="--", linewidth=1)
            a0.set_ylim(0, peak * 1.3)
        a0.set_ylabel("IPC, all pipelines", fontsize=8)
        a0.margins(y=0.2)
        _grouped(a1, recs, "dram_bandwidth_utilization", mats,
                 value=lambda r: None if r.get("dram_bandwidth_utilization") is None
                 else 100 * r["dram_bandwidth_utilization"])
        a1.axhline(100, color="#d62728", linestyle="--", linewidth=1)
        a1.set_ylim(0, 110)
        a1.set_ylabel("DRAM bandwidth\nutilization (% of peak)", fontsize=8)
        if ri == 0:
            a0.set_title("Instruction throughput" + (f" (issue ceiling {peak} instructions per "
                         f"cycle = 1 per pipeline, dashed)" if peak else "")
                         + _title_suffix(recs), fontsize=9)
            a1.set_title("DRAM bandwidth utilization (transferred bytes / (peak x run time))",
                         fontsize=9)
    return _finish_panels(fig, axes, recs, stem, formats)


#: Matrix markers on the roofline: shapes x fill styles give every matrix its own (65).
_SHAPES = "osD^v<>phH*Xd"
_FILLS = ("full", "left", "top", "bottom", "right")


def _marker(j: int) -> dict[str, Any]:
    return {"marker": _SHAPES[j % len(_SHAPES)],
            "fillstyle": _FILLS[(j // len(_SHAPES)) % len(_FILLS)]}


def plot_roofline(recs, stem, formats=("png", "pdf")) -> list[Path]:
    recs = _ok(recs)
    _need(recs, "roofline", ["arithmetic_intensity", "flops", "seconds"])
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    ks = _kernels(recs)
    mats = _matrices(recs)
    ai_all, perf_all = [], []
    sampled_any = False
    for r in _table(recs).values():
        ai = r["arithmetic_intensity"]
        perf = 2 * r["flops"] / r["seconds"] / 1e9 if r["seconds"] else 0
        if ai > 0 and perf > 0:
            ai_all.append(ai)
            perf_all.append(perf)
            ax.plot([ai], [perf], linestyle="", color=_color(_series(r)), markersize=7,
                    markeredgecolor="black", markeredgewidth=0.5, zorder=3,
                    **_marker(mats.index(r["matrix"])))
            if _sampled(r):         # sampled runs: a grey ring around the point
                sampled_any = True
                ax.plot([ai], [perf], marker="o", markersize=14, fillstyle="none",
                        color="#888888", linestyle="", zorder=2)
    if not ai_all:
        raise ValueError("plot roofline: no record with positive arithmetic intensity and time")
    lo, hi = min(ai_all) / 4, max(ai_all) * 8
    xs = np.logspace(math.log10(lo), math.log10(hi), 200)
    bw = _unique(recs, "peak_dram_gb_per_s")           # ceilings of the records' machine
    issue = _unique(recs, "peak_issue_ginstr_per_s")
    top = max(perf_all) * 4
    handles, labels = [], []
    from matplotlib.lines import Line2D
    if bw:
        handles += ax.plot(xs, bw * xs, color="black", linewidth=1.2)
        labels.append(f"DRAM bandwidth ceiling ({bw:.0f} GB/s)")
        top = max(top, min(bw * hi, 2 * (issue or 0) or bw * hi))
    if issue:
        handles.append(ax.axhline(2 * issue, color="#d62728", linewidth=1.2, linestyle="--"))
        labels.append(f"issue ceiling ({issue:.0f} G instr/s x 2 flop/instr)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(min(perf_all) / 4, top * 1.5)
    ax.set_xlabel("arithmetic intensity (flop / DRAM byte transferred)")
    ax.set_ylabel("achieved throughput (GFLOP/s, 2 flop per multiply-add)")
    ax.set_title("Roofline (ceilings from the records' machine" + _title_suffix(recs) + ")",
                 fontsize=10)
    handles += [Line2D([], [], marker="s", linestyle="", color=_color(k), markeredgecolor="black")
                for k in ks]
    labels += ks
    handles += [Line2D([], [], linestyle="", color="white", markeredgecolor="black", **_marker(j))
                for j in range(len(mats))]
    labels += mats
    if sampled_any:
        handles.append(Line2D([], [], marker="o", markersize=10, fillstyle="none",
                              color="#888888", linestyle=""))
        labels.append("sampled run (extrapolated)")
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              ncol=1 if len(labels) <= 30 else 2)
    ax.grid(True, which="major", linewidth=0.3)
    fig.tight_layout()
    return _save(fig, stem, formats)


def _override_axes(recs) -> dict[str, dict[int, float]]:
    """Parameters set by `--set` whose value varies across records: name -> {record idx: value}."""
    vals: dict[str, dict[int, float]] = {}
    for i, r in enumerate(recs):
        for item in (r.get("overrides") or "").split():
            k, _, v = item.partition("=")
            try:
                vals.setdefault(k, {})[i] = float(v)
            except ValueError:
                continue
    return {k: v for k, v in vals.items() if len(set(v.values())) > 1}


_AXIS_LABELS = {"core.threads_per_mtp": "threads per MTP", "core.mtps": "MTPs per core",
                "cores_per_die": "cores per die", "dram.channels_per_die": "DRAM channels per die",
                "dram.channel_bandwidth_gb_per_s": "bandwidth per DRAM channel (GB/s)",
                "dies": "dies", "clock_ghz": "clock (GHz)"}


def plot_scaling(recs, stem, formats=("png", "pdf")) -> list[Path]:
    recs = _ok(recs)
    _need(recs, "scaling", ["cycles"])
    axes_of = _override_axes(recs)
    if not axes_of:
        raise ValueError("plot scaling: no swept parameter: the records need an `overrides` "
                         "field that varies (run `smash sweep` with --set KEY=V1,V2,...)")
    names = sorted(axes_of)
    mats = _matrices(recs)
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        idx = axes_of[name]
        # one line per series, matrix and everything else of the configuration (preset, the
        # other overrides, seed): runs of different machines are never joined
        lines: dict[tuple, list[int]] = {}
        for i in idx:
            r = recs[i]
            rest = " ".join(o for o in (r.get("overrides") or "").split()
                            if o.partition("=")[0] != name)
            lines.setdefault((_series(r), r["matrix"], r.get("preset"), rest, r.get("seed")),
                             []).append(i)
        contexts = {key[2:] for key in lines}
        for (k, m, preset, rest, seed), members in sorted(lines.items(), key=lambda kv: str(kv[0])):
            pts = sorted((idx[i], recs[i]["cycles"], _sampled(recs[i])) for i in members)
            if len(pts) < 2:
                continue
            j = mats.index(m)
            xs = [p[0] for p in pts]
            ys = [pts[0][1] / p[1] for p in pts]
            label = k + (f", {m}" if len(mats) > 1 else "")
            if len(contexts) > 1:
                label += f" ({', '.join(x for x in (preset, rest) if x)})"
            ax.plot(xs, ys, color=_color(k), linestyle=["-", "--", ":", "-."][j % 4],
                    label=label, **_marker(j))
            hollow = [(x, y) for (x, _, smp), y in zip(pts, ys) if smp]
            if hollow:
                ax.plot(*zip(*hollow), marker="o", markersize=13, fillstyle="none",
                        color="#888888", linestyle="")
        xs_all = sorted(set(idx.values()))
        ax.plot(xs_all, [x / xs_all[0] for x in xs_all], color="#999999", linewidth=0.8,
                linestyle=":", label="linear (ideal)")
        if any(_sampled(recs[i]) for i in idx):
            ax.plot([], [], marker="o", markersize=10, fillstyle="none", color="#888888",
                    linestyle="", label="sampled run (extrapolated)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xticks(xs_all, [f"{x:g}" for x in xs_all])
        from matplotlib.ticker import FuncFormatter, NullFormatter
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(_AXIS_LABELS.get(name, name))
        ax.set_ylabel(f"speedup over {_AXIS_LABELS.get(name, name)} = {xs_all[0]:g}\n"
                      f"(cycles there / cycles, log scale)")
        ax.set_title(f"Scaling with {_AXIS_LABELS.get(name, name)}", fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(True, linewidth=0.3)
    fig.tight_layout()
    return _save(fig, stem, formats)


def plot_ablation(recs, stem, formats=("png", "pdf")) -> list[Path]:
    """Per matrix, one bar per ablation step (simulator.reproduce.ABLATION, matched to records
    by kernel and the knobs of their point): speedup over the row-wise baseline, DRAM bytes,
    atomic stall cycles."""
    from simulator.reproduce import ABLATION, ablation_rows
    rows = ablation_rows(_ok(recs))
    if not rows:
        raise ValueError("plot ablation: needs the ablation's records (smash reproduce)")
    mats = list(rows)
    labels = [label for label, _, _ in ABLATION]
    cmap = plt.get_cmap("viridis")
    colors = {lab: cmap(i / max(len(labels) - 1, 1)) for i, lab in enumerate(labels)}
    fig, axes = plt.subplots(3, 1, figsize=(max(8, 2.2 * len(mats) + 3), 10))
    x = np.arange(len(mats))
    w = 0.8 / len(labels)
    for ax, field, ylabel, log in ((axes[0], "vs_base", "speedup over the row-wise\nbaseline (x, log)", True),
                                   (axes[1], "dram_mb", "DRAM traffic (MB, log)", True),
                                   (axes[2], "stall_mcycles", "atomic stall (M cycles\nsummed over atomics, log)", True)):
        for i, lab in enumerate(labels):
            vals = []
            for m in mats:
                got = [r for r in rows[m] if r["step"].rstrip(" *") == lab]
                vals.append(got[0][field] if got else np.nan)
            ax.bar(x - 0.4 + w * (i + 0.5), vals, w, color=colors[lab], label=lab,
                   edgecolor="black", linewidth=0.3)
        if log:
            ax.set_yscale("log")
            _plain_log_ticks(ax)
        if field == "vs_base":
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel(ylabel)
        ax.set_xticks(x, [_short(m) for m in mats], fontsize=8)
    axes[0].legend(fontsize=7, ncol=2, loc="upper left", framealpha=0.9)
    axes[0].set_title("Ablation: SMASH's ingredients turned on one at a time (the first six bars "
                      "cumulative; the last two vary v3)", fontsize=10)
    fig.tight_layout()
    return _save(fig, stem, formats)


KINDS: dict[str, Callable[..., list[Path]]] = {
    "speedup": plot_speedup, "dram": plot_dram, "workload": plot_workload, "ipc": plot_ipc,
    "roofline": plot_roofline, "scaling": plot_scaling, "ablation": plot_ablation,
}


def plot(kind: str, recs: Sequence[Mapping[str, Any]], stem: str | os.PathLike,
         formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Draw figure `kind` from records into `stem`.png/.pdf; return the files written.

    Records of several configurations (preset, config hash, `--set` overrides, seed: see
    `configuration`) are never mixed in one figure: each gets its own,
    ``<stem>-<configuration>.png``, titled with it; ceilings come from its records. Knob
    settings are series within a figure. `scaling` plots across configurations by design
    (its x axis is the swept parameter) and never joins runs that differ in anything else."""
    if kind not in KINDS:
        raise ValueError(f"unknown plot {kind!r} (known: {', '.join(KINDS)})")
    for f in formats:
        if f not in ("png", "pdf", "svg"):
            raise ValueError(f"unknown figure format {f!r} (png, pdf or svg)")
    global _TITLE
    ok = _ok(recs)
    if kind == "scaling":       # the configurations are its x axis
        groups = {("", "", "", ""): list(ok)}
    else:
        groups = configurations(ok)
    out: list[Path] = []
    keys = list(groups)
    problems = []
    for key, group in groups.items():
        label = config_label(key, keys) if kind != "scaling" else ""
        target = Path(stem)
        if len(groups) > 1:     # one figure per configuration: stem-<configuration>
            target = target.with_name(f"{target.name}-{_slug(label)}")
        _TITLE = label
        _shade_variants(group)
        try:
            out += KINDS[kind](group, target, formats)
        except ValueError as exc:
            if len(groups) == 1:
                raise
            problems.append(f"{label}: {exc}")     # e.g. no baseline under this configuration
        finally:
            _TITLE = ""
    if not out:
        raise ValueError(f"plot {kind}: no configuration has what the figure needs; "
                         f"configurations found: {'; '.join(problems)}")
    return out


__all__ = ["CONFIG_FIELDS", "KINDS", "config_label", "configuration", "configurations",
           "load_results", "plot"]
