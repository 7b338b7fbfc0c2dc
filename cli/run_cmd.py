"""``spikec run``: simulate a model, or run a compiled program on a backend."""
from __future__ import annotations

import click

from ..backends.reference.float_executor import simulate
from ..compiler.api import run
from ..ir.errors import InputError
from .common import RESET_CHOICE, is_program, load_model, reports_errors
from .io import load_array, save_npz_atomic

BACKENDS = click.Choice(["reference", "lava", "spinnaker", "rram"])


@click.command("run")
@click.argument("model", type=click.Path())
@click.option("--input", "input_path", required=True, type=click.Path(), help="Input spikes, .npy [T, *shape] or [T, B, *shape] (.npz: one array per input node).")
@click.option("--output", "output_path", required=True, type=click.Path(), help="Where to write the .npz of outputs, one array per output node.")
@click.option("--backend", type=BACKENDS, default=None, help="For a compiled PROGRAM: where to run it (default: reference).")
@click.option("--dt", "dt_s", type=float, default=None, help="For a MODEL: time step in seconds (default: the graph's own).")
@click.option("--steps", type=int, default=None, help="Run only the first T steps of the input.")
@click.option("--record", default="", help="Comma-separated state variables to save as '<node>.<var>', e.g. v,i (float) or v,u (Loihi).")
@click.option("--reset", type=RESET_CHOICE, default="zero", show_default=True, help="For a MODEL: reset mode for spiking nodes whose file does not record one.")
@reports_errors
def run_command(model: str, input_path: str, output_path: str, backend: str | None, dt_s: float | None,
                steps: int | None, record: str, reset: str) -> None:
    """Run MODEL (a .nir file, on the float reference) or PROGRAM (compiled, on a backend).

    \b
    Examples:
      spikec run examples/braille_subtract.nir --input x.npy --output y.npz --dt 1e-4
      spikec run braille.loihi2 --input x.npy --output y.npz --backend lava --record v,u
    """
    inputs = load_array(input_path)
    if steps is not None:
        inputs = {k: v[:steps] for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[:steps]
    variables = tuple(v.strip() for v in record.split(",") if v.strip())
    if is_program(model):
        if dt_s is not None:
            raise InputError("--dt applies to a .nir MODEL; a compiled program has its dt fixed at compile time")
        outputs = run(model, inputs, backend=backend or "reference", record=variables)
    else:
        if backend not in (None, "reference"):
            raise InputError(f"--backend {backend} runs a compiled program: compile MODEL first (spikec compile --target ...)")
        outputs = simulate(load_model(model, reset=reset), inputs, dt_s, record=variables)
    save_npz_atomic(output_path, outputs)
    for name, array in outputs.items():
        click.echo(f"{name}: shape {tuple(array.shape)}, {int((array != 0).sum())} non-zero")
