"""``spikec run``: simulate a model, or run a compiled program on a backend."""
from __future__ import annotations

import click

from ..backends.reference.float_executor import simulate
from ..api import run
from ..ir.errors import InputError
from .common import (RESET_CHOICE, is_program, load_model, max_file_bytes_option, max_input_bytes_option,
                     max_program_bytes_option, reports_errors)
from .execution_options import execution_options, executor_from
from .io import load_array, save_npz_atomic
from .progress import Progress

BACKENDS = click.Choice(["reference", "lava", "spinnaker", "rram"])


@click.command("run")
@click.argument("model", type=click.Path())
@click.option("--input", "input_path", required=True, type=click.Path(), help="Input spikes, .npy [T, *shape] or [T, B, *shape] (.npz: one array per input node).")
@click.option("--output", "output_path", type=click.Path(), default=None, help="Where to write the .npz of outputs, one array per output node (required unless --trials).")
@click.option("--backend", type=BACKENDS, default=None, help="For a compiled PROGRAM: where to run it (default: reference).")
@click.option("--dt", "dt_s", type=float, default=None, help="For a MODEL: time step in seconds (default: the graph's own).")
@click.option("--steps", type=int, default=None, help="Run only the first T steps of the input.")
@click.option("--record", default="", help="Comma-separated state variables to save as '<node>.<var>', e.g. v,i (float) or v,u (Loihi).")
@click.option("--reset", type=RESET_CHOICE, default="zero", show_default=True, help="For a MODEL: reset mode for spiking nodes whose file does not record one.")
@click.option("--trials", type=int, default=None, help="With --backend rram: simulate this many chips and print agreement with the ideal chip (mean, spread) and the drift table.")
@click.option("--seed", type=int, default=None, help="With --backend rram: seed of the chip (or of the trials' seeds); default 0.")
@click.option("--read-time", default=None, help="With --backend rram: time after programming, e.g. 1s, 1h, 1d, 1y (default 1 s).")
@click.option("--labels", "labels_path", type=click.Path(), default=None, help="With --trials: class per sample (.npy [B]) to report accuracy.")
@click.option("--compensate-drift", is_flag=True, help="With --backend rram: global drift compensation.")
@click.option("--precision", type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
              help="For a MODEL: float64 (spikec's definition) or float32 in snnTorch's/Norse's operation order "
                   "(spikes equal to the framework's; torch's matrix products when torch is installed).")
@max_program_bytes_option
@max_input_bytes_option
@max_file_bytes_option
@execution_options
@reports_errors
def run_command(model: str, input_path: str, output_path: str | None, backend: str | None, dt_s: float | None,
                steps: int | None, record: str, reset: str, trials: int | None, seed: int | None, read_time: str | None,
                labels_path: str | None, compensate_drift: bool, precision: str, max_program_bytes: int | None,
                max_input_bytes: int | None, max_file_bytes: int | None, workers: int | None, scheduler: str | None) -> None:
    """Run MODEL (a .nir file, on the float reference) or PROGRAM (compiled, on a backend).

    With --backend rram --trials N, simulate N chips (device draws seeded from
    --seed) instead, in parallel on every core or on a Dask cluster
    (--scheduler, $SPIKEC_SCHEDULER), and print a table; it is the same
    however the trials ran.

    \b
    Examples:
      spikec run examples/braille_subtract.nir --input x.npy --output y.npz --dt 1e-4
      spikec run braille.loihi2 --input x.npy --output y.npz --backend lava --record v,u
      spikec run braille.rram --input x.npy --backend rram --trials 50 --seed 1 --labels y.npy
    """
    rram_options = {"seed": seed, "read_time": read_time, "trials": trials, "labels": labels_path,
                    "compensate_drift": compensate_drift or None}
    given = [f"--{k.replace('_', '-')}" for k, v in rram_options.items() if v is not None]
    if given and (backend != "rram" or not is_program(model)):
        raise InputError(f"{', '.join(given)} apply to a compiled PROGRAM run with --backend rram")
    if trials is None and output_path is None:
        raise InputError("missing --output (where to write the outputs), or --trials N for a Monte Carlo table")
    if labels_path is not None and trials is None:
        raise InputError("--labels needs --trials (accuracy is reported over simulated chips)")
    program = None
    if is_program(model):
        from ..compiler.program import load_program

        program = load_program(model, max_bytes=max_program_bytes)  # checked before the input is read
    inputs = load_array(input_path, max_bytes=max_input_bytes,
                        spikes=program is not None and program.family in ("loihi", "spinnaker"))
    if steps is not None:
        inputs = {k: v[:steps] for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[:steps]
    variables = tuple(v.strip() for v in record.split(",") if v.strip())
    if trials is not None:
        _monte_carlo(program, inputs, trials, seed or 0, read_time, labels_path, compensate_drift, output_path,
                     executor_from(workers, scheduler, quiet=False), max_input_bytes)
        return
    if program is not None:
        if dt_s is not None:
            raise InputError("--dt applies to a .nir MODEL; a compiled program has its dt fixed at compile time")
        if precision != "float64":
            raise InputError("--precision applies to a .nir MODEL; a compiled program runs in its target's numeric format")
        if given:  # one simulated chip
            from ..backends.rram import run as run_rram

            outputs = run_rram(program, inputs, record=variables, seed=seed or 0, t_s=read_time or 1.0,
                               compensate_drift=compensate_drift)
        else:
            outputs = run(program, inputs, backend=backend or "reference", record=variables)
    else:
        if backend not in (None, "reference"):
            raise InputError(f"--backend {backend} runs a compiled program: compile MODEL first (spikec compile --target ...)")
        graph = load_model(model, reset=reset, max_file_bytes=max_file_bytes)
        steps_total = len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)
        with Progress(f"run {model}", total=steps_total) as bar:
            outputs = simulate(graph, inputs, dt_s, record=variables, precision=precision, progress=bar.update)
    save_npz_atomic(output_path, outputs)
    for name, array in outputs.items():
        click.echo(f"{name}: shape {tuple(array.shape)}, {int((array != 0).sum())} non-zero")


def _monte_carlo(program, inputs, trials: int, seed: int, read_time: str | None, labels_path: str | None,
                 compensate_drift: bool, output_path: str | None, executor, max_input_bytes: int | None) -> None:
    from ..backends.rram.monte_carlo import monte_carlo_report

    if output_path is not None:
        raise InputError("--output applies to one run; --trials prints a table")
    if trials < 1:
        raise InputError(f"--trials must be at least 1, got {trials}", parameter="trials", value=trials)
    labels = load_array(labels_path, max_bytes=max_input_bytes) if labels_path else None
    click.echo(monte_carlo_report(program, inputs, trials=trials, seed=seed, read_time=read_time,
                                  labels=labels, compensate_drift=compensate_drift, executor=executor,
                                  with_drift_table=True))
