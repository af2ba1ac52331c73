"""The `smash` command line: a thin click layer over the library.

Library code raises; this layer turns errors a user can cause into one clear line on stderr and a
non-zero exit (set SMASH_DEBUG=1 to see the traceback instead).
"""
from __future__ import annotations

import click

from simulator.cli._common import SmashGroup


@click.group(cls=SmashGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smash")
def main() -> None:
    """smash: SpGEMM kernels, natively and on a PIUMA-like accelerator model.

    \b
    Example:
      smash matrix info rmat:scale=10,ef=8
      smash bench smoke
    """


from simulator.cli import matrix_cmds, native  # noqa: E402  (commands register on `main`)
from simulator.cli import machine_cmds  # noqa: E402

main.add_command(matrix_cmds.matrix)
main.add_command(native.multiply)
main.add_command(native.bench)
main.add_command(machine_cmds.config)
main.add_command(machine_cmds.validate)
main.add_command(machine_cmds.micro)

from simulator.cli import kernel_cmds  # noqa: E402

main.add_command(kernel_cmds.kernels)
main.add_command(kernel_cmds.run)

from simulator.cli import experiment_cmds  # noqa: E402

main.add_command(experiment_cmds.sweep)
main.add_command(experiment_cmds.reproduce)
main.add_command(experiment_cmds.plot)
