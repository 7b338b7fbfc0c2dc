"""How closely NEST (float64) reproduces spikec's SpiNNaker reference (s16.15) on random graphs.

    python bench/pynn_nest_agreement.py [--graphs 20] [--steps 100]

Needs the NEST venv (``python -m spikec.backends.pynn --setup``). Random graphs
(``GraphSpec.small`` limited to what ``--emit-pynn`` expresses: LIF/IF hidden
layers with zero reset, LI/LIF/IF read-outs, dt = 1 ms) are compiled for
spinnaker1, emitted as PyNN scripts and run on NEST 3.10; per graph, spikes
of every population are compared with the reference executor's: spikes in
each, the fraction at the same step, and LI read-outs' largest |dv| relative
to the trace's largest |v|.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import spikec
from spikec.backends import toolenvs
from spikec.backends.pynn.runner import run_pynn
from spikec.verification.pynn_agreement import agreement, reference_rasters
from spikec.verification.random_graphs import GraphSpec, random_graph, random_input
from spikec.ir.errors import CompileError

SPEC = GraphSpec.small().with_(neuron_types=("LIF", "IF"), readout_types=("LI", "LIF", "IF"), resets=("zero",),
                               p_reset_delay=0.0, p_reset_recheck=0.0, dt_s=(1e-3,))


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args(argv)
    try:
        toolenvs.ensure("nest")
    except toolenvs.ToolEnvironmentError as err:
        print(f"spikec: {err}")
        return []
    rows = []
    print("| seed | neurons | spikes spikec | spikes NEST | same step | graphs' LIF pops equal | LI max rel dv |")
    print("|---|---|---|---|---|---|---|")
    for seed in range(args.graphs):
        graph = random_graph(seed, SPEC.with_(steps=args.steps))
        try:
            program = spikec.compile(graph, "spinnaker1", fidelity_steps=0)
        except CompileError as err:
            print(f"| {seed} | compile refused: {err} |")
            continue
        x = random_input(graph, seed)
        nest, ref = run_pynn(program, x), reference_rasters(program, x)
        spk_ref = spk_nest = same = 0
        equal_pops, pops, rel_dv = 0, 0, 0.0
        for pop, r in ref.items():
            if pop.startswith("v."):
                rel_dv = max(rel_dv, float(np.abs(nest[pop] - r).max()) / max(float(np.abs(r).max()), 1e-12))
                continue
            a = agreement(r, nest[pop])
            spk_ref, spk_nest = spk_ref + a.spikes_a, spk_nest + a.spikes_b
            same += int(((np.asarray(r) > 0) & (np.asarray(nest[pop]) > 0)).sum())
            pops += 1
            equal_pops += int(np.array_equal(np.asarray(r) > 0, np.asarray(nest[pop]) > 0))
        neurons = sum(v.shape[-1] for k, v in ref.items() if not k.startswith("v."))
        frac = same / max(spk_ref, spk_nest, 1)
        rows.append({"seed": seed, "spikes_ref": spk_ref, "spikes_nest": spk_nest, "same": frac, "rel_dv": rel_dv})
        print(f"| {seed} | {neurons} | {spk_ref} | {spk_nest} | {100 * frac:.2f}% | {equal_pops}/{pops} | {rel_dv:.2e} |",
              flush=True)
    if rows:
        tot_ref = sum(r["spikes_ref"] for r in rows)
        worst = min(r["same"] for r in rows)
        print(f"\n{len(rows)} graphs, {tot_ref} reference spikes; worst graph {100 * worst:.2f}% at the same step; "
              f"{sum(r['spikes_ref'] == r['spikes_nest'] and r['same'] == 1.0 for r in rows)} graphs identical; "
              f"largest LI relative |dv| {max(r['rel_dv'] for r in rows):.2e}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
