"""``spikec verify``: every target's backend against the reference, in one table."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import click

from ..compiler.atomic_write import replace_file
from ..verification.verify import VerifyReport, error_line, format_report, verify
from ..ir.errors import InputError
from .common import (EXIT_BAD_INPUT, EXIT_MISMATCH, RESET_CHOICE, is_program, load_model, max_input_bytes_option,
                     max_file_bytes_option, max_program_bytes_option, reports_errors)
from .execution_options import execution_options, executor_from
from .io import load_array

DEFAULT_TARGETS = "loihi2,spinnaker1,rram-512"


def junit_xml(report: VerifyReport) -> str:
    cases = []
    for r in report.results:
        body = ""
        if r.error:
            body = f"<error message={quoteattr(r.error)}/>"
        elif r.mismatches:
            body = f"<failure message={quoteattr(f'{r.mismatches} mismatches; first at {r.first_mismatch}')}/>"
        cases.append(f'  <testcase classname="spikec.verify" name={quoteattr(f"{r.target} ({r.backend})")} time="{r.seconds:.3f}">{body}</testcase>')
    failures = sum(1 for r in report.results if r.mismatches and not r.error)
    errors = sum(1 for r in report.results if r.error)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="spikec verify" tests="{len(report.results)}" '
            f'failures="{failures}" errors="{errors}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def write_text_atomic(path: str, text: str) -> None:
    replace_file(Path(path), lambda fh: fh.write(text.encode()), what="report")


@click.command("verify")
@click.argument("model", type=click.Path(), required=False)
@click.option("--targets", default=DEFAULT_TARGETS, show_default=True, help="Comma-separated targets (see 'spikec targets').")
@click.option("--steps", type=int, default=100, show_default=True, help="Steps of generated input.")
@click.option("--trials", type=int, default=2, show_default=True, help="Samples (batch) of generated input.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated input.")
@click.option("--input", "input_path", type=click.Path(), default=None, help="Use this .npy input instead of generated spikes.")
@click.option("--dt", "dt_s", type=float, default=None, help="Time step in seconds (default: the graph's own).")
@click.option("--reset", type=RESET_CHOICE, default="zero", show_default=True, help="Reset mode for spiking nodes whose file does not record one.")
@click.option("--junit", "junit_path", type=click.Path(), default=None, help="Also write a JUnit XML report (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("--matrix", is_flag=True, help="Also print the fidelity matrix: every run (float, each target's reference and backend) against every other.")
@click.option("--random", "random_count", type=int, default=None, help="Instead of MODEL: sweep this many random graphs (seeds from --seed).")
@click.option("--preset", type=click.Choice(["tiny", "small", "loihi_friendly", "long_delays"]), default="small", show_default=True, help="Random graph distribution for --random.")
@click.option("--save-failures", type=click.Path(), default=None, help="With --random: save each failing graph, shrunk, as .nir here.")
@click.option("--against", "against", type=click.Path(), default=None, help="For a compiled PROGRAM: the original .nir model its stored source graph must match.")
@click.option("--backend", "backend", default="reference", show_default=True, help="For a compiled PROGRAM: where to run the stored program.")
@max_program_bytes_option
@max_input_bytes_option
@max_file_bytes_option
@execution_options
@reports_errors
def verify_command(model, targets, steps, trials, seed, input_path, dt_s, reset, junit_path, as_json,
                   matrix, random_count, preset, save_failures, against, backend, max_program_bytes, max_input_bytes,
                   max_file_bytes, workers, scheduler) -> None:
    """Compile MODEL for each target and check that the target's own backend
    computes exactly what the reference executor computes.

    For a compiled PROGRAM (folder or .zip): check it against a fresh compile
    of its own stored source graph (every lowered array and artefact, then a
    run on the same seeded spikes), and with --against MODEL.nir its source
    graph against the model; exit 1 where they differ (a tampered weight with
    recomputed hashes loads, and is found here).

    With --random N instead of MODEL, sweep N random graphs (a csmith for SNNs):
    failures are printed with their seed and a one-line reproducer, and shrunk.
    Exit status 0 when every target agrees, 1 on a mismatch, 2 on bad input
    or when a target cannot compile the model (one line per such target on
    stderr; a mismatch on another target still gives 1).

    Targets (and random graphs) run in parallel on every core, or on a Dask
    cluster with --scheduler tcp://host:8786 (or $SPIKEC_SCHEDULER); the table
    is the same however they ran. --workers 1 runs serially.

    \b
    Examples:
      spikec verify examples/braille_subtract.nir --targets loihi2,spinnaker1 --steps 200 --junit verify.xml
      spikec verify braille.loihi2 --against examples/braille_subtract.nir
      spikec verify --random 300 --targets spinnaker1,rram-512 --seed 1000 --save-failures failures/
      spikec verify --random 5000 --targets spinnaker1,rram-512 --scheduler tcp://head:8786
    """
    executor = executor_from(workers, scheduler, quiet=True)  # the commands print their own progress
    if random_count is not None:
        _sweep(random_count, targets, seed, trials, preset, save_failures, progress=None if as_json else progress_printer(),
               executor=executor)
        return
    if model is None:
        raise InputError("missing MODEL (a .nir file), or --random N for a sweep of random graphs")
    if is_program(model):
        _verify_program(model, against, reset, steps, trials, seed, backend, max_program_bytes, max_file_bytes)
        return
    graph = load_model(model, reset=reset, max_file_bytes=max_file_bytes)
    inputs = load_array(input_path, max_bytes=max_input_bytes) if input_path else None
    progress = None if as_json else progress_printer()
    report = verify(graph, [t.strip() for t in targets.split(",") if t.strip()], inputs=inputs,
                    steps=steps, batch=trials, seed=seed, dt_s=dt_s, progress=progress, executor=executor)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "steps": report.steps, "batch": report.batch, "seed": report.seed,
                               "results": [r.to_dict() for r in report.results]}, indent=2, default=str))
    else:
        click.echo(format_report(report))
    if matrix:
        from ..verification.fidelity_matrix import fidelity_matrix, format_matrix

        target_list = [t.strip() for t in targets.split(",") if t.strip()]
        click.echo(format_matrix(fidelity_matrix(graph, target_list, inputs=inputs, steps=steps, batch=trials, seed=seed, dt_s=dt_s)))
    if junit_path:
        write_text_atomic(junit_path, junit_xml(report))
    sys.exit(exit_status(report))


def _verify_program(path: str, against: str | None, reset: str, steps: int, batch: int, seed: int, backend: str,
                    max_bytes: int | None, max_file_bytes: int | None = None) -> None:
    from ..compiler.program import load_program
    from ..verification.program_check import check_program, format_check

    program = load_program(path, max_bytes=max_bytes)
    model = load_model(against, reset=reset, max_file_bytes=max_file_bytes) if against else None
    check = check_program(program, model=model, steps=steps, batch=batch, seed=seed, backend=backend)
    click.echo(format_check(check, path))
    sys.exit(0 if check.ok else EXIT_MISMATCH)


def exit_status(report: VerifyReport) -> int:
    """0 all agree; 1 a backend differs from its reference; 2 a target cannot take the model (one line each on stderr)."""
    for result in report.errors:
        click.echo(f"spikec: error: {error_line(result)}", err=True)
    if report.mismatched:
        return EXIT_MISMATCH
    return EXIT_BAD_INPUT if report.errors else 0


def progress_printer():
    """On a terminal, one status line rewritten in place; elsewhere (CI logs), one quiet line per event."""
    if sys.stderr.isatty():
        return lambda msg: click.echo(f"\r\033[K  {msg}", err=True, nl=False)
    return lambda msg: click.echo(f"  {msg}", err=True)


def _sweep(count: int, targets: str, seed: int, batch: int, preset: str, save_dir: str | None, progress,
           executor: Any = None) -> None:
    from ..verification.randgraph_spec import GraphSpec
    from ..verification.sweep import format_sweep, sweep

    report = sweep(count, [t.strip() for t in targets.split(",") if t.strip()], spec=getattr(GraphSpec, preset)(),
                   first_seed=seed, batch=batch, save_dir=save_dir, progress=progress, executor=executor)
    click.echo(format_sweep(report))
    if not report.ok:
        sys.exit(EXIT_MISMATCH)
