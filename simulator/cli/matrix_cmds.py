"""`smash matrix ...`: inspect, generate and list matrices (a thin layer over `matrices`)."""
from __future__ import annotations

from typing import Any, Sequence

import click

import matrices
from simulator.cli._common import Progress, format_value, records_to_json


@click.group()
def matrix() -> None:
    """Inspect, generate and list matrices.

    A matrix is named by a spec: a generator (kind:key=value,...), a .mtx/.mtx.gz file, a
    built-in set (smoke, default) or a folder of .mtx files.

    \b
    Example:
      smash matrix info rmat:scale=10,ef=8 er:n=1000,nnz_per_row=8
    """


def _info_block(rec: dict[str, Any]) -> str:
    f = format_value
    lines = [f"{rec['name']}" + (f"  ({rec['spec']})" if rec["spec"] != rec["name"] else ""),
             f"  shape     {rec['rows']} x {rec['cols']}, {rec['nnz']} nnz, "
             f"density {rec['density']:.3g}, {rec['dtype']}",
             f"  row nnz   min {rec['row_nnz_min']}, max {rec['row_nnz_max']}, "
             f"mean {f(rec['row_nnz_mean'])}, std {f(rec['row_nnz_std'])}, "
             f"{rec['empty_rows']} empty rows, {rec['empty_cols']} empty cols"]
    if "product" in rec:
        lines.append(f"  {rec['product']:<9} {rec['flops']} multiply-adds, nnz(C) {rec['nnz_c']} "
                     f"(structural), compression {f(rec['compression_ratio'])}")
    return "\n".join(lines)


@matrix.command("info")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of records instead.")
@click.option("--no-product", is_flag=True,
              help="Skip the A*A statistics (flops, nnz(C)): faster on large matrices.")
def info(specs: Sequence[str], as_json: bool, no_product: bool) -> None:
    """Shape, row-length statistics and SpGEMM cost (flops, nnz(C)) of matrices.

    SPEC is a generator spec, a .mtx/.mtx.gz file, a set name (smoke, default) or a folder.
    The product is A*A for square matrices, A*A^T otherwise; nnz(C) counts structural
    entries (numerical cancellation ignored).

    \b
    Example:
      smash matrix info smoke
      smash matrix info rmat:scale=12,ef=16 path/to/bcsstk08.mtx.gz --json
    """
    from matrices.hostmem import require
    from matrices.info import product_bytes
    records = []
    with Progress() as progress:
        for spec in matrices.resolve(list(specs)):
            name = matrices.canonical_name(spec)
            progress(f"loading {name}")
            A = matrices.load(spec)
            if not no_product:
                require(product_bytes(A), f"the product statistics of {name}",
                        hint="use --no-product for the matrix alone")
            rec = {"name": name, "spec": spec,
                   **matrices.matrix_info(A, product=not no_product,
                                          progress=lambda d, n: progress(
                                              f"counting nnz(C) of {name}", d, n))}
            if as_json:
                records.append(rec)
            else:
                progress.clear()
                click.echo(_info_block(rec))
    if as_json:
        click.echo(records_to_json(records))


@matrix.command("gen")
@click.argument("spec")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file: .mtx, or .mtx.gz for gzip.")
def gen(spec: str, output: str) -> None:
    """Generate (or convert) a matrix and write it as Matrix Market.

    SPEC is a generator spec (see `smash matrix sets` for kinds and parameters) or a
    .mtx/.mtx.gz file. The spec is recorded in the file's comment line.

    \b
    Example:
      smash matrix gen rmat:scale=12,ef=16,seed=1 -o rmat12.mtx.gz
    """
    A = matrices.load(spec)
    name = matrices.canonical_name(spec)
    matrices.write_mtx(output, A, comment=f" smash matrix spec: {name}")
    click.echo(f"wrote {output}: {name}, {A.shape[0]} x {A.shape[1]}, {A.nnz} nnz")


@matrix.command("sets")
def sets() -> None:
    """List the built-in matrix sets and the generator kinds with their parameters.

    \b
    Example:
      smash matrix sets
    """
    for name, specs in matrices.SETS.items():
        click.echo(f"{name}:")
        for spec in specs:
            click.echo(f"  {spec}")
    click.echo("\ngenerator kinds (kind:key=value,...):")
    for kind, g in matrices.GENERATORS.items():
        click.echo(f"  {kind:<11} {g.summary}")
        click.echo(f"  {'':<11} {', '.join(p.describe() for p in g.params.values())}")
    click.echo("\nA folder of .mtx/.mtx.gz files is also a set.")
