"""Run a spikec SpiNNaker program with PyNN (written by ``spikec compile --emit-pynn``).

    python run_pynn.py --simulator nest          # here: NEST 3.10 (pip install pynn nest-simulator)
    python run_pynn.py --simulator spiNNaker     # on a SpiNNaker machine (pip install spynnaker)

Needs only numpy and PyNN; reads ``network.npz`` beside this file (or
``--data``), input spikes from it or ``--input FILE.npz`` (``input.<source>``
arrays ``[T, n]`` of 0/1), and writes ``--out`` (default ``spikes.npz``):
``spikes.<population>`` ``[T, n]`` rasters and ``v.<population>`` traces of
LI read-outs, both in graph steps, as spikec's reference executor reports them.

Timing: spikec's tick k is the update that ends at NEST time stamp k + 1; the
whole run is shifted one tick later (``OFFSET``) so a bias source can fire
before tick 0. A spike at tick k with a delay of d ticks is integrated at tick
k + d, as on SpiNNaker. sPyNNaker stamps a spike with the tick it happens in
(one earlier than NEST), which ``STAMP`` accounts for; that convention is
taken from sPyNNaker's documentation and is not checked on hardware here.
"""
import argparse
import json
import os

import numpy as np

OFFSET = 1
STAMP = {"nest": 1, "spiNNaker": 0}  # time stamp of tick k is (k + OFFSET + STAMP) * dt
# sPyNNaker holds tau_m and voltages in s16.15 (below 2^16): a neuron that does not decay gets the largest tau_m
# (its decay exp(-dt/tau_m) then rounds to 1.0 for dt >= 1 ms) and a read-out that never fires a threshold it holds.
LIMIT = {"nest": float("inf"), "spiNNaker": 65535.0}


def main(argv=None, after_run=None):
    """Build, run, save; ``after_run(sim, populations)`` (for mapping studies) is called after ``sim.run``
    and, if it returns True, ends the run without reading recordings (a virtual machine has none)."""
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulator", choices=sorted(STAMP), default="nest")
    ap.add_argument("--data", default=os.path.join(here, "network.npz"))
    ap.add_argument("--input", default=None, help="npz of input.<source> [T, n] spikes (default: the data file's)")
    ap.add_argument("--out", default="spikes.npz")
    args = ap.parse_args(argv)

    data = np.load(args.data)
    meta = json.loads(str(data["meta"]))
    inputs = np.load(args.input) if args.input else data
    dt = float(meta["dt_ms"])
    lead = OFFSET + STAMP[args.simulator]
    sources = [p for p in meta["populations"] if p["source"]]
    steps = int(inputs[f"input.{sources[0]['name']}"].shape[0])
    ticks = steps + int(meta["ticks_before_output"])

    if args.simulator == "nest":
        import pyNN.nest as sim

        if not hasattr(sim.IF_curr_delta, "variable_map"):  # PyNN 0.13.0 omits it: 'v' then neither records nor initialises
            sim.IF_curr_delta.variable_map = {"v": "V_m"}
    else:
        import pyNN.spiNNaker as sim
    max_delay = max([p["delay_ms"] for p in meta["projections"]] + [dt])
    if args.simulator == "nest":  # on-grid spikes: iaf_psc_delta, not the precise-timing iaf_psc_delta_ps
        sim.setup(timestep=dt, min_delay=dt, max_delay=max_delay + dt, spike_precision="on_grid")
    else:
        sim.setup(timestep=dt, min_delay=dt, max_delay=max_delay + dt)

    pops = {}
    for p in meta["populations"]:
        name, n = p["name"], int(p["size"])
        if p["source"]:
            x = inputs[f"input.{name}"].reshape(steps, n)
            times = [[(t + p["start_tick"] + lead) * dt for t in np.flatnonzero(x[:, i])] for i in range(n)]
            pops[name] = sim.Population(n, sim.SpikeSourceArray(spike_times=times), label=name)
            continue
        limit = LIMIT[args.simulator]
        cells = sim.IF_curr_delta(
            tau_m=np.minimum(data[f"tau_m.{name}"], limit), cm=1.0, v_rest=0.0, v_reset=data[f"v_reset.{name}"],
            v_thresh=np.minimum(data[f"v_thresh.{name}"], limit / 2), tau_refrac=0.0, i_offset=0.0)
        pops[name] = sim.Population(n, cells, initial_values={"v": 0.0}, label=name)
        pops[name].record(["spikes", "v"] if p.get("record_v") else "spikes")

    def connect(pre, post, pre_index, post_index, weight, delay_ms):
        for receptor, sel in (("excitatory", weight > 0), ("inhibitory", weight < 0)):
            if not sel.any():
                continue
            w = weight[sel] if args.simulator == "nest" else np.abs(weight[sel])
            conns = [(int(i), int(j), float(v), float(delay_ms)) for i, j, v in zip(pre_index[sel], post_index[sel], w)]
            sim.Projection(pre, post, sim.FromListConnector(conns, column_names=["weight", "delay"]),
                           synapse_type=sim.StaticSynapse(), receptor_type=receptor)

    for proj in meta["projections"]:
        k = proj["key"]
        connect(pops[proj["pre"]], pops[proj["post"]], data[f"{k}.pre"], data[f"{k}.post"], data[f"{k}.weight"],
                proj["delay_ms"])
    for b in meta["biases"]:  # fires every tick from first_tick - 1 on; delay 1: adds the bias at first_tick..
        times = [(t + lead) * dt for t in range(int(b["first_tick"]) - 1, ticks - 1)]
        src = sim.Population(1, sim.SpikeSourceArray(spike_times=[times]), label=b["key"])
        w = data[b["key"]]
        n = w.shape[0]
        connect(src, pops[b["post"]], np.zeros(n, dtype=np.int64), np.arange(n), w, dt)

    sim.run((ticks + lead + 1) * dt)
    if after_run is not None and after_run(sim, pops):
        sim.end()
        return None
    out = {}
    for p in meta["populations"]:
        if p["source"]:
            continue
        name, n, start = p["name"], int(p["size"]), int(p["start_tick"])
        block = pops[name].get_data().segments[0]
        raster = np.zeros((steps, n), dtype=np.uint8)
        for i, train in enumerate(block.spiketrains):
            index = int(train.annotations.get("source_index", i))
            local = np.rint(np.asarray(train.rescale("ms").magnitude) / dt).astype(np.int64) - lead - start
            local = local[(local >= 0) & (local < steps)]
            raster[local, index] = 1
        out[f"spikes.{name}"] = raster
        if p.get("record_v"):
            sig = block.filter(name="v")[0]
            times = np.rint(np.asarray(sig.times.rescale("ms").magnitude) / dt).astype(np.int64) - lead - start
            values = np.asarray(sig.magnitude, dtype=np.float64)
            trace = np.zeros((steps, n))
            keep = (times >= 0) & (times < steps)
            trace[times[keep]] = values[keep]
            out[f"v.{name}"] = trace
    sim.end()
    np.savez(args.out, **out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {int(v.sum())}" for k, v in out.items() if k.startswith("spikes.")))


if __name__ == "__main__":
    main()
