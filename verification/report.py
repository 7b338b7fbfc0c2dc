"""A one-page HTML report of compiled programs: rasters, per-layer error, utilisation, accuracy.

``build_report(programs, sample)`` returns one self-contained HTML page
(inline SVG, no scripts, no external files) that a person can open anywhere:

- an accuracy table, when given (rows of plain dicts, e.g. the digits
  example's ``results.json``);
- per program: what it occupies (cores, or crossbar arrays with each array's
  cell utilisation), the per-layer error of its arithmetic against the float
  model on the same input (spike-train agreement, or relative RMS error of a
  read-out's value), the compiler's own per-layer weight quantisation figures
  where the family reports them (Loihi's relative RMS weight error, RRAM's
  tile error), and a spike raster of every output for one sample.

Rasters show each *output* of a program; a program compiled from a graph with
an Output after every neuron layer (``examples/digits/probes.py``) shows every
layer. Every program is run on the reference executor in its own numeric
format, and aligned to the float model's time (``run_in_float_time``), so
rasters of different targets line up step for step.
"""
from __future__ import annotations

import hashlib
import html
import math
from typing import Any, Mapping, Sequence

import numpy as np


PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


# --- running a program in the float model's time ----------------------------------------------


def output_names(program: Any) -> list[str]:
    """The program's output node names (a lowered Loihi graph marks them by node type)."""
    names = list(program.graph.outputs)
    if not names:
        names = [n for n, node in program.graph.items() if type(node).__name__ in ("LoihiOutput", "LoihiReadout")]
    return names


def run_in_float_time(program: Any, spikes: np.ndarray, backend: str = "reference", **backend_options: Any) -> dict[str, np.ndarray]:
    """Outputs ``{name: [T, B, ...]}`` in the float model's steps and units.

    Loihi populations lag the float model by ``latency_steps`` (one step per
    Dense, docs/semantics.md section 3): the input is padded with that many
    silent steps and each output read from its population's lag (a
    ``LoihiReadout``'s own ``latency_steps``); a read-out's integer ``v`` is
    divided by its ``v_scale`` (a ``LoihiReadout`` is in float units already). SpiNNaker and RRAM outputs
    are already in graph time. ``backend_options`` go to the RRAM backend
    (``seed``, ``t_s``).
    """
    from ..backends import run

    steps = spikes.shape[0]
    if program.family == "loihi":
        from ..compiler.loihi.nodes import gather_parts, output_latency

        graph = program.graph
        lags = {n: output_latency(graph, n) for n in output_names(program)}
        pad = max(lags.values(), default=0)
        raw = run(program, np.concatenate([spikes, np.zeros((pad, *spikes.shape[1:]))]), backend=backend)
        out = {}
        for name, lag in lags.items():
            value = np.asarray(raw[name][lag:lag + steps], dtype=np.float64)
            if graph.nodes[name].kind == "LoihiOutput" and graph.nodes[name].reads != "s":  # a split layer's parts: their scales in layer order
                v_scale = gather_parts(graph, graph.predecessors(name), lambda p: np.asarray(graph.nodes[p].v_scale))
                value = value / v_scale.reshape(value.shape[2:])
            out[name] = value
        return out
    if backend == "rram" and backend_options:
        from ..backends.rram import run as run_rram

        return run_rram(program, spikes, **backend_options)
    return run(program, spikes, backend=backend)


