"""Write the seed corpus of hostile files: ``python tests/fuzz_corpus/make_corpus.py``.

Each file is a small real graph (``two_lif_neurons.nir`` of the NIR paper, or
a minimal one built here) with one hostile change, or a hardware config with
one. ``expected.json`` maps each file name to a fragment the error message
must contain, so a test fails if the file is ever accepted or rejected for
the wrong reason. Deterministic: running it twice gives the same files (up to
HDF5's own timestamps). The whole corpus stays far below 1 MB: huge sizes are
declared, never written.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fuzz.nir_mutations import ExternalLink, HardLink, Huge, SoftLink, write_tree  # noqa: E402

from spikec.ir.nodes import MAX_ARRAY_ELEMENTS, MAX_NODE_ELEMENTS  # noqa: E402

E = lambda *pairs: np.array([[a.encode(), b.encode()] for a, b in pairs], dtype=object)  # noqa: E731


def lif_graph(**changes) -> dict:
    """input(2) -> linear -> lif(2) -> output, with ``changes`` merged into the node groups."""
    nodes = {
        "in": {"type": b"Input", "shape": np.array([2])},
        "lin": {"type": b"Linear", "weight": np.eye(2)},
        "lif": {"type": b"LIF", "tau": np.full(2, 1e-2), "r": np.ones(2), "v_leak": np.zeros(2),
                "v_threshold": np.ones(2), "v_reset": np.zeros(2)},
        "out": {"type": b"Output", "shape": np.array([2])},
    }
    for name, change in changes.items():
        if change is None:
            del nodes[name]
        elif not isinstance(change, dict):
            nodes[name] = change
        else:
            nodes.setdefault(name, {}).update(change)
    return {"version": "1.0.8", "node": {"type": b"NIRGraph", "nodes": nodes,
                                          "edges": E(("in", "lin"), ("lin", "lif"), ("lif", "out"))}}


def without(tree: dict, node: str, key: str) -> dict:
    del tree["node"]["nodes"][node][key]
    return tree


def chain(*layers: tuple[str, dict], shape=(2, 8, 8)) -> dict:
    nodes = {"in": {"type": b"Input", "shape": np.array(shape)}}
    names = ["in"]
    for name, node in layers:
        nodes[name] = node
        names.append(name)
    nodes["out"] = {"type": b"Output", "shape": np.array([1])}
    names.append("out")
    return {"version": "1.0.8", "node": {"type": b"NIRGraph", "nodes": nodes,
                                          "edges": E(*zip(names[:-1], names[1:]))}}


def conv(**kw) -> dict:
    base = {"type": b"Conv2d", "weight": np.ones((4, 2, 3, 3)), "bias": np.zeros(4), "stride": np.array([1, 1]),
            "padding": np.array([1, 1]), "dilation": np.array([1, 1]), "groups": np.array(1),
            "input_shape": np.array([8, 8])}
    return {**base, **kw}


def nir_cases() -> dict[str, tuple[dict, str]]:
    huge = 10**9
    cases: dict[str, tuple[dict, str]] = {
        "huge_input_shape.nir": (chain(("lif", {"type": b"LIF", "tau": np.array(1e-2), "r": np.array(1.0), "v_leak": np.array(0.0),
                                                "v_threshold": np.array(1.0), "v_reset": np.array(0.0)}), shape=(huge, huge)),
                                 f"limit is {MAX_NODE_ELEMENTS}"),
        "huge_conv_input_shape.nir": (chain(("c", conv(input_shape=np.array([10**6, 10**6]))), ("f", {"type": b"Flatten", "start_dim": np.array(0), "end_dim": np.array(-1)})),
                                      f"limit is {MAX_NODE_ELEMENTS}"),
        "huge_flatten.nir": (chain(("f", {"type": b"Flatten", "start_dim": np.array(0), "end_dim": np.array(-1),
                                          "input_type": np.array([10**6, 10**6, 10**6])})), f"limit is {MAX_NODE_ELEMENTS}"),
        "huge_declared_weight.nir": (lif_graph(lin={"weight": Huge((10**9, 10**9))}), f"limit is {MAX_ARRAY_ELEMENTS} elements"),
        "huge_declared_tau.nir": (lif_graph(lif={"tau": Huge((10**12,))}), f"limit is {MAX_ARRAY_ELEMENTS} elements"),
        "huge_declared_edges.nir": ({"node": {**lif_graph()["node"], "edges": Huge((10**10, 2), "S8")}}, "limit is"),
        "nan_tau.nir": (lif_graph(lif={"tau": np.array([np.nan, 1e-2])}), "tau is not finite"),
        "inf_weight.nir": (lif_graph(lin={"weight": np.array([[np.inf, 0], [0, 1]])}), "weight is not finite"),
        "zero_tau.nir": (lif_graph(lif={"tau": np.zeros(2)}), "must be positive"),
        "negative_tau.nir": (lif_graph(lif={"tau": np.full(2, -1e-3)}), "must be positive"),
        "string_weight.nir": (lif_graph(lin={"weight": "not an array"}), "weight has the wrong type"),
        "complex_weight.nir": (lif_graph(lin={"weight": np.eye(2) * (1 + 1j)}), "weight has the wrong type"),
        "object_weight.nir": (lif_graph(lin={"weight": np.array([[1.0, 2.0], [3.0]], dtype=object)}), "weight has the wrong type"),
        "string_shape.nir": (lif_graph(**{"in": {"shape": "2"}}), "shape has the wrong type"),
        "fractional_shape.nir": (lif_graph(**{"in": {"shape": np.array([2.5])}}), "must be at most 8 integers"),
        "negative_shape.nir": (lif_graph(**{"in": {"shape": np.array([-2])}}), "dimension below 1"),
        "mismatched_shapes.nir": (lif_graph(lin={"weight": np.ones((3, 2))}), "shape mismatch"),
        "one_d_weight.nir": (lif_graph(lin={"weight": np.ones(2)}), "(out, in) matrix"),
        "affine_bad_bias.nir": (lif_graph(lin={"type": b"Affine", "weight": np.ones((2, 2)), "bias": np.ones((2, 2))}), "bias of shape"),
        "missing_node.nir": (lif_graph(lin=None), "does not exist"),
        "missing_param.nir": (without(lif_graph(), "lif", "tau"), "lacks its 'tau'"),
        "dangling_edge.nir": ({"node": {**lif_graph()["node"], "edges": E(("in", "lin"), ("lin", "lif"), ("lif", "out"), ("ghost", "lif"))}},
                              "does not exist"),
        "unknown_type.nir": (lif_graph(lin={"type": b"Quantum"}), "unknown or unsupported NIR primitive"),
        "unknown_key.nir": (lif_graph(lin={"frobnicate": np.ones(1)}), "unknown key 'frobnicate'"),
        "cycle_without_state.nir": ({"node": {**lif_graph(lin2={"type": b"Linear", "weight": np.eye(2)})["node"],
                                              "edges": E(("in", "lin"), ("lin", "lin2"), ("lin2", "lin"), ("lin", "lif"), ("lif", "out"))}},
                                    "no stateful node"),
        "stateless_self_loop.nir": ({"node": {**lif_graph()["node"],
                                              "edges": E(("in", "lin"), ("lin", "lif"), ("lif", "lin"), ("lin", "lin"), ("lif", "out"))}},
                                    "cycle lin has no stateful node"),
        "empty_graph.nir": ({"node": {"type": b"NIRGraph", "nodes": {}, "edges": np.zeros((0, 2), dtype=object)}}, "no Input node"),
        "no_node_group.nir": ({"version": "1.0.8"}, "not a NIR file"),
        "recursive_subgraph.nir": (lif_graph(sub=HardLink("/node")), "already read"),
        "soft_link.nir": (lif_graph(sub=SoftLink("/nowhere")), "SoftLink"),
        "external_link.nir": (lif_graph(sub=ExternalLink("/etc/passwd", "/x")), "ExternalLink"),
        "odd_metadata_reset.nir": (lif_graph(lif={"metadata": {"spikec.reset": np.array([1.0, 2.0])}}), "spikec.reset must be"),
        "odd_metadata_reset_delay.nir": (lif_graph(lif={"metadata": {"spikec.reset_delay": "yes"}}), "reset_delay must be a boolean"),
        "odd_metadata_delay_linear.nir": (lif_graph(lin={"metadata": {"spikec.delay_linear": "x"}}), "not Delay -> Linear pairs"),
        "odd_graph_dt.nir": ({"version": "1.0.8", "node": {**lif_graph()["node"], "metadata": {"dt_s": "fast"}}}, "dt_s must be a positive"),
        "non_utf8_metadata.nir": (lif_graph(lif={"metadata": {"note": b"\xff\xfe"}}), "not UTF-8"),
        "conv_zero_stride.nir": (chain(("c", conv(stride=np.array([0, 0])))), "stride must be"),
        "conv_bad_groups.nir": (chain(("c", conv(groups=np.array(3)))), "groups must be"),
        "conv_bad_padding.nir": (chain(("c", conv(padding="sideways"))), "wrong type"),
        "flatten_bad_dims.nir": (chain(("f", {"type": b"Flatten", "start_dim": np.array(5), "end_dim": np.array(1)})), "do not select dims"),
        "pool_zero_kernel.nir": (chain(("p", {"type": b"SumPool2d", "kernel_size": np.array([0, 0]), "stride": np.array([1, 1]),
                                              "padding": np.array([0, 0])})), "kernel_size must be"),
    }
    deep: dict = lif_graph()["node"]
    for _ in range(40):
        deep = {"type": b"NIRGraph", "nodes": {"g": deep}, "edges": np.zeros((0, 2), dtype=object)}
    cases["deeply_nested.nir"] = ({"version": "1.0.8", "node": deep}, "nested deeper than")
    return cases


CONFIG_OK = (HERE.parent.parent / "hw_configs" / "loihi2.toml").read_text(encoding="utf-8")


def config_cases() -> dict[str, tuple[bytes, str]]:
    ok = CONFIG_OK
    return {
        "unknown_key.toml": ((ok + "\n[limits.extra]\n").replace("[limits]", "[limits]\nfrobnicate = 1", 1).encode(), "unknown key 'frobnicate'"),
        "unknown_table.toml": ((ok + "\n[gizmo]\nx = 1\n").encode(), "unknown table or key 'gizmo'"),
        "wrong_type.toml": (ok.replace("chips = ", 'chips = "many" # ', 1).encode(), "chips: 'many' is not a number"),
        "negative_limit.toml": (ok.replace("neurons_per_core = ", "neurons_per_core = -5 # ", 1).encode(), "outside"),
        "missing_section.toml": (ok.split("[limits]")[0].encode(), "missing table [limits]"),
        "invalid_utf8.toml": (ok.encode() + b"\n# \xff\xfe\n", "not UTF-8"),
        "huge_number.toml": (ok.replace("neurons_per_core = ", f"neurons_per_core = {10**30} # ", 1).encode(), "does not fit a 64-bit integer"),
        "nan_float.toml": (ok.replace("default_dt_s = 1e-3", "default_dt_s = nan", 1).encode(), "not finite"),
        "inf_float.toml": (ok.replace("default_dt_s = 1e-3", "default_dt_s = inf", 1).encode(), "not finite"),
        "not_toml.toml": (b"\x00\x01 this is not toml [[[", "not valid TOML"),
        "empty.toml": (b"", "missing table [target]"),
        "table_is_array.toml": (b'target = [1, 2]\nnumeric = 1\nlimits = "x"\n', "must be a table"),
        "unknown_family.toml": (ok.replace('family = "loihi"', 'family = "abacus"', 1).encode(), "unknown family"),
    }


def main() -> None:
    expected: dict[str, str] = {}
    for old in HERE.glob("*.nir"):
        old.unlink()
    for old in HERE.glob("*.toml"):
        old.unlink()
    for name, (tree, fragment) in nir_cases().items():
        write_tree(tree, HERE / name)
        expected[name] = fragment
    for name, (raw, fragment) in config_cases().items():
        (HERE / name).write_bytes(raw)
        expected[name] = fragment
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in HERE.iterdir() if p.is_file())
    print(f"wrote {len(expected)} files, {total} bytes")


if __name__ == "__main__":
    main()
