"""Compile each trained digits model for every target, run the held-out test set, print one table.

Needs no torch: it reads the saved graphs (``models/<framework>.nir``), the
encoded test set (``models/test_set.npz``) and the training summaries
(``models/<framework>.json``, for torch's own accuracy). For every target in
``spikec targets`` it compiles the graph (with an Output after each neuron
layer, ``probes.py``), runs the test set on the reference executor of the
target's numeric format and on the native backends that are available (Lava, in
its own Python 3.10 environment; the SpiNNaker event machine; the RRAM simulator,
plus seeded Monte Carlo trials of freshly programmed chips read 1 s and 1 year
after programming, the latter also with global drift compensation), and reports per inference: accuracy, spikes, synaptic
operations (NeuroBench's definitions, ``spikec.verification.metrics``, counted on
the synapses as compiled), activation sparsity, cores or arrays, and an energy
ESTIMATE from ``energy.toml``. It writes ``results.json`` and ``report.html`` (``spikec report``'s page) into ``--out``, and with
``--save-programs DIR`` every compiled program (``spikec report DIR/*`` redraws the page).

    python examples/digits/evaluate.py [--lava-samples N] [--trials 10]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import spikec
from spikec.verification.metrics import activation_sparsity, neuron_count, spiking_layers, static_metrics, synaptic_operations, connections
from spikec.verification.report import write_report
from spikec.compiler.target import list_targets
from spikec.ir.errors import SpikecError

try:
    from . import data, energy, hardware, probes, readout
except ImportError:  # pragma: no cover - run as a script
    import data, energy, hardware, probes, readout  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
#: read times after programming: (label, seconds, global drift compensation)
READ_TIMES = (("1s", 1.0, False), ("1year", 365.0 * 86400.0, False), ("1year_comp", 365.0 * 86400.0, True))


def counts(graph: spikec.Graph, fan: dict, activity: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-inference operation counts: spikes, synaptic ops (effective on ``fan``, dense), updates, sends."""
    batch = activity["input"].shape[1]
    steps = activity["input"].shape[0]
    spiking = spiking_layers(graph)
    conns = connections(graph)
    senders = {c.source for c in conns}
    dense = synaptic_operations((c.weight, activity[c.source]) for c in conns).dense
    return {
        "spikes": sum(float(activity[n].sum()) for n in spiking) / batch,
        "synops": hardware.effective_synops(fan, activity),
        "synops_dense": dense,
        "activation_sparsity": activation_sparsity(activity[n] for n in spiking),
        "neuron_updates": float(neuron_count(graph) * steps),
        "packets": sum(float(activity[n].sum()) for n in senders) / batch,  # one packet per spike of a sending population
    }


def row(model: str, target: str, backend: str, family: str, predictions: np.ndarray, labels: np.ndarray,
        float_predictions: np.ndarray, c: dict[str, float], res: dict[str, Any] | None, energy_uj: float | None,
        footprint: int, **extra: Any) -> dict[str, Any]:
    n = len(predictions)
    return {
        "model": model, "target": target, "backend": backend, "family": family, "samples": n,
        "accuracy": readout.accuracy(predictions, labels),
        "float_accuracy_same_samples": readout.accuracy(float_predictions[:n], labels),
        "differ_from_float": int((predictions != float_predictions[:n]).sum()),
        "spikes": c["spikes"], "synops": c["synops"], "synops_dense": c["synops_dense"],
        "activation_sparsity": c["activation_sparsity"],
        "resources": f"{res['used']} {res['unit']}{' (est.)' if res.get('estimated') else ''}" if res else "-",
        "footprint_bytes": footprint,
        "energy_uj": energy_uj, **extra,
    }


