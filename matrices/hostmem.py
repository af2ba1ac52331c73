"""Host-memory guard: refuse work whose estimated memory would not fit, before allocating it.

    from matrices.hostmem import require
    require(need_bytes, "C = A·A of rmat:scale=20,ef=16", hint="use a smaller matrix")

Every command that can allocate a lot (generate or read a matrix, multiply, benchmark, simulate)
first estimates what it needs from cheap, O(nnz) quantities and calls `require`. The estimate is
compared with the memory the kernel says is available *now* (``MemAvailable`` of
``/proc/meminfo``: free memory plus the caches it can drop), or with an explicit `limit`; above
it, `MemoryLimitError` (a ValueError: one line with the estimate, the memory available and a
hint) is raised instead of letting the kernel's out-of-memory killer end the process.

Lives in `matrices` because that package depends on nothing here: `spgemm` and `simulator`
import it too.
"""
from __future__ import annotations

import os

__all__ = ["MemoryLimitError", "available_bytes", "format_bytes", "require", "HEADROOM"]

#: Fraction of the available memory a single estimate may take: estimates are approximate and
#: the process (Python, numba, the loaded matrices) needs some memory of its own.
HEADROOM = 0.85

#: Environment variable overriding the available memory (bytes, or with a K/M/G/T suffix):
#: lets tests and shared machines set a smaller budget than the kernel reports.
ENV_LIMIT = "SMASH_MEMORY_LIMIT"


class MemoryLimitError(ValueError):
    """An operation's estimated host memory exceeds what is available (one-line message)."""


def format_bytes(n: float) -> str:
    """Bytes in binary units: 512 B, 3.2 KiB, 18.6 GiB."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _parse_size(text: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    for suffix, m in (("K", 2**10), ("M", 2**20), ("G", 2**30), ("T", 2**40)):
        if t.endswith(suffix):
            t, mult = t[:-1], m
            break
    try:
        value = float(t) * mult
    except ValueError:
        raise ValueError(f"{ENV_LIMIT}: expected a size such as 8G or 500M, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{ENV_LIMIT}: must be positive, got {text!r}")
    return int(value)


def available_bytes() -> int | None:
    """Host memory available to a new allocation now (bytes), or None when unknown.

    `SMASH_MEMORY_LIMIT` (e.g. ``8G``) caps it. Otherwise ``MemAvailable`` from /proc/meminfo
    (Linux), else physical pages x page size (other POSIX systems).
    """
    env = os.environ.get(ENV_LIMIT)
    cap = _parse_size(env) if env else None
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            avail = None
    if cap is not None:
        return cap if avail is None else min(cap, avail)
    return avail


def fits(need_bytes: float, *, limit: int | None = None) -> bool:
    """Whether `need_bytes` are within HEADROOM x the available memory (`limit` if given);
    True when the available memory is unknown (as `require`, which then checks nothing)."""
    avail = available_bytes() if limit is None else int(limit)
    return avail is None or need_bytes <= HEADROOM * avail


def require(need_bytes: float, what: str, *, limit: int | None = None, hint: str = "") -> None:
    """Raise MemoryLimitError when `need_bytes` exceed HEADROOM x the available memory.

    need_bytes: the estimate (the caller's, from cheap quantities, before allocating). what:
    the operation, e.g. "smash-v3 on rmat:scale=20,ef=16". limit: the memory to compare with
    (default: `available_bytes()`; nothing is checked when that is unknown). hint: what to try.
    """
    if not fits(need_bytes, limit=limit):
        avail = available_bytes() if limit is None else int(limit)
        msg = (f"{what} needs about {format_bytes(need_bytes)} of host memory, more than the "
               f"{format_bytes(HEADROOM * avail)} it may use ({HEADROOM:.0%} of "
               f"{format_bytes(avail)} available)")
        raise MemoryLimitError(msg + (f": {hint}" if hint else ""))
