"""`smash matrix ...` commands (being written)."""
import click


@click.group()
def matrix() -> None:
    """Inspect and generate matrices."""
