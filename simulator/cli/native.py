"""`smash multiply` and `smash bench` (being written)."""
import click


@click.command()
def multiply() -> None:
    """Multiply two sparse matrices natively."""


@click.command()
def bench() -> None:
    """Benchmark native SpGEMM against scipy."""
