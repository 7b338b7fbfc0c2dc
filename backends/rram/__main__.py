"""``python -m spikec.backends.rram PROGRAM --input x.npy --trials N``: Monte Carlo and drift tables.

Kept for scripts written before ``spikec run PROGRAM --backend rram --trials N``
(which also runs the trials in parallel, ``docs/execution.md``); both call
``monte_carlo.monte_carlo_report``. This one runs them serially.
"""
from __future__ import annotations

import sys

import click
import numpy as np

from ...ir.errors import SpikecError
from .monte_carlo import monte_carlo_report


@click.command()
@click.argument("program", type=click.Path(exists=True))
@click.option("--input", "input_path", required=True, type=click.Path(exists=True), help="Input spikes .npy [T, B, *shape].")
@click.option("--labels", "labels_path", type=click.Path(exists=True), default=None, help="Class per sample (.npy [B]) to report accuracy.")
@click.option("--trials", type=int, default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--read-time", default=None, help="e.g. 1s, 1h, 1d, 1y (default: the table over 1 s .. 1 year).")
@click.option("--compensate-drift", is_flag=True, help="Global drift compensation (aihwkit's GlobalDriftCompensation).")
def main(program: str, input_path: str, labels_path: str | None, trials: int, seed: int,
         read_time: str | None, compensate_drift: bool) -> None:
    """Run PROGRAM (compiled for an RRAM target) on TRIALS simulated chips and print the agreement table."""
    from ...compiler.program import load_program

    try:
        labels = np.load(labels_path) if labels_path else None
        text = monte_carlo_report(load_program(program), np.load(input_path), trials=trials, seed=seed,
                                  read_time=read_time, labels=labels, compensate_drift=compensate_drift)
    except SpikecError as exc:
        click.echo(f"spikec: error: {exc}", err=True)
        sys.exit(2)
    click.echo(text)


if __name__ == "__main__":
    main()
