"""NIR graphs of the corpus: the NIR paper's files, NIR's and NIRTorch's test graphs, Sinabs and Rockpool exports.

The paper's files are read from ``../shared/fixtures/nir-paper`` (public NIR-paper
files, ``tests/conftest.py``'s FIXTURES). The other graphs are built here as the
cited code builds them, with seeded weights; NIR's architecture tests use
``mock_affine`` shapes that do not fit together (NIR does not type-check them),
so the shapes are made consistent (stated). The framework run of a bare graph is
NIRTorch's executor (``nir_reference.py``); for the Braille files it is the
paper's own snnTorch model with its trained weights.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

import nir

from corpus_core import Entry

FIXTURES = Path(os.environ.get("SPIKEC_FIXTURES", Path(__file__).resolve().parents[3] / "shared" / "fixtures"))
PAPER = FIXTURES / "nir-paper"
NIR, NIRTORCH, SINABS, ROCKPOOL = "neuromorphs/NIR", "neuromorphs/NIRTorch", "synsense/sinabs", "synsense/rockpool"


def lif(n: int, tau: Any = 1e-3, r: Any = 10.0, thr: Any = 1.0) -> nir.LIF:
    return nir.LIF(tau=np.broadcast_to(np.asarray(tau, float), n).copy(), r=np.full(n, float(r)),
                   v_leak=np.zeros(n), v_threshold=np.broadcast_to(np.asarray(thr, float), n).copy())


def affine(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0, bias: bool = True) -> Any:
    w = rng.uniform(-0.5, 1.0, (n_out, n_in)) * gain / np.sqrt(n_in)
    return nir.Affine(weight=w, bias=rng.uniform(-0.05, 0.05, n_out)) if bias else nir.Linear(weight=w)


def io(n_in: Any, n_out: Any) -> dict[str, Any]:
    return {"input": nir.Input(input_type=np.array(np.atleast_1d(n_in))), "output": nir.Output(output_type=np.array(np.atleast_1d(n_out)))}


def load(reset: str = "zero"):
    import spikec

    return lambda graph: spikec.load_nir(graph, reset=reset)


def reference(build, dt: float, reset: str = "zero"):
    def run(x: np.ndarray) -> np.ndarray:
        import nir_reference

        return nir_reference.run(build(), x, dt, reset)

    return run


# --- NIR tests/test_architectures.py ----------------------------------------------------------
# Their LIFs have r = 1 and taus of 10-30 (s); at a step of dt that moves v by dt/tau of its
# input, so nothing would spike: r = tau/dt here (snnTorch's exporter's convention, v = beta v + x).


def L(tau: Any, thr: Any, dt: float) -> nir.LIF:  # noqa: N802 - NIR's test names its nodes by letter
    tau = np.asarray(tau, dtype=float)
    return nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(tau.shape), v_threshold=np.broadcast_to(np.asarray(thr, float), tau.shape).copy())


#: NIR architecture graphs whose Output follows an Affine: real values, compared to rounding
AFFINE_OUTPUTS = ("nir-test-sequential-delay", "nir-test-merge-split")


def arch_sequential(dt: float = 0.05, lif_out: bool = False) -> nir.NIRGraph:
    """test_sequential: a (Affine) -> b (Delay [0.5, 0.1, 0.2]) -> c (LIF tau [10, 20, 30]) -> d (Affine) [-> e LIF]."""
    rng = np.random.default_rng(101)
    nodes = {**io(2, 2), "a": affine(rng, 2, 3, 3.0), "b": nir.Delay(np.array([0.5, 0.1, 0.2])),
             "c": L([10.0, 20, 30], [1.0, 2, 3], dt), "d": affine(rng, 3, 2, 3.0)}
    edges = [("input", "a"), ("a", "b"), ("b", "c"), ("c", "d")]
    if lif_out:
        nodes["e"] = L([5.0, 5.0], 1.0, dt)
        return nir.NIRGraph(nodes, edges + [("d", "e"), ("e", "output")])
    return nir.NIRGraph(nodes, edges + [("d", "output")])


def arch_sequential_lif_out(dt: float = 0.05) -> nir.NIRGraph:
    return arch_sequential(dt, lif_out=True)


def arch_merging(dt: float = 0.05) -> nir.NIRGraph:
    """test_two_independent_branches_merging: two branches (one with a Delay) into one LIF junction."""
    rng = np.random.default_rng(102)
    nodes = {**io(2, 2),
             "a": affine(rng, 2, 3, 3.0), "b": nir.Delay(np.array([0.5, 0.1, 0.2])), "c": L([10.0, 20, 30], [1.0, 2, 3], dt),
             "d": affine(rng, 3, 2, 2.0),
             "e": affine(rng, 2, 3, 3.0), "f": L([10.0, 20, 30], [1.0, 2, 2], dt), "g": affine(rng, 3, 2, 2.0),
             "junction": L([5.0, 2], 1.0, dt)}
    edges = [("input", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("input", "e"), ("e", "f"), ("f", "g"),
             ("d", "junction"), ("g", "junction"), ("junction", "output")]
    return nir.NIRGraph(nodes, edges)


def arch_merge_split(dt: float = 0.05) -> nir.NIRGraph:
    """test_merge_and_split_single_output: pre_split (Affine, LIF) -> two branches (Affine, LIF) -> Affine junction."""
    rng = np.random.default_rng(103)
    nodes = {**io(2, 2),
             "a": affine(rng, 2, 3, 3.0), "b": L([10.0, 20, 30], [1.0, 2, 3], dt),
             "c": affine(rng, 3, 2, 3.0), "d": L([10.0, 20], [1.0, 2], dt),
             "e": affine(rng, 3, 2, 3.0), "f": L([15.0, 5], 1.0, dt),
             "junction": nir.Affine(weight=np.array([[2.0, 0], [1, 3]]), bias=np.array([0.0, 1]))}
    edges = [("input", "a"), ("a", "b"), ("b", "c"), ("b", "e"), ("c", "d"), ("e", "f"),
             ("d", "junction"), ("f", "junction"), ("junction", "output")]
    return nir.NIRGraph(nodes, edges)


def arch_residual(dt: float = 0.05) -> nir.NIRGraph:
    """test_residual: a -> b -> c -> d -> e and a -> e (the skip), e -> f."""
    rng = np.random.default_rng(104)
    nodes = {**io(2, 2),
             "a": affine(rng, 2, 3, 3.0), "b": L([10.0, 20, 30], [1.0, 2, 3], dt),
             "c": affine(rng, 3, 3, 3.0), "d": L([10.0, 20, 30], [1.0, 2, 1], dt),
             "e": affine(rng, 3, 2, 2.0), "f": L([15.0, 5], 1.0, dt)}
    edges = [("input", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("a", "e"), ("e", "f"), ("f", "output")]
    return nir.NIRGraph(nodes, edges)


def arch_complex(dt: float = 0.05) -> nir.NIRGraph:
    """test_complex: a -> b, a -> c, b -> d, c -> d, c -> e, d -> f, e -> f (d and f sum two inputs), f -> g."""
    rng = np.random.default_rng(105)
    nodes = {**io(2, 2),
             "a": affine(rng, 2, 3, 3.0), "b": L([10.0, 20, 30], [1.0, 2, 3], dt), "c": L([5.0, 20, 1], 1.0, dt),
             "d": affine(rng, 3, 2, 2.0), "e": affine(rng, 3, 2, 2.0), "f": affine(rng, 2, 2, 2.0), "g": L([5.0, 5.0], 1.0, dt)}
    edges = [("input", "a"), ("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("c", "e"), ("d", "f"), ("e", "f"),
             ("f", "g"), ("g", "output")]
    return nir.NIRGraph(nodes, edges)


# --- NIRTorch tests ---------------------------------------------------------------------------


def nirtorch_li_chain() -> nir.NIRGraph:
    """test_map_leaky_stateful_graph_sequential_modules: NIRGraph.from_list(li, li), input straight into the first LI."""
    rng = np.random.default_rng(111)
    tau, r = rng.uniform(2e-3, 5e-3, 4), rng.uniform(20.0, 40.0, 4)
    li = nir.LI(tau=tau, r=r, v_leak=np.zeros(4))
    return nir.NIRGraph({**io(4, 4), "li": li, "li2": nir.LI(tau=tau.copy(), r=r.copy(), v_leak=np.zeros(4))},
                        [("input", "li"), ("li", "li2"), ("li2", "output")])


def nirtorch_recurrent_lif() -> nir.NIRGraph:
    """test_map_recursive_graph: a Linear feeding itself; here its loop runs through a LIF (a cycle needs state)."""
    rng = np.random.default_rng(112)
    nodes = {**io(6, 8), "linear": affine(rng, 6, 8, 6.0, bias=False), "lif": lif(8),
             "rec": nir.Linear(weight=rng.normal(0.0, 0.3, (8, 8)))}
    edges = [("input", "linear"), ("linear", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes, edges)


def nirtorch_if() -> nir.NIRGraph:
    """test_map_if_node: an IF layer (r, v_threshold) behind a Linear."""
    rng = np.random.default_rng(113)
    return nir.NIRGraph({**io(5, 3), "linear": affine(rng, 5, 3, 2.0, bias=False),
                         "if": nir.IF(r=np.ones(3), v_threshold=np.full(3, 1.0))},
                        [("input", "linear"), ("linear", "if"), ("if", "output")])


def nirtorch_sinabs_branched() -> nir.NIRGraph:
    """tests/test_graph.py MySNN (Sinabs layers): conv1, iaf1, pool1; two branches conv2_k, iaf2_k, pool2_k;
    ChannelShift + Merge (a channel concatenation) into conv3, iaf3. NIR has no concatenation: conv3 on the
    concatenated channels is written as two Conv2d nodes (its weight's two channel halves) summed at iaf3."""
    rng = np.random.default_rng(114)

    def conv(c_in: int, c_out: int, k: int, side: int, padding: int = 0, stride: int = 1, gain: float = 1.5) -> nir.Conv2d:
        w = rng.uniform(-1.0, 1.0, (c_out, c_in, k, k)) * gain / np.sqrt(c_in * k * k)
        return nir.Conv2d(input_shape=(side, side), weight=w, stride=stride, padding=padding, dilation=1, groups=1, bias=np.zeros(c_out))

    def iaf(*shape: int) -> nir.IF:
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape))

    pool = lambda: nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))  # noqa: E731
    w3 = conv(32, 10, 3, 6, stride=3, gain=1.5)
    half = lambda lo: nir.Conv2d(input_shape=(6, 6), weight=w3.weight[:, lo:lo + 16].copy(), stride=3, padding=0,  # noqa: E731
                                 dilation=1, groups=1, bias=np.zeros(10))
    nodes = {"input": nir.Input(input_type=np.array([2, 28, 28])), "output": nir.Output(output_type=np.array([10, 2, 2])),
             "conv1": conv(2, 8, 3, 28), "iaf1": iaf(8, 26, 26), "pool1": pool(),
             "conv2_1": conv(8, 16, 3, 13, padding=1), "iaf2_1": iaf(16, 13, 13), "pool2_1": pool(),
             "conv2_2": conv(8, 16, 5, 13, padding=2), "iaf2_2": iaf(16, 13, 13), "pool2_2": pool(),
             "conv3_a": half(0), "conv3_b": half(16), "iaf3": iaf(10, 2, 2)}
    edges = [("input", "conv1"), ("conv1", "iaf1"), ("iaf1", "pool1"),
             ("pool1", "conv2_1"), ("conv2_1", "iaf2_1"), ("iaf2_1", "pool2_1"),
             ("pool1", "conv2_2"), ("conv2_2", "iaf2_2"), ("iaf2_2", "pool2_2"),
             ("pool2_1", "conv3_a"), ("pool2_2", "conv3_b"), ("conv3_a", "iaf3"), ("conv3_b", "iaf3"), ("iaf3", "output")]
    return nir.NIRGraph(nodes, edges, type_check=False)


