"""The NIR paper's Braille graphs: they run, and they compute what snnTorch computes.

Architecture, from the state dict keys and the training notebook
(neuromorphs/NIR, paper/03_rnn/Braille_training_snntorch.ipynb):
``fc1: Linear(12, nb_hidden) -> lif1: RSynaptic(alpha_r, beta_r, linear_features=nb_hidden)
-> fc2: Linear(nb_hidden, 7) -> lif2: Synaptic(alpha_out, beta_out)``, threshold 1,
biases only in the ``bias_zero`` model (fc1, fc2 and lif1.recurrent), explicit state
passed every step, ``reset_delay=False`` for both neuron layers ("noDelay").

Which reset delay snnTorch 1.0.0 actually applies there: ``Synaptic`` honours
``reset_delay=False`` (immediate reset), but ``RSynaptic`` computes its immediate
reset into a local variable and discards it, so the hidden layer resets one step
late, as with ``reset_delay=True``. (With ``init_hidden`` state, the paper's code
crashes in snnTorch 1.0.0 at step 0 because ``init_rsynaptic()`` returns empty
tensors; we start from zeros of the right shape instead.) The bare ``.nir`` file
carries neither the reset mode nor the delay: we load it with the mode stated in its
name and set ``lif1.lif``'s delay to what snnTorch computes.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

import spikec  # noqa: E402
from spikec.frontends import from_snntorch  # noqa: E402
from spikec.frontends.snntorch import fold_recurrent_biases  # noqa: E402
from spikec.ir.graph import Graph  # noqa: E402
from spikec.ir.nodes import CubaLIF, Output  # noqa: E402

MODELS = {
    "zero": ("braille_noDelay_bias_zero.nir", "noDelay_bias_ref_zero", True),
    "subtract": ("braille_noDelay_noBias_subtract.nir", "noDelay_noBias_ref_subtract", False),
}
T, B = 256, 8


class PaperBrailleNet(torch.nn.Module):
    """The training notebook's model, stepping snnTorch neurons with explicit state."""

    def __init__(self, params: dict, use_bias: bool, reset: str) -> None:
        super().__init__()
        hidden = int(params["nb_hidden"])
        self.fc1 = torch.nn.Linear(12, hidden, bias=use_bias)
        self.lif1 = snn.RSynaptic(alpha=params["alpha_r"], beta=params["beta_r"], linear_features=hidden,
                                  reset_mechanism=reset, reset_delay=False)
        if not use_bias:
            self.lif1.recurrent.bias = None
        self.fc2 = torch.nn.Linear(hidden, 7, bias=use_bias)
        self.lif2 = snn.Synaptic(alpha=params["alpha_out"], beta=params["beta_out"], reset_mechanism=reset, reset_delay=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, hidden = x.shape[1], self.fc1.out_features
        spk1, syn1, mem1 = (torch.zeros(batch, hidden) for _ in range(3))
        syn2, mem2 = torch.zeros(batch, 7), torch.zeros(batch, 7)
        out, hid = [], []
        for step in range(x.shape[0]):
            spk1, syn1, mem1 = self.lif1(self.fc1(x[step]), spk1, syn1, mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            out.append(spk2)
            hid.append(spk1)
        return torch.stack(out), torch.stack(hid)


def load_paper_model(folder: Path, reset: str) -> tuple[PaperBrailleNet, dict]:
    _, tag, use_bias = MODELS[reset]
    params = json.loads((folder / f"parameters_{tag}.json").read_text())
    net = PaperBrailleNet(params, use_bias, reset)
    net.load_state_dict(torch.load(folder / f"model_{tag}.pt", map_location="cpu"))
    return net, params


def run_paper_model(net: PaperBrailleNet, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        out, hid = net(torch.as_tensor(x))
    return out.numpy().astype(np.float64), hid.numpy().astype(np.float64)


def random_spikes(p: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((T, B, 12)) < p).astype(np.float32)


def load_as_snntorch_computes(folder: Path, reset: str) -> Graph:
    """The bare .nir file, with what it cannot say set as snnTorch 1.0.0 computes it."""
    graph = spikec.load_nir(folder / MODELS[reset][0], reset=reset)
    graph = graph.replace_nodes({
        "lif1.lif": graph.nodes["lif1.lif"].replace(reset_delay=True),
        # snnTorch's immediate subtraction re-tests the previous step's stored v (docs/semantics.md section 1)
        "lif2": graph.nodes["lif2"].replace(reset_recheck=reset == "subtract"),
    })
    return fold_recurrent_biases(graph)


def with_hidden_output(graph: Graph) -> Graph:
    return spikec.normalise(Graph({**graph.nodes, "hidden": Output()}, graph.edges + (("lif1.lif", "hidden"),), graph.metadata))


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_braille_graph_runs_end_to_end(nir_paper: Path, reset: str) -> None:
    graph = spikec.load_nir(nir_paper / MODELS[reset][0], reset=reset)
    assert all(n.reset == reset for n in graph.nodes.values() if isinstance(n, CubaLIF))
    out = spikec.simulate(graph, random_spikes(0.1, 0), 1e-4)["output"]
    assert out.shape == (T, B, 7)
    assert set(np.unique(out)) <= {0.0, 1.0} and out.sum() > 0


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3])
def test_braille_zero_nir_equals_snntorch(nir_paper: Path, p: float) -> None:
    net, _ = load_paper_model(nir_paper, "zero")
    x = random_spikes(p, seed=int(p * 100))
    expected, hidden = run_paper_model(net, x)
    assert expected.sum() > 0.1 * expected.size and hidden.sum() > 0
    np.testing.assert_array_equal(spikec.simulate(load_as_snntorch_computes(nir_paper, "zero"), x, 1e-4)["output"], expected)


def test_braille_bare_nir_without_the_corrections_differs(nir_paper: Path) -> None:
    """Both corrections matter: without them the .nir file computes something else."""
    net, _ = load_paper_model(nir_paper, "zero")
    x = random_spikes(0.1, seed=10)
    expected, _ = run_paper_model(net, x)
    bare = spikec.load_nir(nir_paper / MODELS["zero"][0], reset="zero")
    assert np.mean(spikec.simulate(bare, x, 1e-4)["output"] != expected) > 0.05


def test_braille_subtract_hidden_layer_equals_snntorch(nir_paper: Path) -> None:
    net, _ = load_paper_model(nir_paper, "subtract")
    x = random_spikes(0.05, seed=5)
    expected, hidden = run_paper_model(net, x)
    assert hidden.sum() > 300  # a trained, sparse layer: about 0.8 % of entries spike here
    got = spikec.simulate(with_hidden_output(load_as_snntorch_computes(nir_paper, "subtract")), x, 1e-4)
    np.testing.assert_array_equal(got["hidden"], hidden)


def test_braille_subtract_output_equals_snntorch(nir_paper: Path) -> None:
    net, _ = load_paper_model(nir_paper, "subtract")
    x = random_spikes(0.05, seed=5)
    expected, _ = run_paper_model(net, x)
    np.testing.assert_array_equal(spikec.simulate(load_as_snntorch_computes(nir_paper, "subtract"), x, 1e-4)["output"], expected)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_frontend_on_the_paper_model_agrees_with_the_nir_file(nir_paper: Path, reset: str) -> None:
    """The same weights through from_snntorch: same parameters as the .nir file, same spikes as snnTorch."""
    paper, params = load_paper_model(nir_paper, reset)
    hidden = int(params["nb_hidden"])
    seq = torch.nn.Sequential(OrderedDict(
        fc1=torch.nn.Linear(12, hidden, bias=MODELS[reset][2]),
        lif1=snn.RSynaptic(alpha=params["alpha_r"], beta=params["beta_r"], linear_features=hidden,
                           reset_mechanism=reset, reset_delay=False, init_hidden=True),
        fc2=torch.nn.Linear(hidden, 7, bias=MODELS[reset][2]),
        lif2=snn.Synaptic(alpha=params["alpha_out"], beta=params["beta_out"], reset_mechanism=reset,
                          reset_delay=False, init_hidden=True),
    ))
    if not MODELS[reset][2]:
        seq.lif1.recurrent.bias = None
    seq.load_state_dict(paper.state_dict())
    graph = from_snntorch(seq, torch.zeros(12))
    nir_graph = load_as_snntorch_computes(nir_paper, reset)
    for name in ("lif1.lif", "lif2"):
        ours, theirs = graph.nodes[name], nir_graph.nodes[name]
        assert (ours.reset, ours.reset_delay) == (theirs.reset, theirs.reset_delay) == (reset, name == "lif1.lif")
        assert ours.reset_recheck == theirs.reset_recheck
        for field in ("tau_syn", "tau_mem", "r", "w_in", "v_threshold"):
            np.testing.assert_allclose(getattr(ours, field), getattr(theirs, field), rtol=1e-6, err_msg=f"{name}.{field}")
    x = random_spikes(0.1, seed=7)
    expected, hidden = run_paper_model(paper, x)
    got = spikec.simulate(with_hidden_output(graph), x)
    np.testing.assert_array_equal(got["hidden"], hidden)
    if reset == "zero":
        np.testing.assert_array_equal(got["output"], expected)
