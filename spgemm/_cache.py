"""Keep numba's on-disk cache of this package consistent with its sources.

numba invalidates a cached function only when *its own* source file changes, not when a jitted
function it calls (and inlines) changes in another module: after editing
``spgemm/accumulators.py`` the row-wise kernel would silently keep the old code. At import we
hash the package's sources and drop the package's cache files when the hash changed.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def sources_digest(package: Path = _PACKAGE, depends_on: tuple[Path, ...] = ()) -> str:
    h = hashlib.sha256()
    for folder in (package, *depends_on):
        for path in sorted(Path(folder).glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def refresh(package: Path = _PACKAGE, depends_on: tuple[Path, ...] = ()) -> None:
    """Delete a package's numba cache files (``__pycache__/*.nbi|nbc``) if its sources, or those
    of the packages in `depends_on` whose jitted functions it inlines, changed. Other packages
    (the simulator's kernel programs) call it for themselves with ``depends_on=(spgemm dir,)``."""
    cache = Path(package) / "__pycache__"
    stamp = cache / "numba-sources.sha256"
    try:
        digest = sources_digest(Path(package), tuple(depends_on))
        if stamp.exists() and stamp.read_text() == digest:
            return
        if cache.is_dir():
            for f in cache.iterdir():
                if f.suffix in (".nbi", ".nbc"):
                    f.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        tmp = cache / f"numba-sources.{os.getpid()}.tmp"
        tmp.write_text(digest)
        tmp.replace(stamp)
    except OSError:  # read-only install: numba falls back to its own cache locator
        pass
