"""The ``spikec`` command: a thin layer over the Python API.

Every command parses, calls the library, prints. A ``SpikecError`` becomes one
line on stderr and exit status 2; a verification mismatch exits 1.
"""
from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spikec")
def cli() -> None:
    """spikec: compile spiking neural networks for neuromorphic hardware and verify them.

    \b
    Example:
      spikec inspect model.nir
      spikec run model.nir --input x.npy --output y.npz --dt 1e-4
    """


from .compile_cmd import compile_command, targets_command  # noqa: E402
from .inspect_cmd import inspect_command  # noqa: E402
from .report_cmd import report_command  # noqa: E402
from .run_cmd import run_command  # noqa: E402
from .verify_cmd import verify_command  # noqa: E402

for command in (inspect_command, targets_command, compile_command, run_command, verify_command, report_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="spikec")


if __name__ == "__main__":
    main()
