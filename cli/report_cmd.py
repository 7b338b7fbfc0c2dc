"""``spikec report PROGRAM...``: one self-contained HTML page about compiled programs."""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..verification.fidelity import random_spikes
from ..compiler.program import load_program
from ..verification.report import write_report
from ..ir.errors import InputError
from .common import reports_errors


def _sample(path: str | None, program, sample_index: int, seed: int) -> np.ndarray:
    """``[T, 1, *shape]``: item ``sample_index`` of a .npy/.npz spike array, else seeded random spikes."""
    source = program.source
    shape = tuple(source.nodes[source.inputs[0]].shape)
    if path is None:
        return random_spikes(shape, 25, 1, 0.2, seed)
    if path.endswith(".npz"):
        with np.load(path) as data:
            key = "spikes" if "spikes" in data.files else data.files[0]
            x = np.asarray(data[key], dtype=np.float64)
    else:
        x = np.load(path).astype(np.float64)
    if x.shape[1:] == shape:
        return x[:, None]
    if x.ndim != len(shape) + 2 or x.shape[2:] != shape:
        raise InputError(f"input of shape {x.shape} fits neither [T, *{shape}] nor [T, B, *{shape}]")
    if not 0 <= sample_index < x.shape[1]:
        raise InputError(f"--sample {sample_index} is outside the batch of {x.shape[1]}")
    return x[:, sample_index:sample_index + 1]


@click.command("report")
@click.argument("programs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", default="report.html", show_default=True, type=click.Path(), help="HTML file to write.")
@click.option("--input", "input_path", default=None, type=click.Path(), help="Spikes [T, (B,) *shape] (.npy, or .npz with 'spikes'); default: seeded random spikes.")
@click.option("--sample", "sample_index", default=0, show_default=True, help="Which batch item of --input to show.")
@click.option("--table", "table_path", default=None, type=click.Path(), help="A JSON list of rows (e.g. examples/digits results.json) for the accuracy table.")
@click.option("--title", default="spikec report", show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the random input when no --input is given.")
@reports_errors
def report_command(programs, output, input_path, sample_index, table_path, title, seed) -> None:
    """Write one self-contained HTML page about compiled PROGRAMS.

    Spike rasters of every output for one sample on each program (aligned to
    the float model's time), per-layer error against the float model, weight
    quantisation figures, core or crossbar utilisation, and an accuracy table
    when --table is given. Compile with an Output after every layer to see
    every layer.

    \b
    Examples:
      spikec report out/loihi2 out/spinnaker1 out/rram-256 -o report.html --input test.npz
      spikec report examples/digits/results/programs/* --table examples/digits/results/results.json
    """
    loaded = []
    for path in programs:
        if not Path(path).exists():
            raise InputError(f"no such program: {path}")
        loaded.append((Path(path).name.removesuffix(".zip"), load_program(path)))
    sample = _sample(input_path, loaded[0][1], sample_index, seed)
    table = []
    if table_path is not None:
        try:
            table = json.loads(Path(table_path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the table {table_path}: {exc}") from exc
        if not isinstance(table, list) or not all(isinstance(r, dict) for r in table):
            raise InputError(f"{table_path}: expected a JSON list of objects")
    accuracy = [(" ".join(str(r[k]) for k in ("model", "target", "backend") if k in r), float(r["accuracy"]))
                for r in table if isinstance(r.get("accuracy"), (int, float))]
    write_report(output, loaded, sample, table=table, accuracy=accuracy, title=title)
    click.echo(f"wrote {output} ({len(loaded)} programs)")
