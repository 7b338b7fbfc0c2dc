"""A compiled Loihi program as a Lava network description (JSON + arrays).

The compiled program's graph (``compiler/loihi/nodes.py``) already speaks
Lava: ``LoihiInput -> Dense -> LoihiNeurons -> ... -> LoihiOutput`` with Lava's
own parameter names and units. This module only translates it into the
runner's description (format ``spikec-lava/1``, see ``runner.py``): it reads
the program's artefacts and computes nothing the hardware would compute.

- ``LoihiNeurons`` that Lava's LIF computes exactly (``is_stock_lava``) become
  ``lava.proc.lif.process.LIF``; the others (reset by subtraction, nonzero
  ``v_reset``, delayed reset, non-spiking read-outs) become spikec's
  ``SpikecLIF`` (``lava_processes.py``).
- ``Dense`` becomes ``lava.proc.dense.process.Dense``, or ``Sparse`` when the
  matrix is mostly zeros (unrolled convolutions and pooling, and every CSR
  ``Dense.weights``, sent as COO without densifying; both models
  compute the same integers, ``tests/test_lava_runner.py`` checks it), and the
  delay variants when the program has synaptic delays.
- ``LoihiInput`` becomes a ``RingBuffer`` source holding the input spikes.
- Output spikes, and ``v``/``u`` where asked, are recorded by spikec's file
  recorders (Lava's own read-back costs ~28 us per value).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ...compiler.loihi.nodes import gather_parts, layer_shape, merge_part_traces
from ...compiler.loihi.readout import readout_values, readouts, source_recordings
from ...ir import weights as w
from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.inputs import time_first_inputs

FORMAT = "spikec-lava/1"
#: Dense connections with at most this fraction of nonzero weights go to Lava's Sparse.
SPARSE_DENSITY = 0.25
#: ... and only when they are at least this large (small matrices gain nothing).
SPARSE_MIN_ENTRIES = 4096
SIGN_MODE_NAMES = {1: "MIXED", 2: "EXCITATORY", 3: "INHIBITORY"}
RESET_MODES = {"zero": 0, "subtract": 1}  # lava_processes.RESET_ZERO / RESET_SUBTRACT
RESET_NONE = 2  # lava_processes.RESET_NONE: a read-out that never spikes
STATE_VARS = ("v", "u", "s")


@dataclass(frozen=True, eq=False)
class Recording:
    """Where one result array comes from and the shape it is returned in."""

    key: str
    population: str
    var: str
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class LavaNetwork:
    """A description the runner builds, its arrays, and what the results mean."""

    description: dict[str, Any]
    arrays: dict[str, np.ndarray]
    recordings: tuple[Recording, ...] = field(default_factory=tuple)


def program_graph(program: Any) -> Graph:
    """The lowered Loihi graph of a Program (or a lowered Graph itself)."""
    graph = program if isinstance(program, Graph) else getattr(program, "graph", None)
    if not isinstance(graph, Graph):
        raise CompileError(f"expected a compiled Loihi program, got {type(program).__name__}")
    kinds = {node.kind for node in graph.nodes.values()}
    unknown = kinds - {"LoihiInput", "Dense", "LoihiNeurons", "LoihiOutput", "LoihiReadout"}
    if unknown:
        raise CompileError(
            f"the Lava backend runs programs compiled for a Loihi target; this graph has {sorted(unknown)} nodes"
        )
    return graph


def _population(name: str, node: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One neuron population: Lava's LIF where it suffices, else SpikecLIF."""
    if node.per_neuron_decays:
        raise CompileError("du/dv differ between neurons: Lava holds one per process (compile through the "
                           "split-populations pass, which makes one population per profile)", node=name, parameter="du, dv")
    params: dict[str, Any] = {"du": int(node.du), "dv": int(node.dv), "vth": int(node.vth)}
    arrays = {f"{name}.bias_mant": np.asarray(node.bias_mant, np.int32),
              f"{name}.bias_exp": np.asarray(node.bias_exp, np.int32)}
    refs = {"bias_mant": f"{name}.bias_mant", "bias_exp": f"{name}.bias_exp"}
    kind = "LIF"
    if not node.is_stock_lava:
        kind = "SpikecLIF"
        if node.reset not in RESET_MODES:
            raise CompileError(f"reset mode {node.reset!r} has no Lava model", node=name, parameter="reset")
        params["reset_mode"] = RESET_MODES[node.reset] if node.spiking else RESET_NONE
        params["reset_delay"] = bool(node.reset_delay)
        params["reset_recheck"] = bool(getattr(node, "reset_recheck", False))
        arrays[f"{name}.v_reset"] = np.asarray(node.v_reset, np.int32)
        refs["v_reset"] = f"{name}.v_reset"
    return {"name": name, "kind": kind, "size": node.n, "params": params, "arrays": refs}, arrays


