"""Runs inside the sPyNNaker venv (``python -m spikec.backends.toolenvs spynnaker``); started by spynnaker_mapping.py.

    python spynnaker_child.py PYNN_FOLDER SPIKEC_TABLES.npz OUT.json

1. Runs the emitted PyNN script with ``pyNN.spiNNaker`` on a virtual SpiNN-5
   board (``virtual_board = True`` in the ``.spynnaker.cfg`` the parent puts in
   ``$HOME``): sPyNNaker partitions, places, allocates keys and routes as for
   a real machine, then stops before loading. Reports its cores, chips and
   routing entries per chip (uncompressed, and after PACMAN's pair compressor).
2. Runs PACMAN's pair compressor and ordered covering on spikec's uncompressed
   tables (imports nothing from spikec: the tables arrive as arrays).
"""
import json
import sys
import time
from collections import Counter


def _pacman_on_spikec_tables(path):
    import numpy as np
    from pacman.model.routing_tables import UnCompressedMulticastRoutingTable
    from pacman.operations.router_compressors.ordered_covering_router_compressor.ordered_covering import ordered_covering
    from pacman.operations.router_compressors.ordered_covering_router_compressor.utils import remove_default_routes
    from pacman.operations.router_compressors.pair_compressor import _PairCompressor
    from spinn_machine import MulticastRoutingEntry, RoutingEntry

    data = np.load(path)
    chips = sorted({k.split(".")[1] for k in data.files})
    out = {}
    for chip in chips:
        keys, masks, routes, dflt = (data[f"{f}.{chip}"] for f in ("key", "mask", "route", "defaultable"))
        x, y = (int(v) for v in chip.split("_"))
        entries = [MulticastRoutingEntry(int(k), int(m), RoutingEntry(spinnaker_route=int(r), defaultable=bool(d)))
                   for k, m, r, d in zip(keys, masks, routes, dflt)]
        table = UnCompressedMulticastRoutingTable(x, y)
        for e in entries:
            table.add_multicast_routing_entry(e)
        t0 = time.perf_counter()
        paired = _PairCompressor(ordered=True, accept_overflow=True).compress_table(table)
        t_pair = time.perf_counter() - t0
        t0 = time.perf_counter()
        covered, _ = ordered_covering(routing_table=entries, target_length=None, aliases={}, no_raise=True)
        covered = remove_default_routes(covered, None)
        t_oc = time.perf_counter() - t0
        as_list = lambda es: [[int(e.key), int(e.mask), int(e.spinnaker_route)] for e in es]
        out[chip] = {"entries": len(entries), "pair": len(paired), "pair_s": t_pair,
                     "ordered_covering": len(covered), "ordered_covering_s": t_oc,
                     "pair_table": as_list(paired), "ordered_covering_table": as_list(covered)}
    return out


def main(folder, tables, out_path):
    sys.path.insert(0, folder)
    import run_pynn  # the emitted script

    result = {}

    def collect(sim, pops):
        from pacman.data import PacmanDataView as V
        from pacman.operations.router_compressors.pair_compressor import pair_compressor

        ours = {p.label for p in pops.values()}
        cores, network_cores = Counter(), Counter()
        for pl in V.iterate_placemements():
            cores[(pl.x, pl.y)] += 1
            app = getattr(pl.vertex, "app_vertex", None)
            label = getattr(app, "label", None) or pl.vertex.label or ""
            if any(label == o or label.startswith(o + "_") for o in ours):
                network_cores[(pl.x, pl.y)] += 1
        uncompressed = {f"{t.x},{t.y}": t.number_of_entries for t in V.get_uncompressed().routing_tables}
        t0 = time.perf_counter()
        compressed = pair_compressor(ordered=True, accept_overflow=True)
        seconds = time.perf_counter() - t0
        result["spynnaker"] = {
            "cores_total": sum(cores.values()), "cores_network": sum(network_cores.values()),
            "chips": len(network_cores), "chips_with_any_core": len(cores),
            "network_cores_per_chip": {f"{x},{y}": n for (x, y), n in sorted(network_cores.items())},
            "machine_vertices": V.get_n_machine_vertices(),
            "routing_entries": uncompressed,
            "routing_entries_pair": {f"{t.x},{t.y}": t.number_of_entries for t in compressed.routing_tables},
            "pair_seconds": seconds,
        }
        result["pacman_on_spikec"] = _pacman_on_spikec_tables(tables)
        return True

    t0 = time.perf_counter()
    run_pynn.main(["--simulator", "spiNNaker", "--data", f"{folder}/network.npz", "--out", "/dev/null"], after_run=collect)
    result["seconds"] = time.perf_counter() - t0
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
