"""``spikec compile`` and ``spikec targets``: thin wrappers over ``spikec.api``."""
from __future__ import annotations

import click

from .. import api
from ..compiler.dump import describe_graph
from ..verification.fidelity import format_fidelity
from ..compiler.loihi.place import format_placement
from ..compiler.target import list_targets
from ..ir.errors import InputError
from .common import RESET_CHOICE, load_model, max_file_bytes_option, reports_errors
from .progress import Progress


def format_quantisation(report: dict) -> str:
    """Per layer: integer parameters, threshold/bias as represented, weight errors, warnings; placement."""
    lines = ["quantisation (per layer):"] if "quantise-loihi" in report else []
    for name, r in report.get("quantise-loihi", {}).get("layers", {}).items():
        use = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["worst_case_use"].items())
        lines.append(f"  {name} ({r['kind']}, {r['neurons']} neurons): du={r['du']} dv={r['dv']} vth={r['vth']} "
                     f"scale bound by {r['scale_binding']}; bias max |error| {r['bias_max_abs_error']:.3g}; "
                     f"worst case uses {use} of the bit widths" + (" (SATURATION RISK)" if r["saturation_risk"] else ""))
        split = report.get("split-populations", {}).get("layers", {}).get(name, {})
        if split.get("populations", 1) > 1:
            lines.append(f"    split into {split['populations']} Lava populations, one per (du, dv) profile "
                         f"({r.get('decay_profiles', split['populations'])} after quantisation"
                         + (f", clustered from {r['decay_clustering']['profiles_requested']}" if r.get("decay_clustering") else "") + ")")
        for d in r["dense"]:
            lines.append(f"    from {d['source']}: weight_exp={d['weight_exp']} {d['sign_mode']}, {d['bits_used']} bits, "
                         f"relative RMS weight error {d['weight_rel_rms_error']:.4f}, {d['zeroed_synapses']} zeroed, {d['clipped_synapses']} clipped")
    for name, r in report.get("quantise-loihi", {}).get("readouts", {}).items():
        lines.append(f"  {name}: read-out on the host of {', '.join(r['sources'])} ({r['terms']} terms), "
                     f"lags the float model by {r['latency_steps']} steps")
    for w in report.get("quantise-loihi", {}).get("warnings", []):
        lines.append(f"  warning: {w}")
    for f in report.get("feasibility", []):
        lines.append(f"  {f['severity']}: node '{f['node']}': {f['figure']} = {f['value']} (limit {f['limit']}); {f['fix']}")
    if "place-loihi" in report:
        lines.append(format_placement(report["place-loihi"]))
    if report.get("delays", {}).get("layers"):
        from ..compiler.quantise_delays import format_delay_report

        lines.append(format_delay_report(report["delays"]))
    return "\n".join(lines)


@click.command("compile")
@click.argument("model", type=click.Path(), required=False)
@click.option("--target", "-t", "target", default=None, help="Target name (see 'spikec targets').")
@click.option("--config", "config", type=click.Path(), default=None, help="A target TOML file instead of a named target.")
@click.option("-o", "--output", "output", type=click.Path(), default=None, help="Program folder (or .zip archive) to write.")
@click.option("--dt", "dt_s", type=float, default=None, help="Time step in seconds (default: the graph's, else the target's).")
@click.option("--chips", "chips", default=None, metavar="N|auto", help="Chips of the machine (overrides [limits] chips): a number, or 'auto' for the smallest machine that holds the network.")
@click.option("--reset", type=RESET_CHOICE, default="zero", show_default=True, help="Reset mode for spiking nodes whose file does not record one.")
@click.option("--explain", is_flag=True, help="Print the pass pipeline for the target and exit.")
@click.option("--dump-after", "dump_after", default=None, help="Stop after this pass (any family's; see --explain) and print the pass log and the graph as it stands.")
@click.option("--report", is_flag=True, help="Print the quantisation and float-vs-fixed fidelity report.")
@click.option("--fidelity-steps", type=int, default=None,
              help="Steps of random input for the fidelity report (0: skip; default 100, skipped above 10^5 neurons).")