def _connection(name: str, node: Any, source: str, target: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    weights = node.weights  # dense, or canonical CSR (then never made dense: the runner takes it as COO)
    if int(node.sign_mode) not in SIGN_MODE_NAMES:
        raise CompileError(f"sign_mode {node.sign_mode} is not one of Lava's {SIGN_MODE_NAMES}", node=name)
    conn: dict[str, Any] = {
        "name": name, "source": source, "target": target, "weight_exp": int(node.weight_exp),
        "num_weight_bits": int(node.num_weight_bits), "sign_mode": SIGN_MODE_NAMES[int(node.sign_mode)],
        "num_message_bits": 0,
    }
    delays = getattr(node, "delays", None)
    delays = None if delays is None or not np.any(delays) else np.asarray(delays, np.int64)
    arrays: dict[str, np.ndarray] = {}
    size = int(np.prod(weights.shape))
    if size >= SPARSE_MIN_ENTRIES and w.count_nonzero(weights) <= SPARSE_DENSITY * size:
        rows, cols = w.nonzero(weights)
        arrays |= {f"{name}.rows": rows.astype(np.int32), f"{name}.cols": cols.astype(np.int32),
                   f"{name}.data": w.nonzero_values(weights).astype(np.int32)}
        conn["weights_coo"] = {"rows": f"{name}.rows", "cols": f"{name}.cols", "data": f"{name}.data",
                               "shape": list(weights.shape)}
        if delays is not None:
            arrays[f"{name}.delays"] = delays[rows, cols]
    else:
        arrays[f"{name}.weights"] = np.asarray(w.to_dense(weights), np.int32)
        conn["weights"] = f"{name}.weights"
        if delays is not None:
            arrays[f"{name}.delays"] = delays
    conn["delays"] = f"{name}.delays" if delays is not None else None
    return conn, arrays


def _only(graph: Graph, names: tuple[str, ...], name: str, what: str) -> str:
    if len(names) != 1:
        raise CompileError(f"{what} must have exactly one, has {len(names)}: {list(names)}", node=name)
    return names[0]


def emit_network(program: Any, spikes: Mapping[str, np.ndarray], record: tuple[str, ...] = ()) -> LavaNetwork:
    """The Lava description of ``program`` driven by ``spikes``.

    ``spikes`` maps each ``LoihiInput`` to binary spikes ``[B, n, T]`` (see
    ``spike_inputs``). ``record`` names neuron variables (``"v"``, ``"u"``,
    ``"s"``) to trace for every population, as ``"<population>.<var>"``.
    """
    graph = program_graph(program)
    batch, steps = next(iter(spikes.values())).shape[0], next(iter(spikes.values())).shape[2]
    pops: list[dict[str, Any]] = []
    conns: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    recordings: list[Recording] = []
    split_outputs: dict[str, list[Any]] = {}  # part -> outputs of its split layer (recorded per part, then gathered)
    for name, node in graph.items():
        sources = graph.predecessors(name)
        if node.kind == "LoihiOutput" and sources and "layer" in graph.nodes[sources[0]].metadata:
            for part in sources:
                split_outputs.setdefault(part, []).append(node)
    readout_vars: dict[str, list[str]] = {}  # population -> vars read-outs need (applied on the host afterwards)
    for name in readouts(graph):
        for source, var in source_recordings(graph, name):
            if graph.nodes[source].kind == "LoihiNeurons" and var not in readout_vars.setdefault(source, []):
                readout_vars[source].append(var)
    for name, node in graph.items():
        if node.kind == "LoihiInput":
            arrays[f"{name}.data"] = spikes[name]
            pops.append({"name": name, "kind": "source", "size": node.n, "arrays": {"data": f"{name}.data"}})
        elif node.kind == "LoihiNeurons":
            pop, pop_arrays = _population(name, node)
            pops.append(pop)
            arrays |= pop_arrays
            wanted = [var for var in STATE_VARS if var in record]
            wanted += [o.reads for o in split_outputs.get(name, []) if o.reads not in wanted]  # a split layer's output
            wanted += [var for var in readout_vars.get(name, []) if var not in wanted]  # a read-out's source
            recordings += [Recording(f"{name}.{var}", name, var, tuple(node.shape)) for var in wanted]
        elif node.kind == "Dense":
            source = _only(graph, graph.predecessors(name), name, "a Dense's source")
            target = _only(graph, graph.successors(name), name, "a Dense's target")
            conn, conn_arrays = _connection(name, node, source, target)
            conns.append(conn)
            arrays |= conn_arrays
        elif node.kind == "LoihiOutput" and not split_outputs.get(graph.predecessors(name)[0]):
            source = _only(graph, graph.predecessors(name), name, "an output's source")
            recordings.append(Recording(name, source, node.reads, tuple(node.shape)))
    description = {
        "format": FORMAT, "num_steps": int(steps), "batch": int(batch), "populations": pops, "connections": conns,
        "record": [{"population": r.population, "var": r.var, "key": r.key} for r in recordings],
    }
    return LavaNetwork(description, arrays, tuple(recordings))


def assemble_results(program: Any, flat: Mapping[str, np.ndarray], record: tuple[str, ...],
                     spikes: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The runner's ``[T, B, n]`` recordings as the reference executor returns them: outputs and
    ``"<layer>.<var>"`` traces, split layers back in layer order, each in its layer's shape.
    Read-outs are applied here, on the host, to the recorded sources (and ``spikes``, the inputs
    as given to ``emit_network``, ``[B, n, T]``), by the reference executor's own ``readout_values``."""
    graph = program_graph(program)
    out: dict[str, np.ndarray] = {}
    for name, node in graph.items():
        if node.kind == "LoihiOutput":
            out[name] = flat[name] if name in flat else gather_parts(graph, graph.predecessors(name), lambda p: flat[f"{p}.{node.reads}"])
        elif node.kind == "LoihiReadout":
            inputs = {k: np.asarray(v).transpose(2, 0, 1) for k, v in (spikes or {}).items()}
            out[name] = readout_values(graph, name, lambda p, var: inputs[p] if p in inputs else flat[f"{p}.{var}"])
    traces = {k: v for k, v in flat.items() if k not in graph.nodes and k.rpartition(".")[2] in record}
    out |= merge_part_traces(graph, traces)
    return {k: v.reshape(v.shape[:2] + (graph.nodes[k].shape if k in graph.nodes else layer_shape(graph, k.rpartition(".")[0])))
            for k, v in out.items()}


def spike_inputs(program: Any, inputs: Any) -> tuple[dict[str, np.ndarray], bool]:
    """Time-first inputs (``[T, *shape]`` or ``[T, B, *shape]``, one per LoihiInput,
    a bare array for a single input) as binary ``[B, n, T]`` int32, and whether
    they were batched."""
    graph = program_graph(program)
    shapes = {n: tuple(node.shape) for n, node in graph.items() if node.kind == "LoihiInput"}
    xs, batched, _ = time_first_inputs(inputs, shapes, binary=True, dtype=np.int32)
    out = {n: np.ascontiguousarray(x.reshape(*x.shape[:2], int(np.prod(shapes[n]))).transpose(1, 2, 0)) for n, x in xs.items()}
    return out, batched