def float_outputs(program: Any, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """The float model (the program's source graph) on the same input."""
    from ..backends.reference.float_executor import simulate

    return simulate(program.source, spikes, program.dt_s)


def is_spike_train(x: np.ndarray) -> bool:
    return bool(np.isin(x, (0, 1)).all())


def layer_error(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Spikes: train agreement (equal entries) and count agreement; values: relative RMS error."""
    if is_spike_train(reference) and is_spike_train(other):
        cf, cq = reference.sum(axis=0), other.sum(axis=0)
        total = float(cf.sum() + cq.sum())
        return {"train_agreement": float((reference == other).mean()),
                "count_agreement": 1.0 - float(np.abs(cf - cq).sum()) / total if total else 1.0,
                "spikes_float": float(cf.sum()), "spikes_program": float(cq.sum())}
    rms = float(np.sqrt(np.mean(reference**2))) or 1.0
    return {"value_rel_rms_error": float(np.sqrt(np.mean((other - reference) ** 2))) / rms}


# --- SVG pieces ----------------------------------------------------------------------------------


def svg_raster(x: np.ndarray, title: str, *, width: int = 360, height: int = 150) -> str:
    """A raster (spikes: one dot per spike, time across, neuron down) or traces (values) of ``x`` [T, n]."""
    x = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
    steps, n = x.shape
    left, top, w, h = 34, 18, width - 44, height - 36
    parts = [f'<svg class="raster" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="{left}" y="12" font-size="11">{html.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>']
    if is_spike_train(x):
        t, i = np.nonzero(x)
        r = max(0.8, min(2.5, h / max(n, 1) / 2))
        for tt, ii in zip(t, i):
            cx = left + (tt + 0.5) * w / steps
            cy = top + (ii + 0.5) * h / n
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="#222"/>')
        parts.append(f'<text x="{left + w}" y="{height - 4}" font-size="10" text-anchor="end">{int(x.sum())} spikes, {n} neurons, {steps} steps</text>')
    else:
        lo, hi = float(x.min()), float(x.max())
        span = (hi - lo) or 1.0
        for j in range(min(n, len(PALETTE))):
            points = " ".join(f"{left + (tt + 0.5) * w / steps:.1f},{top + h - (x[tt, j] - lo) / span * h:.1f}" for tt in range(steps))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[j]}" stroke-width="1.2"/>')
        parts.append(f'<text x="{left + w}" y="{height - 4}" font-size="10" text-anchor="end">value traces ({min(n, len(PALETTE))} of {n}), range {lo:.3g}..{hi:.3g}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end">0</text>'
                 f'<text x="{left - 4}" y="{top + h}" font-size="9" text-anchor="end">{n - 1}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_bars(items: Sequence[tuple[str, float]], *, title: str, maximum: float = 1.0, minimum: float = 0.0,
             fmt: str = "{:.1%}", width: int = 360) -> str:
    """Horizontal bars, one per (label, value), from ``minimum`` (bar empty) to ``maximum`` (full)."""
    row, left = 18, 200
    height = 22 + row * max(len(items), 1)
    parts = [f'<svg class="bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="0" y="12" font-size="11">{html.escape(title)}</text>']
    span = width - left - 70
    for k, (label, value) in enumerate(items):
        y = 18 + k * row
        frac = 0.0 if maximum <= minimum else max(0.0, min(1.0, (value - minimum) / (maximum - minimum)))
        parts.append(f'<text x="{left - 6}" y="{y + 12}" font-size="10" text-anchor="end">{html.escape(str(label))}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{span}" height="{row - 6}" fill="#eee"/>'
                     f'<rect x="{left}" y="{y + 2}" width="{frac * span:.1f}" height="{row - 6}" fill="#4a7ebb"/>'
                     f'<text x="{left + span + 4}" y="{y + 12}" font-size="10">{html.escape(fmt.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    columns = list(columns or dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f'<table class="acc"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# --- per program ---------------------------------------------------------------------------------


def utilisation(program: Any) -> tuple[str, list[tuple[str, float]], float]:
    """(summary line, bars, bar maximum) of what the program occupies."""
    limits = program.target.limits
    if program.family == "rram":
        r = program.report["crossbars"]
        bars = [(f"array {i}", float(u)) for i, u in enumerate(r["per_array"])]
        return (f"{r['arrays']} of {limits.cores_per_chip} crossbar arrays ({r['arrays_without_packing']} without packing); "
                f"{r['cells_used']} of {r['cells_total']} cells ({r['utilisation']:.1%})", bars, 1.0)
    if program.family == "spinnaker":
        r = program.report["spinnaker"]
        per_core = {}
        spinnaker = program.artefacts["spinnaker"]
        for core in getattr(spinnaker, "artefacts", spinnaker).cores:
            v = core.vertex
            per_core[f"{v.population} [{v.lo}:{v.hi}]"] = (v.hi - v.lo) / limits.neurons_per_core
        return (f"{r['cores']} cores on {r['chips']} chip(s) of {limits.cores_per_chip} cores each; neurons per core "
                f"(of {limits.neurons_per_core}):", list(per_core.items()), 1.0)
    placed = program.report.get("place-loihi")
    if placed:
        bars = [(f"core {c['core']}: {c['population']} [{c['first_neuron']}:{c['first_neuron'] + c['neurons']}]",
                 float(c["neuron_utilisation"])) for c in placed["per_core"]]
        memory = max((float(c["memory_utilisation"]) for c in placed["per_core"]), default=0.0)
        return (f"{placed['cores']} of {placed['cores_available']} cores (place-loihi); neurons per core "
                f"(of {limits.neurons_per_core}); largest synaptic memory use {memory:.1%}:", bars, 1.0)
    pops = [(n, node) for n, node in program.graph.items() if type(node).__name__ == "LoihiNeurons"]
    bars = [(n, int(np.prod(node.shape)) / limits.neurons_per_core) for n, node in pops]
    cores = sum(math.ceil(int(np.prod(node.shape)) / limits.neurons_per_core) for _, node in pops)
    return (f"about {cores} of {limits.cores_per_chip} cores (one per population slice; Loihi programs carry no placement yet); "
            f"neurons per core (of {limits.neurons_per_core}):", bars, 1.0)


def quantisation_rows(program: Any) -> list[dict[str, Any]]:
    """The compiler's own per-layer weight quantisation figures, where the family reports them."""
    rows = []
    if program.family == "loihi":
        for name, layer in program.report.get("quantise-loihi", {}).get("layers", {}).items():
            for d in layer["dense"]:
                rows.append({"layer": name, "from": d["source"], "weight rel. RMS error": d["weight_rel_rms_error"],
                             "bits": d["bits_used"], "weight_exp": d["weight_exp"], "zeroed synapses": d["zeroed_synapses"],
                             "decay v requested": layer["decay_v_requested"], "decay v represented": layer["decay_v_represented"]})
    elif program.family == "rram":
        for name, layer in program.report["crossbars"]["per_layer"].items():
            rows.append({"layer": name, "weights": int(layer["weights"]), "tiles": int(layer["tiles"]),
                         "weight rel. RMS error": layer["rms_rel"], "weight rel. max error": layer["max_rel"]})
    return rows


def output_sources(program: Any) -> dict[str, str]:
    """One output per source layer (the first in graph order), in execution order: what the rasters show."""
    graph = program.graph
    order, _ = graph.execution_order()
    rank = {n: i for i, n in enumerate(order)}
    found: dict[str, str] = {}
    first: dict[str, int] = {}
    for name in output_names(program):
        source = graph.predecessors(name)[0]
        layer = str(graph.nodes[source].metadata.get("layer", source))  # a split layer's parts: the layer
        found.setdefault(layer, name)
        first.setdefault(layer, rank.get(source, 0))
    return dict(sorted(found.items(), key=lambda kv: first[kv[0]]))


def source_fingerprint(graph: Any) -> str:
    """Equal for programs compiled from the same float graph (structure and every array)."""
    digest = hashlib.sha256(repr((sorted(graph.nodes), graph.edges)).encode())
    for name in sorted(graph.nodes):
        for value in vars(graph.nodes[name]).values():
            if isinstance(value, np.ndarray):
                digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def raster_grid(runs: Sequence[tuple[str, Any, dict[str, np.ndarray]]], sample: np.ndarray) -> str:
    """A table: one row per program, one raster per layer, so targets compare at a glance.

    Before the first program of each float graph, a row with the float model itself.
    """
    rows, seen = [], set()
    for label, program, outputs in runs:
        key = source_fingerprint(program.source)
        if key not in seen:
            seen.add(key)
            floats = float_outputs(program, sample)
            cells = "".join(f"<td>{svg_raster(floats[name][:, 0], f'layer {layer}', width=300, height=130)}</td>"
                            for layer, name in output_sources(program).items())
            rows.append(f"<tr><th>float model<br><small>(program {html.escape(label)}'s source)</small></th>{cells}</tr>")
        cells = "".join(f"<td>{svg_raster(outputs[name][:, 0], f'layer {layer}', width=300, height=130)}</td>"
                        for layer, name in output_sources(program).items())
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f'<table class="grid">{"".join(rows)}</table>'


def svg_matrix(names: Sequence[str], values: np.ndarray, *, title: str, cell: int = 46) -> str:
    """A heat map of a symmetric [n, n] matrix in [0, 1], each cell labelled with its value."""
    n = len(names)
    left, top = 190, 40
    low = float(min(values.min(), 0.999))  # shade relative to the lowest value, so near-1 matrices still show contrast
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + n * cell + 10}" height="{top + n * cell + 10}">',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for j in range(n):
        parts.append(f'<text x="{left + j * cell + cell / 2}" y="{top - 6}" font-size="11" text-anchor="middle">{j}</text>')
    for i, name in enumerate(names):
        y = top + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4}" font-size="11" text-anchor="end">[{i}] {html.escape(name)}</text>')
        for j in range(n):
            v = float(np.clip((values[i, j] - low) / (1.0 - low), 0.0, 1.0))
            shade = int(235 - 175 * v)
            ink = "white" if v > 0.6 else "black"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="rgb({shade},{shade},255)"/>'
                         f'<text x="{left + j * cell + cell / 2}" y="{y + cell / 2 + 4}" font-size="10" fill="{ink}" '
                         f'text-anchor="middle">{values[i, j]:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def fidelity_matrix_section(runs: Sequence[tuple[str, Any, dict[str, np.ndarray]]], sample: np.ndarray) -> str:
    """The NIR-paper-style cross-platform matrix over the programs that share the first program's float graph."""
    from .fidelity_matrix import activity_cosine, train_agreement

    if not runs:
        return ""
    key = source_fingerprint(runs[0][1].source)
    same = [(label, program, outputs) for label, program, outputs in runs if source_fingerprint(program.source) == key]
    name = output_names(same[0][1])[0]
    series = [("float", float_outputs(same[0][1], sample)[name])] + [(label, outputs[name]) for label, _, outputs in same]
    if not all(is_spike_train(x) for _, x in series):
        return ""
    names = [label for label, _ in series]
    n = len(series)
    agreement, cosine = np.ones((n, n)), np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            a, b = series[i][1] > 0, series[j][1] > 0
            agreement[i, j] = agreement[j, i] = train_agreement(a, b)
            cosine[i, j] = cosine[j, i] = activity_cosine(a.astype(float), b.astype(float))
    return ("<h2>Fidelity matrix</h2><p class='note'>Every program against every other and the float model on this "
            f"sample, output '{html.escape(name)}': spike-train agreement and cosine similarity of per-neuron activity "
            "(as the NIR paper's cross-platform figure; <code>spikec verify --matrix</code> adds each native backend).</p>"
            + svg_matrix(names, agreement, title="spike-train agreement")
            + svg_matrix(names, cosine, title="cosine similarity of activity"))