@click.option("--emit-lava", "emit_lava", type=click.Path(), default=None, help="Loihi targets: also write a standalone Lava script folder that rebuilds and runs the network.")
@click.option("--emit-pynn", "emit_pynn", type=click.Path(), default=None, help="SpiNNaker targets: also write a standalone PyNN script folder (pyNN.spiNNaker on a machine, pyNN.nest here).")
@max_file_bytes_option
@reports_errors
def compile_command(model, target, config, output, dt_s, chips, reset, explain, dump_after, report, fidelity_steps, emit_lava,
                    emit_pynn, max_file_bytes) -> None:
    """Compile MODEL (a .nir file) for a hardware target into a program.

    The program is written atomically: a failed compile leaves nothing behind.

    \b
    Examples:
      spikec compile braille.nir --target loihi2 -o braille.loihi2 --dt 1e-4 --report
      spikec compile model.nir --config my_chip.toml -o out.zip
      spikec compile nmnist.nir --target spinnaker1 --chips auto -o nmnist.spinnaker1
      spikec compile --target loihi2 --explain
      spikec compile braille.nir --target loihi2 -o braille.loihi2 --emit-lava braille_lava/
      spikec compile model.nir --target loihi2 --dump-after quantise-loihi
      spikec compile model.nir --target spinnaker1 -o m.spinnaker1 --emit-pynn m_pynn/
    """
    chosen = config or target
    if chosen is None:
        raise InputError("name a target with --target or a config file with --config")
    if explain:
        click.echo(api.explain(chosen))
        return
    if model is None:
        raise InputError("missing MODEL (a .nir file)")
    if output is None and dump_after is None and emit_pynn is None:
        raise InputError("missing -o/--output (where to write the program)")
    graph = load_model(model, reset=reset, max_file_bytes=max_file_bytes)
    label = f"compile {model} for {chosen}"
    with Progress(label) as bar:  # the current pass and the elapsed time
        program = api.compile(graph, chosen, dt_s=dt_s, dump_after=dump_after,
                              fidelity_steps=fidelity_steps if report or dump_after is None else 0, chips=chips,
                              on_pass=lambda name, i, n: bar.set_label(f"{label}: pass {i}/{n} {name}"))
    if dump_after is not None:
        log = "\n".join(f"  {r.name}: {r.summary}" for r in program.pass_log)  # what each pass made (SpiNNaker: vertices, tables...)
        click.echo(f"after pass '{dump_after}':\n{log}\n{describe_graph(program.graph)}")
    if report:
        click.echo(format_quantisation(dict(program.report)))
        if program.fidelity and "layers" in program.fidelity:
            click.echo(format_fidelity(program.fidelity))
        elif program.fidelity and "skipped" in program.fidelity:
            click.echo(f"fidelity: skipped: {program.fidelity['skipped']}")
    if emit_lava is not None:
        if program.family != "loihi":
            raise InputError(f"--emit-lava needs a Loihi target; '{program.target.name}' is {program.family}")
        from ..backends.lava.standalone import write_lava_script

        click.echo(f"wrote Lava script folder {write_lava_script(program, emit_lava)}")
    if emit_pynn is not None:
        if program.family != "spinnaker":
            raise InputError(f"--emit-pynn needs a SpiNNaker target; '{program.target.name}' is {program.family}")
        from ..backends.pynn.emit import write_pynn_script

        click.echo(f"wrote PyNN script folder {write_pynn_script(program, emit_pynn)} "
                   "(run: python run_pynn.py --simulator nest|spiNNaker)")
    if output is not None:
        path = program.save(output)
        machine = program.report.get("spinnaker", {}).get("machine_label")
        click.echo(f"wrote {path} ({program.family} program for {program.target.name}, dt {program.dt_s} s"
                   + (f", {machine}" if machine else f", {program.target.limits.chips} chip(s)" if chips else "") + ")")


def numeric_summary(numeric) -> str:
    """The key bit widths of a numeric format, in a few characters."""
    fields = numeric.__dataclass_fields__
    if "state_bits" in fields:
        return f"{numeric.state_bits}-bit state, {numeric.weight_bits}-bit weights"
    if "state_format" in fields:
        return f"{numeric.state_format}, {numeric.weight_bits}-bit weights"
    if "dac_bits" in fields:
        return f"{numeric.dac_bits}-bit DAC, {numeric.adc_bits}-bit ADC"
    return "-"


@click.command("targets")
@reports_errors
def targets_command() -> None:
    """List the hardware targets shipped in hw_configs/ with their key figures.

    \b
    Example:
      spikec targets
    """
    from ..compiler.quantise_delays import delay_limits

    rows = [("name", "family", "numbers", "chips", "cores/chip", "neurons/core", "fan-in", "max delay", "routing", "description")]
    for t in list_targets():
        lim = t.limits
        show = lambda v: "-" if v is None else str(v)
        rows.append((t.name, t.family, numeric_summary(t.numeric), str(lim.chips), str(lim.cores_per_chip), str(lim.neurons_per_core),
                     show(lim.max_fan_in), str(delay_limits(t).max_total), show(lim.routing_table_entries), t.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
