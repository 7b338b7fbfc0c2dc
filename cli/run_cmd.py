"""``spikec run``: simulate a model on input spikes."""
from __future__ import annotations

import click

from ..backends.reference.float_executor import simulate
from .common import RESET_CHOICE, load_model, reports_errors
from .io import load_array, save_npz_atomic


@click.command("run")
@click.argument("model", type=click.Path())
@click.option("--input", "input_path", required=True, type=click.Path(), help="Input spikes, .npy [T, *shape] or [T, B, *shape] (.npz: one array per input node).")
@click.option("--output", "output_path", required=True, type=click.Path(), help="Where to write the .npz of outputs, one array per output node.")
@click.option("--dt", "dt_s", type=float, default=None, help="Time step in seconds (default: the graph's own, else required by LIF-like nodes).")
@click.option("--steps", type=int, default=None, help="Run only the first T steps of the input.")
@click.option("--record", default="", help="Comma-separated state variables to save as '<node>.<var>', e.g. v,i.")
@click.option("--reset", type=RESET_CHOICE, default="zero", show_default=True, help="Reset mode for spiking nodes whose file does not record one.")
@reports_errors
def run_command(model: str, input_path: str, output_path: str, dt_s: float | None, steps: int | None, record: str, reset: str) -> None:
    """Run MODEL (a .nir file) on the float reference executor.

    \b
    Example:
      spikec run examples/braille_subtract.nir --input x.npy --output y.npz --dt 1e-4
    """
    graph = load_model(model, reset=reset)
    inputs = load_array(input_path)
    if steps is not None:
        inputs = {k: v[:steps] for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[:steps]
    variables = tuple(v.strip() for v in record.split(",") if v.strip())
    outputs = simulate(graph, inputs, dt_s, record=variables)
    save_npz_atomic(output_path, outputs)
    for name, array in outputs.items():
        click.echo(f"{name}: shape {tuple(array.shape)}, {int((array != 0).sum())} non-zero")