# --- Sinabs / Rockpool exports -----------------------------------------------------------------


def sinabs_2dcnn() -> nir.NIRGraph:
    """Sinabs tests/test_nir.py test_2dcnn_network as to_nir writes it: Conv2d(2, 8, 3, p=1), LIF(tau 10), SumPool2d(2), Flatten, Affine(200, 5)."""
    rng = np.random.default_rng(121)
    w = rng.uniform(-0.5, 1.0, (8, 2, 3, 3)) * 2.0 / np.sqrt(18)
    nodes = {"input": nir.Input(input_type=np.array([2, 10, 10])), "output": nir.Output(output_type=np.array([5])),
             "0": nir.Conv2d(input_shape=(10, 10), weight=w, stride=1, padding=1, dilation=1, groups=1,
                             bias=rng.uniform(-0.05, 0.05, 8)),
             "1": nir.LIF(tau=np.full((8, 10, 10), 10.0), r=np.ones((8, 10, 10)), v_leak=np.zeros((8, 10, 10)),
                          v_threshold=np.ones((8, 10, 10))),
             "2": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
             "3": nir.Flatten(input_type={"input": np.array([8, 5, 5])}, start_dim=0),
             "4": affine(rng, 200, 5, 3.0)}
    edges = [("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "4"), ("4", "output")]
    return nir.NIRGraph(nodes, edges, type_check=False)


def sinabs_2dcnn_lif_out() -> nir.NIRGraph:
    g = sinabs_2dcnn()
    nodes = dict(g.nodes)
    nodes["5"] = nir.IF(r=np.ones(5), v_threshold=np.ones(5))
    edges = [e for e in g.edges if e != ("4", "output")] + [("4", "5"), ("5", "output")]
    return nir.NIRGraph(nodes, edges, type_check=False)


def rockpool_expsyn() -> nir.NIRGraph:
    """tests_default/test_nir.py test_from_sequential_to_nir: Linear(2, 4), ExpSyn -> LI, Linear(4, 2), ExpSyn -> LI."""
    rng = np.random.default_rng(131)
    dt, tau = 1e-3, np.full(4, 0.02)
    r = lambda t: t * np.exp(-dt / t) / dt  # noqa: E731 - rockpool/nn/modules/torch/nir.py
    nodes = {**io(2, 2), "0_LinearTorch": affine(rng, 2, 4, 2.0, bias=False), "1_ExpSynTorch": nir.LI(tau=tau, r=r(tau), v_leak=np.zeros(4)),
             "2_LinearTorch": affine(rng, 4, 2, 2.0, bias=False), "3_ExpSynTorch": nir.LI(tau=tau[:2].copy(), r=r(tau[:2]), v_leak=np.zeros(2))}
    edges = [("input", "0_LinearTorch"), ("0_LinearTorch", "1_ExpSynTorch"), ("1_ExpSynTorch", "2_LinearTorch"),
             ("2_LinearTorch", "3_ExpSynTorch"), ("3_ExpSynTorch", "output")]
    return nir.NIRGraph(nodes, edges)


def rockpool_complex() -> nir.NIRGraph:
    """tests_default/test_nir.py test_complex_net: Linear(2, 4), LIFTorch, Linear(4, 6), LIFTorch, Linear(6, 8), LIFTorch -> CubaLIF."""
    rng = np.random.default_rng(132)
    dt, tau = 0.01, 0.02
    nodes: dict[str, Any] = dict(io(2, 8))
    sizes = [2, 4, 6, 8]
    edges, prev = [], "input"
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        lin, neu = f"{2 * k}_LinearTorch", f"{2 * k + 1}_LIFTorch"
        nodes[lin] = affine(rng, a, b, 5.0, bias=False)
        nodes[neu] = nir.CubaLIF(tau_syn=np.full(b, tau), tau_mem=np.full(b, tau), r=np.full(b, tau * np.exp(-dt / tau) / dt),
                                 v_leak=np.zeros(b), v_threshold=np.ones(b))
        edges += [(prev, lin), (lin, neu)]
        prev = neu
    return nir.NIRGraph(nodes, edges + [(prev, "output")])


# --- the NIR paper's files ----------------------------------------------------------------------


BRAILLE = {"zero": ("braille_noDelay_bias_zero.nir", "noDelay_bias_ref_zero", True),
           "subtract": ("braille_noDelay_noBias_subtract.nir", "noDelay_noBias_ref_subtract", False)}


def braille_paper_run(reset: str):
    """The paper's snnTorch model with its trained weights (as tests/test_braille_fixtures.py builds it)."""

    def run(x: np.ndarray) -> np.ndarray:
        import snntorch as snn
        import torch

        _, tag, bias = BRAILLE[reset]
        params = json.loads((PAPER / f"parameters_{tag}.json").read_text())
        hidden = int(params["nb_hidden"])
        fc1, fc2 = torch.nn.Linear(12, hidden, bias=bias), torch.nn.Linear(hidden, 7, bias=bias)
        lif1 = snn.RSynaptic(alpha=params["alpha_r"], beta=params["beta_r"], linear_features=hidden,
                             reset_mechanism=reset, reset_delay=False)
        if not bias:
            lif1.recurrent.bias = None
        lif2 = snn.Synaptic(alpha=params["alpha_out"], beta=params["beta_out"], reset_mechanism=reset, reset_delay=False)
        modules = torch.nn.ModuleDict({"fc1": fc1, "lif1": lif1, "fc2": fc2, "lif2": lif2})
        modules.load_state_dict(torch.load(PAPER / f"model_{tag}.pt", map_location="cpu"))
        xs = torch.as_tensor(x)
        b = xs.shape[1]
        spk1, syn1, mem1 = (torch.zeros(b, hidden) for _ in range(3))
        syn2, mem2 = torch.zeros(b, 7), torch.zeros(b, 7)
        out = []
        with torch.no_grad():
            for t in range(xs.shape[0]):
                spk1, syn1, mem1 = lif1(fc1(xs[t]), spk1, syn1, mem1)
                spk2, syn2, mem2 = lif2(fc2(spk1), syn2, mem2)
                out.append(spk2.numpy())
        return np.stack(out)

    return run


def braille_load(reset: str):
    """The bare file with what it cannot say set as snnTorch 1.0.0 computes it (docs/frontends.md, 'Bare .nir files')."""

    def load_it(path: Path):
        import spikec
        from spikec.frontends.snntorch import fold_recurrent_biases

        g = spikec.load_nir(path, reset=reset)
        g = g.replace_nodes({"lif1.lif": g.nodes["lif1.lif"].replace(reset_delay=True),
                             "lif2": g.nodes["lif2"].replace(reset_recheck=reset == "subtract")})
        return fold_recurrent_biases(g)

    return load_it


def paper_file(name: str):
    return lambda: PAPER / name


def file_reference(name: str, dt: float, reset: str = "zero", tweak=None):
    def run(x: np.ndarray) -> np.ndarray:
        import nir_reference

        g = nir.read(PAPER / name)
        return nir_reference.run(tweak(g) if tweak else g, x, dt, reset)

    return run


def two_lif_tweak(g: nir.NIRGraph) -> nir.NIRGraph:
    """two_lif_neurons.nir's lif2 can never fire at dt 1e-4 s (threshold 20 through a weight of 1: lint).

    That graph debugs the spike representation: a NIR spike is a Dirac of area 1, amplitude
    1/dt in a stepped simulation. linear2's weight is scaled by 1/dt = 1e4 to say so.
    """
    nodes = dict(g.nodes)
    (name,) = [k for k, v in nodes.items() if isinstance(v, (nir.Linear, nir.Affine)) and k != "fc1" and
               any(e == (k, "lif2") for e in g.edges)] or ["fc2"]
    node = nodes[name]
    nodes[name] = nir.Linear(weight=np.asarray(node.weight) * 1e4) if isinstance(node, nir.Linear) else \
        nir.Affine(weight=np.asarray(node.weight) * 1e4, bias=np.asarray(node.bias))
    return nir.NIRGraph(nodes, list(g.edges), type_check=False)


def two_lif_load(path: Path):
    import spikec

    return spikec.load_nir(two_lif_tweak(nir.read(path)))


def entries() -> list[Entry]:
    arch = "tests/test_architectures.py"
    shapes = "mock_affine shapes made consistent (NIR does not type-check them); seeded weights; LIF r = tau/dt"
    delay_dt = 0.05  # NIR's delays 0.5/0.1/0.2 s and taus 10-30 s at 0.05 s: 10, 2 and 4 steps
    e = []
    for name, fn, follows, today, extra in [
        ("nir-test-sequential-delay", arch_sequential, "test_sequential (Affine, Delay, LIF, Affine)",
         {}, ""),
        ("nir-test-sequential-delay-lif-out", arch_sequential_lif_out, "test_sequential, a LIF after d", {},
         "; a LIF added after d"),
        ("nir-test-branches-merging", arch_merging, "test_two_independent_branches_merging (junction LIF with two inputs)",
         {}, "; branches flattened into one graph"),
        ("nir-test-merge-split", arch_merge_split, "test_merge_and_split_single_output (Affine junction)",
         {}, ""),
        ("nir-test-residual", arch_residual, "test_residual (a -> e skip around b, c, d)", {}, ""),
        ("nir-test-complex", arch_complex, "test_complex (d and f sum two inputs)", {},
         "; a LIF g after f so the output is spikes"),
    ]:
        e.append(Entry(name, "nir", NIR, arch, follows, shapes + extra, fn, (2,), steps=80, rate=0.5, today=today,
                       readout="voltage" if name in AFFINE_OUTPUTS else "spikes",
                       load=load(), reference=reference(fn, delay_dt), dt_s=delay_dt))
    e.append(Entry("nir-test-sequential-delay-long", "nir", NIR, arch, "test_sequential at dt = 1e-4 s (delays of 5000, 1000, 2000 steps)",
                   shapes + "; dt 1e-4 s, so the delays are long; a LIF after d", lambda: arch_sequential(1e-4, True), (2,), steps=5200,
                   batch=1, rate=0.5, load=load(), reference=reference(lambda: arch_sequential(1e-4, True), 1e-4), dt_s=1e-4, slow=True,
                   today={"loihi2": "refuse:synaptic delay of 5000 steps exceeds the target's longest delay, 1023 steps",
                          "spinnaker1": "refuse:synaptic delay of 5000 steps exceeds the target's longest delay"}))
    e += [
        Entry("nirtorch-test-li-chain", "nir", NIRTORCH, "tests/test_nir_interpreter.py", "test_map_leaky_stateful_graph_sequential_modules (LI -> LI)",
              "4 neurons, tau in 2-5 ms, r in 20-40, dt 1e-4 s", nirtorch_li_chain, (4,), steps=60, readout="voltage", load=load(),
              reference=reference(nirtorch_li_chain, 1e-4), dt_s=1e-4),
        Entry("nirtorch-test-recurrent-lif", "nir", NIRTORCH, "tests/test_nir_interpreter.py", "test_map_recursive_graph (a node feeding itself)",
              "the loop runs through a LIF (a cycle of Linears alone has no state)", nirtorch_recurrent_lif, (6,), steps=60,
              load=load(), reference=reference(nirtorch_recurrent_lif, 1e-4), dt_s=1e-4, lava_fast=True),
        Entry("nirtorch-test-if", "nir", NIRTORCH, "tests/test_nir_interpreter.py", "test_map_if_node (nir.IF)", "behind a Linear(5, 3)",
              nirtorch_if, (5,), steps=60, load=load("subtract"), reference=reference(nirtorch_if, 1e-4, "subtract"), dt_s=1e-4),
        Entry("nirtorch-test-sinabs-branched", "nir", NIRTORCH, "tests/test_graph.py",
              "MySNN in test_sinabs_model (two conv branches, ChannelShift + Merge, conv3)",
              "as NIR: the channel concatenation into conv3 written as conv3's two channel halves summed at iaf3; "
              "IAF reset subtract (Sinabs' default); seeded weights", nirtorch_sinabs_branched, (2, 28, 28), steps=20, rate=0.3,
              load=load("subtract"), reference=reference(nirtorch_sinabs_branched, 1e-3, "subtract"), dt_s=1e-3,
              ),
        Entry("sinabs-test-2dcnn", "nir", SINABS, "tests/test_nir.py", "test_2dcnn_network (Conv2d, LIFSqueeze, SumPool2d, Flatten, Linear) as to_nir writes it",
              "built with nir directly (sinabs 3.1 pins nir<=1.0.4); sinabs' time unit is one step: dt = 1 s; reset zero",
              sinabs_2dcnn, (2, 10, 10), steps=30, load=load(), reference=reference(sinabs_2dcnn, 1.0), dt_s=1.0, readout="voltage",
              today={}),
        Entry("sinabs-test-2dcnn-if-out", "nir", SINABS, "tests/test_nir.py", "test_2dcnn_network with an IAF output layer",
              "as sinabs-test-2dcnn, an IF after the Linear", sinabs_2dcnn_lif_out, (2, 10, 10), steps=30, load=load(),
              reference=reference(sinabs_2dcnn_lif_out, 1.0), dt_s=1.0),
        Entry("rockpool-test-expsyn", "nir", ROCKPOOL, "tests/tests_default/test_nir.py", "test_from_sequential_to_nir (LinearTorch, ExpSynTorch -> nir.LI, twice)",
              "the graph to_nir writes (LI r = tau exp(-dt/tau)/dt), tau 20 ms, dt 1 ms", rockpool_expsyn, (2,), steps=60,
              readout="voltage", load=load(), reference=reference(rockpool_expsyn, 1e-3), dt_s=1e-3),
        Entry("rockpool-test-complex-net", "nir", ROCKPOOL, "tests/tests_default/test_nir.py", "test_complex_net (3 x LinearTorch + LIFTorch -> CubaLIF)",
              "the graph to_nir writes (CubaLIF r = tau exp(-dt/tau)/dt), dt 10 ms, tau 20 ms", rockpool_complex, (2,), steps=60,
              load=load(), reference=reference(rockpool_complex, 0.01), dt_s=0.01),
        Entry("nir-paper-braille-zero", "nir", NIR, "paper/03_rnn/braille_noDelay_bias_zero.nir",
              "the file (fixtures/nir-paper), against paper/03_rnn's snnTorch model with its trained weights",
              "reset zero and lif1's reset delay stated (NIR has neither); recurrent bias folded", paper_file(BRAILLE["zero"][0]), (12,),
              steps=200, batch=4, rate=0.1, load=braille_load("zero"), reference=braille_paper_run("zero"), dt_s=1e-4,
              lava_fast=True, extra_targets=("loihi1", "spinnaker2", "rram-256")),
        Entry("nir-paper-braille-subtract", "nir", NIR, "paper/03_rnn/braille_noDelay_noBias_subtract.nir",
              "the file (fixtures/nir-paper), against paper/03_rnn's snnTorch model with its trained weights",
              "reset subtract stated, lif1 reset delay and lif2 re-check as snnTorch 1.0 computes", paper_file(BRAILLE["subtract"][0]),
              (12,), steps=200, batch=4, rate=0.05, load=braille_load("subtract"), reference=braille_paper_run("subtract"), dt_s=1e-4),
        Entry("nir-paper-cnn-sinabs", "nir", NIR, "paper/02_cnn/cnn_sinabs.nir", "the file (fixtures/nir-paper): Sinabs' N-MNIST CNN",
              "reset subtract (Sinabs' IAF default); framework run: NIRTorch", paper_file("cnn_sinabs.nir"), (2, 34, 34), steps=20, batch=1,
              rate=0.2, load=lambda p: __import__("spikec").load_nir(p, reset="subtract"),
              reference=file_reference("cnn_sinabs.nir", 1e-4, "subtract"), dt_s=1e-4, slow=True),
        Entry("nir-paper-lif-norse", "nir", NIR, "paper/01_lif/lif_norse.nir", "the file (fixtures/nir-paper): one LIF exported by Norse",
              "framework run: NIRTorch at dt 1e-4 s", paper_file("lif_norse.nir"), (1,), steps=100, rate=0.5, load=load(),
              reference=file_reference("lif_norse.nir", 1e-4), dt_s=1e-4),
        Entry("nir-paper-two-lif-neurons", "nir", NIR, "paper/01_lif/debug_spike_representation/two_lif_neurons.nir",
              "the file (fixtures/nir-paper): Linear, LIF, Linear, LIF", "linear2 x 1/dt (a spike is a Dirac of area 1; unscaled, the file's lif2 can never fire: lint)",
              paper_file("two_lif_neurons.nir"), (1,), steps=400, rate=0.5, load=two_lif_load,
              reference=file_reference("two_lif_neurons.nir", 1e-4, tweak=two_lif_tweak), dt_s=1e-4),
    ]
    return e