def program_section(label: str, program: Any, sample: np.ndarray, ours: dict[str, np.ndarray]) -> str:
    """One program: utilisation, per-layer error against the float model on the sample, weight quantisation."""
    floats = float_outputs(program, sample)
    summary, bars, maximum = utilisation(program)
    errors = [{"layer": layer} | layer_error(floats[name][:, 0], ours[name][:, 0])
              for layer, name in output_sources(program).items() if name in floats]
    quant = quantisation_rows(program)
    return (f'<section class="program"><h3>{html.escape(label)}</h3>'
            f"<p>target <b>{html.escape(program.target.name)}</b> ({html.escape(program.family)} arithmetic), dt {program.dt_s} s. "
            f"{html.escape(summary)}</p>{svg_bars(bars, title='utilisation', maximum=maximum)}"
            f"<h4>Per-layer error against the float model (this sample)</h4>{html_table(errors)}"
            + (f"<h4>Weight quantisation (compiler report)</h4>{html_table(quant)}" if quant else "")
            + "</section>")


STYLE = """body{font-family:sans-serif;margin:24px;color:#222;max-width:1300px}
table.acc{border-collapse:collapse;font-size:12px;margin:8px 0}table.acc td,table.acc th{border:1px solid #ccc;padding:3px 6px;text-align:right}
table.acc th{background:#eef}table.grid th{text-align:right;padding-right:8px;font-size:13px}
section.program{border-top:2px solid #ccd;margin-top:14px}.note{color:#555;font-size:12px}"""