def evaluate_model(model: str, models_dir: Path, x: np.ndarray, labels: np.ndarray, *, lava_samples: int, trials: int,
                   figures: dict, seed: int, programs_dir: Path | None, programs: list | None = None,
                   log=print) -> list[dict[str, Any]]:
    """Rows of the table for one model; appends (label, Program) to ``programs`` when given."""
    summary = json.loads((models_dir / f"{model}.json").read_text())
    kind = summary["readout"]
    graph = probes.with_layer_probes(spikec.load_nir(models_dir / f"{model}.nir"))
    dt_s = graph.metadata["dt_s"]
    float_out = spikec.simulate(graph, x, dt_s)
    float_pred = readout.predict(float_out["output"], kind)
    fan = {(c.source, c.target): (c.weight != 0).sum(axis=0) for c in connections(graph)}
    c = counts(graph, fan, probes.layer_activity(float_out, {"input": x}))
    rows = [row(model, "float", "reference", "float", float_pred, labels, float_pred, c, None,
                energy.estimate_uj(c, figures["float"]), static_metrics(graph)["footprint_bytes"], torch_accuracy=summary["torch_test_accuracy"],
                torch_differ_from_float=sum(int(a != b) for a, b in zip(summary["torch_predictions"], float_pred)))]
    log(f"{model}: float reference {rows[0]['accuracy']:.4f} (torch {summary['torch_test_accuracy']:.4f}, "
        f"{rows[0]['torch_differ_from_float']} predictions differ); static: {static_metrics(graph)}")
    for target in list_targets():
        program = spikec.compile(graph, target.name)
        if programs_dir is not None:
            program.save(programs_dir / f"{model}-{target.name}")
        if programs is not None:
            programs.append((f"{model}-{target.name}", program))
        res = hardware.resources(program)
        fan = hardware.fan_out(program)
        fig = energy.figures_for(target.name, program.family, figures)
        reference_out: dict[str, np.ndarray] = {}
        for backend in ["reference"] + hardware.native_backends(program.family):
            n = min(lava_samples, x.shape[1]) if backend == "lava" else x.shape[1]
            if n == 0:
                continue
            stats: dict[str, float] = {}
            start = time.perf_counter()
            try:
                out = hardware.run_on(program, x[:, :n], backend, seed=seed, stats=stats)
            except SpikecError as exc:
                log(f"  {target.name:<11} {backend:<9} not run: {exc}")
                rows.append({"model": model, "target": target.name, "backend": backend, "family": program.family,
                             "samples": 0, "note": f"not run: {exc}"})
                continue
            seconds = time.perf_counter() - start
            c = counts(graph, fan, probes.layer_activity(out, {"input": x[:, :n]}))
            c["packet_hops"] = stats["hops"] / n if stats else c["packets"]  # estimate: one hop per packet
            c["tile_reads"] = tile_reads(program, probes.layer_activity(out, {"input": x[:, :n]})) if program.family == "rram" else 0.0
            extra: dict[str, Any] = {"seconds": round(seconds, 2), "packet_hops": c["packet_hops"], "hops_measured": bool(stats)}
            if backend == "reference":
                reference_out = out
            else:  # output entries (every output, step, sample, neuron) that differ from the reference executor's
                extra["entries_differ_from_reference"] = int(sum((out[k] != reference_out[k][:, :n]).sum() for k in out))
            if program.family == "rram" and backend == "rram":
                extra |= drift_trials(program, x, labels, kind, trials=trials, seed=seed)
            r = row(model, target.name, backend, program.family, readout.predict(out["output"], kind), labels[:n],
                    float_pred, c, res, energy.estimate_uj(c, fig), hardware.footprint(program), **extra)
            rows.append(r)
            log(f"  {target.name:<11} {backend:<9} {r['accuracy']:.4f} on {n} ({r['differ_from_float']} differ from float) "
                f"{seconds:.1f} s")
    return rows


def tile_reads(program: Any, activity: dict[str, np.ndarray]) -> float:
    """Per inference: for each layer, the steps in which any of its inputs is nonzero, times its tiles."""
    per_layer = program.report["crossbars"]["per_layer"]
    graph = program.graph
    total, batch = 0.0, activity["input"].shape[1]
    for name, layer in per_layer.items():
        (src,) = graph.predecessors(name)
        x = activity[src]
        total += float((x.reshape(x.shape[0], x.shape[1], -1) != 0).any(axis=2).sum()) * layer["tiles"]
    return total / batch


def drift_trials(program: Any, x: np.ndarray, labels: np.ndarray, kind: str, *, trials: int, seed: int) -> dict[str, Any]:
    """Accuracy of ``trials`` freshly programmed chips (seeds from ``SeedSequence(seed)``) at each read time."""
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(trials)]
    found: dict[str, Any] = {"trials": trials}
    for label, t_s, compensate in READ_TIMES:
        acc = [readout.accuracy(readout.predict(
            hardware.run_on(program, x, "rram", seed=s, t_s=t_s, compensate_drift=compensate)["output"], kind), labels)
            for s in seeds]
        found[f"accuracy_{label}"] = float(np.mean(acc))
        found[f"accuracy_{label}_std"] = float(np.std(acc))
    return found


