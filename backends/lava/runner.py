"""Build a spikec network description as Lava processes, run it, write the recordings.

Standalone: runs in the Lava environment (Python 3.10, numpy < 2,
lava-nc 0.10.0; stdlib + numpy + scipy + lava only, no spikec)::

    <lava python> runner.py DIR

``DIR`` holds ``network.json`` (the description written by ``emit.py``) and
``arrays.npz`` (its arrays). The runner writes ``DIR/results.npz`` (one array
per recording, keyed as the description says) or, on failure,
``DIR/error.json`` with the message and traceback, and exits 1.

The description (``"format": "spikec-lava/1"``)::

    num_steps   int
    batch       int, samples laid side by side (see below)
    populations [{name, kind, size, params{...scalars}, arrays{param: npz key}}]
                kind: "source" (RingBuffer; arrays.data is (batch, size, num_steps) int32),
                      "LIF" (lava.proc.lif.process.LIF),
                      "SpikecLIF" (lava_processes.SpikecLIF)
    connections [{name, source, target, weights: npz key (out, in) int,
                  or weights_coo: {rows, cols, data: npz keys, shape: [out, in]}
                  (convolutions, pooling: always Sparse), delays: npz key or null
                  (same shape as weights, or per COO entry), weight_exp, num_weight_bits,
                  sign_mode: "MIXED"|"EXCITATORY"|"INHIBITORY", num_message_bits,
                  sparse: bool}]
                  -> lava.proc.dense Dense/DelayDense or lava.proc.sparse Sparse/DelaySparse
    record      [{population, var: "s"|"v"|"u", key}]

Batches are vectorised: every population holds ``batch`` copies of its neurons
(sample b's neuron i is index ``b * size + i``), every connection's matrix is
block-diagonal over samples (Sparse, so memory grows with the batch, not its
square). Lava's per-process ``du``/``dv``/``vth`` are shared by all copies
anyway. One Lava compile and one run serve the whole batch.
"""
import json
import os
import sys
import threading
import time
import traceback
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

FORMAT = "spikec-lava/1"

# Lava looks for process models by executing every module beside a Process's
# own, and warns about each spikec module it cannot import here: not a problem.
warnings.filterwarnings("ignore", message="Cannot import module", category=UserWarning)


def _tile(values, batch):
    """Per-neuron values repeated for every sample (scalars stay scalars)."""
    values = np.asarray(values)
    return values if values.ndim == 0 or batch == 1 else np.tile(values, batch)


def build_population(pop, arrays, batch, num_steps):
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava_processes import SpikecLIF

    size = int(pop["size"]) * batch
    params = dict(pop.get("params", {}))
    for param, key in pop.get("arrays", {}).items():
        params[param] = arrays[key]
    name = pop["name"]
    if pop["kind"] == "source":
        data = np.asarray(params.pop("data"), dtype=np.int32)  # (batch, size, T)
        if data.shape != (batch, int(pop["size"]), num_steps):
            raise ValueError("source %r: data shape %s, expected %s"
                             % (name, data.shape, (batch, pop["size"], num_steps)))
        return RingBuffer(data=data.reshape(size, num_steps))
    per_neuron = {k: _tile(v, batch) for k, v in params.items()
                  if k in ("bias_mant", "bias_exp", "u", "v", "v_reset")}
    scalars = {k: v for k, v in params.items() if k not in per_neuron}
    if pop["kind"] == "LIF":
        return LIF(shape=(size,), name=name, **per_neuron, **scalars)
    if pop["kind"] == "SpikecLIF":
        return SpikecLIF(shape=(size,), name=name, **per_neuron, **scalars)
    raise ValueError("population %r: unknown kind %r" % (name, pop["kind"]))


def block_diagonal(matrix, batch):
    from scipy.sparse import block_diag, csr_matrix

    if batch == 1:
        return csr_matrix(matrix)
    return block_diag([csr_matrix(matrix)] * batch, format="csr")


