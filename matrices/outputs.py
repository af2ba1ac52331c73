"""Writing output files whole: to a temporary name beside the target, renamed when complete.

    with atomic_output("C.mtx.gz") as tmp:
        write_everything_to(tmp)
    # C.mtx.gz now exists complete; on any exception (Ctrl-C included) it was never created
    # or keeps its previous content, and the temporary file is gone

A reader therefore never sees a half-written file under the final name. Lives in `matrices`
(the bottom layer) so that every layer writes files the same way.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_output"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to `path` on success, delete it
    on any exception. The temporary name keeps the target's suffixes (``.mtx.gz``, ``.png``)
    so that writers choosing a format by suffix see the right one."""
    target = Path(path)
    suffix = "".join(target.suffixes[-2:]) if target.suffixes else ""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}",
                               dir=target.parent if str(target.parent) else ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())        # mkstemp's 0600 -> what open() would give
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