COLUMNS = [("model", "model", "{}"), ("target", "target", "{}"), ("backend", "backend", "{}"), ("n", "samples", "{}"),
           ("acc %", "accuracy", "{:.2f}"), ("diff", "differ_from_float", "{}"), ("!=ref", "entries_differ_from_reference", "{}"), ("spikes", "spikes", "{:.0f}"),
           ("synops", "synops", "{:.0f}"), ("dense", "synops_dense", "{:.0f}"), ("sparsity", "activation_sparsity", "{:.3f}"),
           ("resources", "resources", "{}"), ("footprint B", "footprint_bytes", "{}"), ("energy uJ (est.)", "energy_uj", "{:.3f}")]


def drift_cell(r: dict[str, Any]) -> str:
    """Accuracy (%) of the simulated chips per read time, mean +- std over trials ("" if not an RRAM chip row)."""
    if "accuracy_1s" not in r:
        return ""
    return " / ".join(f"{100 * r[f'accuracy_{k}']:.2f} +- {100 * r[f'accuracy_{k}_std']:.2f}" for k, _, _ in READ_TIMES) \
        + f" ({r['trials']} chips)"


def formatted_cells(r: dict[str, Any]) -> list[str]:
    """One table row as text, in ``COLUMNS`` order, then the RRAM drift cell (or a note)."""
    cells = []
    for _, key, fmt in COLUMNS:
        v = r.get(key)
        if v is None:
            cells.append("-" if key == "entries_differ_from_reference" else "n/a")
        else:
            cells.append(fmt.format(100 * v) if key == "accuracy" else fmt.format(v))
    return cells + [drift_cell(r) or r.get("note", "")]


DRIFT_HEADER = "RRAM chips: 1 s / 1 year / 1 year compensated"


def format_table(rows: list[dict[str, Any]]) -> str:
    """One line per (model, target, backend); RRAM drift as mean +- std over trials."""
    header = [h for h, _, _ in COLUMNS] + [DRIFT_HEADER]
    lines = [formatted_cells(r) for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    fmt_line = lambda cells: "  ".join(str(c).rjust(w) if i > 2 else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt_line(header), fmt_line(["-" * w for w in widths])] + [fmt_line(c) for c in lines])


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=HERE / "models", help="folder written by train.py")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where results.json and report.html go")
    parser.add_argument("--save-programs", type=Path, default=None, help="also save every compiled program here (for spikec report)")
    parser.add_argument("--frameworks", default="snntorch,norse")
    parser.add_argument("--lava-samples", type=int, default=None, help="test samples run on Lava (default: all; 0 to skip)")
    parser.add_argument("--trials", type=int, default=10, help="simulated RRAM chips per read time")
    parser.add_argument("--test-subset", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    x, labels = data.load_test_set(str(args.models / "test_set.npz"))
    if args.test_subset:
        x, labels = x[:, :args.test_subset], labels[:args.test_subset]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.save_programs is not None:
        args.save_programs.mkdir(parents=True, exist_ok=True)
    figures = energy.load_figures()
    rows: list[dict[str, Any]] = []
    programs: list[tuple[str, Any]] = []
    for model in args.frameworks.split(","):
        lava_samples = x.shape[1] if args.lava_samples is None else args.lava_samples
        rows += evaluate_model(model, args.models, x, labels, lava_samples=lava_samples, trials=args.trials,
                               figures=figures, seed=args.seed, programs_dir=args.save_programs, programs=programs)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    print()
    print(format_table(rows))
    print("energy: an ESTIMATE from per-operation figures in examples/digits/energy.toml (sources there); n/a: no published figure.")
    write_digits_report(args.out / "report.html", rows, programs, x)
    return rows


def write_digits_report(path: Path, rows: list[dict[str, Any]], programs: list[tuple[str, Any]], x: np.ndarray) -> Path:
    """The ``spikec report`` page over every compiled program, test sample 0, and the table."""
    table = [dict(zip([h for h, _, _ in COLUMNS] + [DRIFT_HEADER], formatted_cells(r))) for r in rows]
    accuracy = [(f"{r['model']} {r['target']} {r['backend']}", r["accuracy"]) for r in rows if "accuracy" in r]
    write_report(str(path), programs, x[:, :1], table=table, accuracy=accuracy, title="spikec: digits on every target",
                 note="Test sample 0 of the held-out digits set; energy figures are estimates (examples/digits/energy.toml).")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