def connection_matrices(conn, arrays):
    """(weights, delays or None, is_coo): dense arrays, or scipy COO matrices."""
    from scipy.sparse import coo_matrix

    coo = conn.get("weights_coo")
    if coo is None:
        weights = np.asarray(arrays[conn["weights"]], dtype=np.int32)
        delays = arrays[conn["delays"]].astype(np.int64) if conn.get("delays") else None
        return weights, delays, False
    rows, cols = arrays[coo["rows"]], arrays[coo["cols"]]
    shape = tuple(int(v) for v in coo["shape"])
    weights = coo_matrix((arrays[coo["data"]].astype(np.int32), (rows, cols)), shape=shape).tocsr()
    delays = None
    if conn.get("delays"):
        delays = coo_matrix((arrays[conn["delays"]].astype(np.int64), (rows, cols)), shape=shape).tocsr()
    return weights, delays, True


def build_connection(conn, arrays, batch):
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse
    from lava.utils.weightutils import SignMode

    weights, delays, is_coo = connection_matrices(conn, arrays)
    kwargs = dict(
        weight_exp=int(conn["weight_exp"]),
        num_weight_bits=int(conn["num_weight_bits"]),
        sign_mode=SignMode[conn["sign_mode"]],
        num_message_bits=int(conn.get("num_message_bits", 0)),
        name=conn["name"],
    )
    sparse = bool(conn.get("sparse")) or is_coo or batch > 1
    if not sparse:
        if delays is None:
            return Dense(weights=weights, **kwargs)
        return DelayDense(weights=weights, delays=delays, **kwargs)
    w = block_diagonal(weights, batch)
    if delays is None:
        return Sparse(weights=w, **kwargs)
    if not is_coo:  # DelaySparse needs the delays at the positions of the weights
        delays = np.where(weights != 0, delays, 0)
    d = block_diagonal(delays, batch)
    return DelaySparse(weights=w, delays=d, max_delay=int(d.max()), **kwargs)


def build_network(desc, arrays, out_dir):
    """All processes, connected; returns (processes by name, recorder files)."""
    from lava_processes import SpikeRecorder, StateRecorder

    batch, num_steps = int(desc["batch"]), int(desc["num_steps"])
    pops = {p["name"]: build_population(p, arrays, batch, num_steps) for p in desc["populations"]}
    conns = []
    for conn in desc["connections"]:
        proc = build_connection(conn, arrays, batch)
        pops[conn["source"]].s_out.connect(proc.s_in)
        proc.a_out.connect(pops[conn["target"]].a_in)
        conns.append(proc)
    conns += link_components(desc, pops)
    files = {}
    recorders = []
    for i, rec in enumerate(desc["record"]):
        pop = pops[rec["population"]]
        path = os.path.join(out_dir, "record_%d.npy" % i)
        if rec["var"] == "s":
            sink = SpikeRecorder(shape=pop.s_out.shape, num_steps=num_steps, path=path)
            pop.s_out.connect(sink.a_in)
        else:
            sink = StateRecorder(var=getattr(pop, rec["var"]), num_steps=num_steps, path=path)
        recorders.append(sink)
        files[rec["key"]] = (path, int(pop_size(desc, rec["population"])))
    return pops, conns, recorders, files


