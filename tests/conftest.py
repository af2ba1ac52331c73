"""Shared pytest fixtures.

SHARED_MATRICES: the real test matrices (SuiteSparse .mtx.gz files and MANIFEST.md) in a
`shared/matrices` folder beside the repository checkout. Tests must not depend on it: use the
`shared_matrices_dir` fixture, which skips the test when the folder is absent.
"""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED_MATRICES = Path(__file__).resolve().parents[1].parent / "shared" / "matrices"


@pytest.fixture(scope="session")
def shared_matrices_dir() -> Path:
    """The shared real-matrix folder; skips the test when it is not there."""
    if not SHARED_MATRICES.is_dir():
        pytest.skip(f"shared matrix folder {SHARED_MATRICES} not present")
    return SHARED_MATRICES
