"""``spikec inspect``: what is in a model."""
from __future__ import annotations

import json

import click

from ..ir.summary import summarise
from .common import RESET_CHOICE, is_program, load_model, max_file_bytes_option, max_program_bytes_option, reports_errors


def _format_params(params: dict) -> str:
    parts = []
    for key, value in params.items():
        if isinstance(value, dict) and "min" in value:
            parts.append(f"{key}=[{value['min']:.4g}, {value['max']:.4g}]")
        elif isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def format_summary(summary: dict) -> str:
    lines = [f"{'node':<16} {'type':<10} {'input':<14} {'output':<14} params"]
    for node in summary["nodes"]:
        shape_in = "x".join(map(str, node["input_shape"]))
        shape_out = "x".join(map(str, node["output_shape"]))
        lines.append(f"{node['name']:<16} {node['type']:<10} {shape_in:<14} {shape_out:<14} {_format_params(node.get('params', {}))}")
    recurrent = [f"{e['source']} -> {e['target']}" for e in summary["edges"] if e["recurrent"]]
    lines.append(f"inputs: {', '.join(summary['inputs'])}   outputs: {', '.join(summary['outputs'])}")
    lines.append(f"neurons: {summary['neurons']}   synapses: {summary['synapses']}   edges: {len(summary['edges'])}"
                 + (f"   recurrent: {', '.join(recurrent)}" if recurrent else ""))
    for warning in summary.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


@click.command("inspect")
@click.argument("model", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--reset", type=RESET_CHOICE, default="zero", show_default=True,
              help="Reset mode for spiking nodes whose file does not record one (NIR has no field for it).")
@click.option("--dt", "dt_s", type=float, default=None, help="Time step in seconds, for the lint (default: the graph's own).")
@max_program_bytes_option
@max_file_bytes_option
@reports_errors
def inspect_command(model: str, as_json: bool, reset: str, dt_s: float | None, max_program_bytes: int | None,
                    max_file_bytes: int | None) -> None:
    """Show what is in MODEL (a .nir file) or PROGRAM (a compiled program).

    For a model: nodes, shapes, neuron and synapse counts, parameter ranges and
    lint warnings. For a program: target, time step, pass log, the lowered
    graph, the quantisation report and the float-vs-fixed fidelity.

    \b
    Examples:
      spikec inspect examples/braille_subtract.nir --json
      spikec inspect braille.loihi2
    """
    if is_program(model):
        click.echo(inspect_program(model, as_json, max_program_bytes))
        return
    graph = load_model(model, reset=reset, max_file_bytes=max_file_bytes)
    summary = summarise(graph)
    summary["warnings"] = lint_messages(graph, dt_s)
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))


def lint_messages(graph, dt_s: float | None) -> list[str]:
    """The semantic lint's warnings as strings (empty until the lint module exists)."""
    from ..ir.lint import lint

    dt_s = dt_s if dt_s is not None else graph.metadata.get("dt_s", 1e-4)
    return [str(w) for w in lint(graph, dt_s)]


def inspect_program(path: str, as_json: bool, max_bytes: int | None = None) -> str:
    from ..compiler.dump import describe_graph
    from ..compiler.program import load_program
    from .compile_cmd import format_fidelity, format_quantisation

    program = load_program(path, max_bytes=max_bytes)
    if as_json:
        from ..compiler.program import _jsonable

        return json.dumps({
            "family": program.family, "target": program.target.name, "dt_s": program.dt_s,
            "spikec_version": program.spikec_version, "format_version": program.format_version,
            "pass_log": [r.to_dict() for r in program.pass_log], "report": _jsonable(dict(program.report)),
            "source": summarise(program.source), "artefacts": sorted(program.artefacts),
        }, indent=2, default=str)
    lines = [f"program: {program.family} for {program.target.name}, dt {program.dt_s} s, "
             f"spikec {program.spikec_version}, format {program.format_version}", "passes:"]
    lines += [f"  {r.name:<20} {r.seconds * 1e3:8.1f} ms  {r.summary}" for r in program.pass_log]
    lines.append(describe_graph(program.graph))
    lines.append(format_quantisation(dict(program.report)))
    if program.fidelity and "layers" in program.fidelity:
        lines.append(format_fidelity(program.fidelity))
    elif program.fidelity and "skipped" in program.fidelity:
        lines.append(f"fidelity: skipped: {program.fidelity['skipped']}")
    lines += artefact_descriptions(program)
    if program.artefacts:
        lines.append(f"artefacts: {', '.join(sorted(program.artefacts))}")
    return "\n".join(lines)


def artefact_descriptions(program) -> list[str]:
    """What each target family's artefacts say about resources (tables, cores, crossbars)."""
    lines = []
    if program.family == "spinnaker" and "spinnaker" in program.artefacts:
        from ..compiler.spinnaker.io import describe

        lines.append(describe(program.artefacts["spinnaker"]))
    crossbars = program.report.get("crossbars")
    if isinstance(crossbars, dict) and crossbars.get("text"):
        lines.append(crossbars["text"])
    return lines