def build_report(programs: Sequence[tuple[str, Any]], sample: np.ndarray, *, table: Sequence[Mapping[str, Any]] = (),
                 accuracy: Sequence[tuple[str, float]] = (), title: str = "spikec report", note: str = "") -> str:
    """The HTML page for ``programs`` (label, Program), run on ``sample`` ``[T, 1, *shape]`` (or ``[T, *shape]``).

    ``table``: rows for the accuracy/cost table; ``accuracy``: (label, fraction) pairs drawn as bars.
    """
    sample = np.asarray(sample, dtype=np.float64)
    if programs:
        source = programs[0][1].source
        if sample.shape[1:] == tuple(source.nodes[source.inputs[0]].shape):
            sample = sample[:, None]
        sample = sample[:, :1]
    runs = [(label, program, run_in_float_time(program, sample)) for label, program in programs]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    if note:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    if table:
        parts.append(f"<h2>Accuracy and cost per inference</h2>{html_table(table)}")
    if accuracy:
        low = max(0.0, math.floor(min(v for _, v in accuracy) * 20) / 20 - 0.05)
        parts.append(svg_bars(accuracy, title=f"test accuracy (bars start at {low:.0%})", minimum=low, width=640))
    parts.append(f"<h2>Spike rasters, one sample on every program</h2><p class='note'>{sample.shape[0]} steps, "
                 f"{int(sample.sum())} input spikes; each program on the reference executor of its numeric format, "
                 f"aligned to the float model's time (Loihi's Dense latency removed); read-outs drawn as value traces.</p>")
    parts.append(raster_grid(runs, sample))
    parts.append(fidelity_matrix_section(runs, sample))
    parts.append("<h2>Per program: utilisation and quantisation error</h2>")
    parts.extend(program_section(label, program, sample, ours) for label, program, ours in runs)
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: str, programs: Sequence[tuple[str, Any]], sample: np.ndarray, **kwargs: Any) -> str:
    """Write ``build_report`` to ``path`` atomically (temporary sibling, then rename)."""
    import os
    import tempfile

    page = build_report(programs, sample, **kwargs)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


__all__ = ["build_report", "float_outputs", "layer_error", "output_names", "run_in_float_time", "svg_bars", "svg_raster", "write_report"]