def link_components(desc, pops):
    """Join disconnected parts of the network with all-zero Sparse connections.

    Lava compiles and runs only the processes connected to the one ``run`` is
    called on; a program made of independent sub-networks would otherwise
    leave all but one silently unrun. A zero matrix adds exactly 0 to its
    target's input, so results are unchanged.
    """
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    parent = {name: name for name in pops}

    def root(name):
        while parent[name] != name:
            name = parent[name]
        return name

    for conn in desc["connections"]:
        parent[root(conn["source"])] = root(conn["target"])
    first = desc["populations"][0]
    linked = {root(first["name"])}
    links = []
    for pop in desc["populations"]:
        if root(pop["name"]) in linked or pop["kind"] == "source":
            continue
        linked.add(root(pop["name"]))
        batch = int(desc["batch"])
        zeros = csr_matrix((int(pop["size"]) * batch, int(first["size"]) * batch), dtype=np.int32)
        proc = Sparse(weights=zeros, sign_mode=SignMode.EXCITATORY, name="link:%s->%s" % (first["name"], pop["name"]))
        pops[first["name"]].s_out.connect(proc.s_in)
        proc.a_out.connect(pops[pop["name"]].a_in)
        links.append(proc)
    return links


def pop_size(desc, name):
    return next(p["size"] for p in desc["populations"] if p["name"] == name)


def write_error(out_dir, kind, message, trace):
    with open(os.path.join(out_dir, "error.json"), "w") as fh:
        json.dump({"type": kind, "message": message, "traceback": trace}, fh)


def report_model_errors(out_dir):
    """Make a failing Lava process model report its exception instead of hanging.

    Lava 0.10.0 does not fail when a process model raises: the model, inside
    its ``except`` block, calls ``join()`` on its ports, which waits for peers
    that wait for it; the runtime then joins every model process. Nothing
    returns. The model processes are forked from this one, so a ``join``
    wrapped here runs in them: called while an exception is being handled, it
    writes ``error.json`` and ends that model process. ``watch_for_errors``
    (a thread of the runner) sees the file and ends the runner; the parent
    then ends the rest of the process group.
    """
    from lava.magma.core.model.py.model import AbstractPyProcessModel

    original_join = AbstractPyProcessModel.join

    def join(self):
        failure = sys.exc_info()[1]
        if failure is not None:
            write_error(out_dir, type(failure).__name__,
                        "in Lava process model %s: %s" % (type(self).__name__, failure), traceback.format_exc())
            os._exit(1)
        return original_join(self)

    AbstractPyProcessModel.join = join


def watch_for_errors(out_dir, done):
    while not done.wait(0.2):
        if os.path.exists(os.path.join(out_dir, "error.json")):
            os._exit(1)


def run_network(desc, arrays, out_dir):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    if desc.get("format") != FORMAT:
        raise ValueError("unsupported description format %r (runner reads %r)" % (desc.get("format"), FORMAT))
    batch, num_steps = int(desc["batch"]), int(desc["num_steps"])
    t0 = time.perf_counter()
    pops, conns, recorders, files = build_network(desc, arrays, out_dir)
    anchor = next(iter(pops.values()))
    t1 = time.perf_counter()
    report_model_errors(out_dir)
    done = threading.Event()
    threading.Thread(target=watch_for_errors, args=(out_dir, done), daemon=True).start()
    try:
        anchor.run(condition=RunSteps(num_steps=num_steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    finally:
        done.set()
        t2 = time.perf_counter()
        anchor.stop()
    t3 = time.perf_counter()
    results = {}
    for key, (path, size) in files.items():
        trace = np.load(path)  # (T, batch * size)
        results[key] = trace.reshape(num_steps, batch, size)
    results["_timing_s"] = np.array([t1 - t0, t2 - t1, t3 - t2])  # build, compile+run, stop
    return results


def main(argv):
    if len(argv) != 2:
        print("usage: runner.py DIR", file=sys.stderr)
        return 2
    out_dir = argv[1]
    try:
        with open(os.path.join(out_dir, "network.json")) as fh:
            desc = json.load(fh)
        with np.load(os.path.join(out_dir, "arrays.npz")) as npz:
            arrays = {k: npz[k] for k in npz.files}
        results = run_network(desc, arrays, out_dir)
        np.savez(os.path.join(out_dir, "results.npz"), **results)
    except BaseException as err:  # report everything to the parent, then fail
        write_error(out_dir, type(err).__name__, str(err), traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
