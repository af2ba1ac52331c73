"""Matrices for SpGEMM experiments: Matrix Market I/O, seeded generators, named specs.

One short string names a matrix everywhere (CLI, result rows, plots)::

    from matrices import load, canonical_name, resolve
    A = load("rmat:scale=14,ef=16,seed=1")          # generated, canonical csr_array
    B = load("/data/bcsstk08.mtx.gz")                 # read
    specs = resolve(["smoke", "/data/matrices"])      # sets and folders -> list of specs

Depends only on numpy and scipy. Every user-caused problem raises `MatrixError` (a ValueError)
with one line naming the file or spec and the problem.
"""
from __future__ import annotations

from matrices.errors import MatrixError
from matrices.generators import (banded, erdos_renyi, imbalanced, poisson2d, poisson3d,
                                 powerlaw, rmat)
from matrices.info import matrix_info, row_flops
from matrices.mmio import read_header, read_mtx, write_mtx
from matrices.specs import (GENERATORS, SETS, Generator, MatrixSpec, Param, canonical_name,
                            load, parse_spec, resolve)

__all__ = [
    "MatrixError", "read_mtx", "write_mtx", "read_header", "load", "parse_spec",
    "canonical_name", "resolve", "SETS", "GENERATORS", "MatrixSpec", "Generator", "Param",
    "matrix_info", "row_flops",
    "rmat", "erdos_renyi", "banded", "poisson2d", "poisson3d", "powerlaw", "imbalanced",
]
