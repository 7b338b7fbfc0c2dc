"""sPyNNaker's own mapping beside spikec's, and PACMAN's compressors on spikec's tables.

    python bench/spynnaker_mapping.py [--sizes 200,1500,1500,100] [--density 0.1]

Needs the sPyNNaker venv (``python -m spikec.backends.toolenvs spynnaker``).
One network (Input -> IF -> LIF -> LIF, zero reset: what ``--emit-pynn``
expresses) is compiled by spikec for spinnaker1 (one SpiNN-5 board) and
emitted as a PyNN script; ``spynnaker_child.py`` runs that script with
``pyNN.spiNNaker`` on a virtual SpiNN-5 board (mapping only) and runs PACMAN's
pair compressor and ordered covering on spikec's uncompressed routing tables.
Prints cores, chips and routing entries per chip for both, and entry counts
and times of the compressors side by side.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import spikec
from spikec.backends import toolenvs
from spikec.backends.pynn.emit import write_pynn_script
from spikec.compiler.spinnaker.routing_check import routing_differences
from spikec.compiler.spinnaker.routing_compress import compress_table
from spikec.compiler.spinnaker.routing_table import RoutingEntry, RoutingTable
from spikec.compiler.spinnaker.compile import compile_event_tables
from spikec.compiler.spinnaker.delays import add_delay_extensions, extension_targets
from spikec.compiler.quantise_delays import delay_limits
from spikec.compiler.spinnaker.quantise import quantise_spinnaker
from spikec.compiler.spinnaker.keys import allocate_keys
from spikec.compiler.spinnaker.partition import partition
from spikec.compiler.spinnaker.place import place
from spikec.compiler.spinnaker.route import build_routing_tables, vertex_targets
from spikec.compiler.target import load_target
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LIF, Input, Linear, Output

CFG = "[Machine]\nvirtual_board = True\nversion = 5\n"


def network(sizes: tuple[int, ...], density: float, seed: int = 0, dt_s: float = 1e-3) -> Graph:
    rng = np.random.default_rng(seed)
    nodes, edges, prev = {"in": Input(shape=(sizes[0],))}, [], "in"
    for i, n in enumerate(sizes[1:]):
        w = rng.normal(0.3, 1.0, (n, sizes[i])) * (rng.random((n, sizes[i])) < density) * 4 / np.sqrt(density * sizes[i])
        nodes[f"w{i}"] = Linear(weight=w)
        nodes[f"l{i}"] = (IF(r=np.ones(n), v_threshold=np.full(n, 2.0), v_reset=np.zeros(n)) if i == 0 else
                          LIF(tau=rng.uniform(5e-3, 20e-3, n), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                              v_reset=np.zeros(n)))
        edges += [(prev, f"w{i}"), (f"w{i}", f"l{i}")]
        prev = f"l{i}"
    nodes["out"] = Output(shape=(sizes[-1],))
    edges.append((prev, "out"))
    return Graph(nodes, tuple(edges), {"dt_s": dt_s})


def uncompressed_tables(graph: Graph, target) -> dict:
    """spikec's routing tables before any compression (the compile's stages up to ``route``)."""
    machine = compile_event_tables(graph, target).artefacts.machine
    net, ext = add_delay_extensions(quantise_spinnaker(graph, None, max_delay=delay_limits(target).max_total),
                                    delay_limits(target))
    vertices = partition(net, machine.neurons_per_core, machine.synaptic_bytes_per_core)
    keys = allocate_keys(vertices)
    targets = vertex_targets(net, vertices)
    for src, exts in extension_targets(vertices, ext).items():
        targets[src] = tuple(sorted(set(targets.get(src, ())) | set(exts)))
    return build_routing_tables(machine, vertices, place(vertices, machine), keys, targets)


def _per_chip(program) -> dict[str, int]:
    counts: dict[str, int] = {}
    for core in program.artefacts["spinnaker"].artefacts.cores:
        key = f"{core.location[0]},{core.location[1]}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,1500,1500,100")
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    try:
        python = toolenvs.ensure("spynnaker")
    except toolenvs.ToolEnvironmentError as err:
        print(f"spikec: {err}")
        return {}
    sizes = tuple(int(s) for s in args.sizes.split(","))
    graph = network(sizes, args.density)
    target = load_target("spinnaker1")
    program = spikec.compile(graph, target, fidelity_steps=0)
    rep = program.report["spinnaker"]
    tables = uncompressed_tables(graph, target)
    ours = {}
    arrays = {}
    for chip, table in sorted(tables.items()):
        name = f"{chip[0]}_{chip[1]}"
        res = compress_table(table)
        ours[name] = {"entries": len(table), "compressed": len(res.table), "method": res.method, "seconds": res.seconds}
        arrays.update({f"key.{name}": np.array([e.key for e in table.entries], np.int64),
                       f"mask.{name}": np.array([e.mask for e in table.entries], np.int64),
                       f"route.{name}": np.array([e.route for e in table.entries], np.int64),
                       f"defaultable.{name}": np.array([e.defaultable for e in table.entries], bool)})
    with tempfile.TemporaryDirectory(prefix="spikec-spynnaker-") as tmp:
        folder = write_pynn_script(program, Path(tmp) / "pynn")
        np.savez(Path(tmp) / "tables.npz", **arrays)
        home = Path(tmp) / "home"
        home.mkdir()
        (home / ".spynnaker.cfg").write_text(CFG)
        t0 = time.perf_counter()
        done = subprocess.run([str(python), str(Path(__file__).with_name("spynnaker_child.py")), str(folder),
                               str(Path(tmp) / "tables.npz"), str(Path(tmp) / "out.json")],
                              cwd=tmp, env={**os.environ, "HOME": str(home)}, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            print("\n".join((done.stderr or done.stdout).strip().splitlines()[-15:]))
            raise SystemExit(1)
        theirs = json.loads((Path(tmp) / "out.json").read_text())
    sp = theirs["spynnaker"]
    neurons = sum(sizes[1:])
    print(f"network: {' -> '.join(map(str, sizes))} neurons, density {args.density}, "
          f"{sum(len(p) for p in program.artefacts['spinnaker'].network.projections)} synapses\n")
    print("| mapper | cores (network) | cores (all, with system cores) | chips (network) | routing entries before compression, largest chip | all chips |")
    print("|---|---|---|---|---|---|")
    print(f"| spikec | {rep['cores']} | {rep['cores']} | {rep['chips']} | "
          f"{max(v[0] for v in rep['routing_entries'].values())} | {sum(v[0] for v in rep['routing_entries'].values())} |")
    print(f"| sPyNNaker 7.4.1 (virtual SpiNN-5) | {sp['cores_network']} | {sp['cores_total']} | {sp['chips']} | "
          f"{max(sp['routing_entries'].values())} | {sum(sp['routing_entries'].values())} |")
    print(f"network cores per chip: spikec {_per_chip(program)}; sPyNNaker {sp['network_cores_per_chip']}")
    print(f"sPyNNaker after its pair compressor: largest {max(sp['routing_entries_pair'].values())}, "
          f"all {sum(sp['routing_entries_pair'].values())} entries ({sp['pair_seconds']:.3f} s); "
          f"child run {wall:.1f} s wall for {neurons} neurons")
    print("\nspikec's uncompressed tables, compressed by spikec and by PACMAN:\n")
    print("| chip | entries | spikec | spikec s | PACMAN pair | pair s | PACMAN ordered covering | OC s | PACMAN's equivalent (spikec's checker) |")
    print("|---|---|---|---|---|---|---|---|---|")
    pac = theirs["pacman_on_spikec"]
    for chip in sorted(ours, key=lambda c: -ours[c]["entries"]):
        o, p = ours[chip], pac[chip]
        original = tables[tuple(int(v) for v in chip.split("_"))]
        p["equivalent"] = all(not routing_differences(original, RoutingTable(tuple(RoutingEntry(k, m, r) for k, m, r in p[t]),
                                                                                original.chip))
                              for t in ("pair_table", "ordered_covering_table"))
        print(f"| {chip.replace('_', ',')} | {o['entries']} | {o['compressed']} | {o['seconds']:.4f} | {p['pair']} | "
              f"{p['pair_s']:.4f} | {p['ordered_covering']} | {p['ordered_covering_s']:.4f} | {'yes' if p['equivalent'] else 'NO'} |")
    tot = lambda d, k: sum(v[k] for v in d.values())
    print(f"| all | {tot(ours, 'entries')} | {tot(ours, 'compressed')} | {tot(ours, 'seconds'):.4f} | {tot(pac, 'pair')} | "
          f"{tot(pac, 'pair_s'):.4f} | {tot(pac, 'ordered_covering')} | {tot(pac, 'ordered_covering_s'):.4f} | "
          f"{'yes' if all(p['equivalent'] for p in pac.values()) else 'NO'} |")
    figures = {"sizes": sizes, "spikec": rep, "spikec_compress": ours, "spikec_cores_per_chip": _per_chip(program), **theirs}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, sort_keys=True, default=str))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
