"""snnTorch models of the corpus: tutorials, quickstart, examples and snnTorch's own tests.

Every builder follows the cited definition; weights are seeded random
(``corpus_core.excite``). The common adaptation: tutorials that loop over time
with explicit state (``spk, mem = lif(cur, mem)``) are written in their
``init_hidden=True`` form (one call per step, as snnTorch's own ``nn.Sequential``
versions and its exporter expect); widths of 1000 are cut to 128 so the fast
suite stays fast. Both are stated per entry.
"""
from __future__ import annotations

import torch
from torch import nn

import snntorch as snn

from corpus_core import Entry, excite

SNN = "jeshraghian/snntorch"
MAXPOOL = "xfail:MaxPool2d:layers"
BATCHNORM = "xfail:BatchNorm2d folding:layers"
DROPOUT = "xfail:Dropout (eval identity):layers"
LOIHI_TAUS = "xfail:per-neuron taus on Loihi (population split):loihisplit"
MAXPOOL_CURRENTS = "xfail:MaxPool2d (max of currents before a neuron: exact float, targets refuse naming the layer):layers"


def leaky(beta=0.9, **kw) -> snn.Leaky:
    return snn.Leaky(beta=beta, init_hidden=True, **kw)


def seq(seed: int, *layers: nn.Module, gain: float = 2.0) -> nn.Sequential:
    torch.manual_seed(seed)
    return excite(nn.Sequential(*layers), seed, gain)


# --- MLPs ---------------------------------------------------------------------------------------


def tutorial5_mlp() -> nn.Module:
    return seq(5, nn.Linear(784, 128), leaky(0.95), nn.Linear(128, 10), leaky(0.95, output=True), gain=3.0)


def tutorial3_mlp() -> nn.Module:
    return seq(3, nn.Linear(784, 128), leaky(0.99), nn.Linear(128, 10), leaky(0.99, output=True), gain=3.0)


def quickstart_learn_beta() -> nn.Module:
    torch.manual_seed(11)
    beta2 = torch.rand(10)  # "independent decay rate for each leaky neuron in layer 2: [0, 1)"
    return seq(11, nn.Flatten(), nn.Linear(784, 100), leaky(0.9),
               nn.Linear(100, 10), leaky(beta2, learn_beta=True, output=True), gain=3.0)


def pop_mlp() -> nn.Module:
    return seq(12, nn.Flatten(), nn.Linear(784, 128), leaky(0.9), nn.Linear(128, 500), leaky(0.9, output=True), gain=3.0)


def pop_mlp_plain() -> nn.Module:
    return seq(13, nn.Flatten(), nn.Linear(784, 128), leaky(0.9), nn.Linear(128, 10), leaky(0.9, output=True), gain=3.0)


def test_nir_sequential() -> nn.Module:
    return seq(14, nn.Linear(784, 500), snn.Leaky(beta=0.9 * torch.ones(500), threshold=torch.ones(500), init_hidden=True),
               nn.Linear(500, 10), snn.Leaky(beta=0.9 * torch.ones(10), threshold=torch.ones(10), init_hidden=True, output=True),
               gain=3.0)


def tutorial4_synaptic() -> nn.Module:
    return seq(15, nn.Linear(100, 64), snn.Synaptic(alpha=0.9, beta=0.8, init_hidden=True),
               nn.Linear(64, 10), snn.Synaptic(alpha=0.9, beta=0.8, init_hidden=True, output=True), gain=2.0)


def tutorial4_alpha() -> nn.Module:
    return seq(16, nn.Linear(100, 64), snn.Alpha(alpha=0.8, beta=0.7, threshold=0.5, init_hidden=True),
               nn.Linear(64, 10), snn.Alpha(alpha=0.8, beta=0.7, threshold=0.5, init_hidden=True, output=True), gain=2.0)


def tutorial2_lapicque() -> nn.Module:
    return seq(17, nn.Linear(100, 64),
               snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism="zero", init_hidden=True),
               nn.Linear(64, 10),
               snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism="zero", init_hidden=True, output=True),
               gain=2.0)


def regression1() -> nn.Module:
    torch.manual_seed(18)
    hidden = 32
    net = nn.Sequential(
        nn.Linear(1, hidden), leaky(torch.rand(hidden), threshold=torch.rand(hidden), learn_beta=True),
        nn.Linear(hidden, hidden), leaky(torch.rand(hidden), threshold=torch.rand(hidden), learn_beta=True),
        nn.Linear(hidden, 1), leaky(torch.rand(1), threshold=1.0, learn_beta=True, reset_mechanism="none", output=True),
    )
    return excite(net, 18, 2.0)


# --- recurrent ----------------------------------------------------------------------------------


def regression2_rleaky() -> nn.Module:
    return seq(21, nn.Linear(784, 128), snn.RLeaky(beta=0.9, linear_features=128, init_hidden=True),
               nn.Linear(128, 10), snn.RLeaky(beta=0.9, linear_features=10, init_hidden=True, output=True), gain=3.0)


def test_nir_rsynaptic() -> nn.Module:
    n = 200
    return seq(22, nn.Linear(784, n),
               snn.RSynaptic(alpha=0.5 * torch.ones(n), beta=0.9 * torch.ones(n), V=torch.ones(n), all_to_all=False, init_hidden=True),
               nn.Linear(n, 10), snn.Leaky(beta=0.9 * torch.ones(10), threshold=torch.ones(10), init_hidden=True, output=True),
               gain=3.0)


def test_nir_rleaky() -> nn.Module:
    n = 200
    return seq(23, nn.Linear(784, n),
               snn.RLeaky(beta=0.9 * torch.ones(n), threshold=torch.ones(n), V=torch.ones(n), all_to_all=False, init_hidden=True),
               nn.Linear(n, 10), snn.Leaky(beta=0.9 * torch.ones(10), threshold=torch.ones(10), init_hidden=True, output=True),
               gain=3.0)


# --- CNNs ---------------------------------------------------------------------------------------


def quickstart_cnn() -> nn.Module:
    return seq(31, nn.Conv2d(1, 8, 5), nn.MaxPool2d(2), leaky(0.9), nn.Conv2d(8, 16, 5), nn.MaxPool2d(2), leaky(0.9),
               nn.Flatten(), nn.Linear(16 * 4 * 4, 10), leaky(0.9, output=True), gain=3.0)


def tutorial6_cnn() -> nn.Module:
    return seq(32, nn.Conv2d(1, 12, 5), nn.MaxPool2d(2), leaky(0.5), nn.Conv2d(12, 64, 5), nn.MaxPool2d(2), leaky(0.5),
               nn.Flatten(), nn.Linear(64 * 4 * 4, 10), leaky(0.5, output=True), gain=3.0)


def tutorial7_nmnist_cnn() -> nn.Module:
    return seq(33, nn.Conv2d(2, 12, 5), nn.MaxPool2d(2), leaky(0.5), nn.Conv2d(12, 32, 5), nn.MaxPool2d(2), leaky(0.5),
               nn.Flatten(), nn.Linear(32 * 5 * 5, 10), leaky(0.5, output=True), gain=3.0)


def stmnist_cnn() -> nn.Module:
    return seq(34, nn.Conv2d(2, 32, kernel_size=4), leaky(0.95), nn.Conv2d(32, 64, kernel_size=3), leaky(0.95),
               nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 2 * 2, 10), leaky(0.95, output=True), gain=3.0)


def entries() -> list[Entry]:
    tut = "docs/tutorials/"
    return [
        Entry("snntorch-tutorial5-mlp", "snntorch", SNN, tut + "tutorial_5.rst", "class Net (fc1, lif1, fc2, lif2; beta=0.95)",
              "init_hidden form; num_hidden 1000 -> 128", tutorial5_mlp, (784,), steps=40, lava_fast=True),
        Entry("snntorch-tutorial3-mlp", "snntorch", SNN, tut + "tutorial_3.rst", "fc1, lif1, fc2, lif2 with beta=0.99 (line 330)",
              "init_hidden form in an nn.Sequential; num_hidden 1000 -> 128", tutorial3_mlp, (784,), steps=40,
              extra_targets=("loihi1", "spinnaker2", "rram-256")),
        Entry("snntorch-quickstart-learn-beta", "snntorch", SNN, "docs/quickstart.rst",
              "class Net: lif1 Leaky(beta=0.9), lif2 Leaky(beta=torch.rand(10), learn_beta=True) (line 236)",
              "init_hidden form in an nn.Sequential; num_hidden 300 -> 100", quickstart_learn_beta, (784,), steps=40,
              today={"loihi2": LOIHI_TAUS, "loihi1": LOIHI_TAUS}, extra_targets=("loihi1",)),
        Entry("snntorch-pop-mlp", "snntorch", SNN, tut + "tutorial_pop.rst", "net_pop = nn.Sequential(Flatten, Linear, Leaky, Linear(num_hidden, 500), Leaky)",
              "num_hidden 128 as in the tutorial; input one 784 frame", pop_mlp, (784,), steps=40),
        Entry("snntorch-pop-mlp-plain", "snntorch", SNN, tut + "tutorial_pop.rst", "net = nn.Sequential(Flatten, Linear, Leaky, Linear(num_hidden, 10), Leaky)",
              "", pop_mlp_plain, (784,), steps=40),
        Entry("snntorch-test-nir-sequential", "snntorch", SNN, "tests/test_nir.py", "fixture snntorch_sequential (vector beta 0.9*ones, threshold ones)",
              "", test_nir_sequential, (784,), steps=30),
        Entry("snntorch-tutorial4-synaptic", "snntorch", SNN, tut + "tutorial_4.rst", "lif1 = snn.Synaptic(alpha=alpha, beta=beta) (line 124)",
              "a 100-64-10 network of that neuron (the tutorial steps one neuron)", tutorial4_synaptic, (100,), steps=60, lava_fast=True),
        Entry("snntorch-tutorial4-alpha", "snntorch", SNN, tut + "tutorial_4.rst", "lif2 = snn.Alpha(alpha=0.8, beta=0.7, threshold=0.5) (line 303)",
              "a 100-64-10 network of that neuron", tutorial4_alpha, (100,), steps=60,
              today={"frontend": "xfail:snnTorch Alpha neuron:neurons"}),
        Entry("snntorch-tutorial2-lapicque", "snntorch", SNN, tut + "tutorial_2.rst",
              "lif4 = snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism='zero') (line 889)",
              "a 100-64-10 network of that neuron", tutorial2_lapicque, (100,), steps=60,
              today={"frontend": "xfail:snnTorch Lapicque neuron:neurons"}),
        Entry("snntorch-regression1", "snntorch", SNN, tut + "tutorial_regression_1.rst",
              "class Net: Leaky(beta=rand(hidden), threshold=rand(hidden), learn_beta=True) x2, li_out reset_mechanism='none'",
              "init_hidden form; hidden 128 -> 32; input one value per step as spikes", regression1, (1,), steps=60, rate=0.5,
              readout="voltage", today={"frontend": "xfail:reset_mechanism='none' (LI read-out):neurons"}),
        Entry("snntorch-regression2-rleaky", "snntorch", SNN, tut + "tutorial_regression_2.rst",
              "class Net: rlif1 RLeaky(beta, linear_features=hidden), rlif2 RLeaky(linear_features=10) (line 267)",
              "init_hidden form", regression2_rleaky, (784,), steps=40),
        Entry("snntorch-test-nir-rsynaptic", "snntorch", SNN, "tests/test_nir.py", "fixture snntorch_recurrent (RSynaptic V=ones, all_to_all=False)",
              "width 500 -> 200", test_nir_rsynaptic, (784,), steps=40),
        Entry("snntorch-test-nir-rleaky", "snntorch", SNN, "tests/test_nir.py", "fixture snntorch_rleaky (RLeaky V=ones, all_to_all=False)",
              "width 500 -> 200", test_nir_rleaky, (784,), steps=40),
        Entry("snntorch-quickstart-cnn", "snntorch", SNN, "docs/quickstart.rst", "net = nn.Sequential(Conv2d(1, 8, 5), MaxPool2d(2), Leaky, ...) (line 104)",
              "", quickstart_cnn, (1, 28, 28), steps=20, today={"frontend": MAXPOOL_CURRENTS}),
        Entry("snntorch-tutorial6-cnn", "snntorch", SNN, tut + "tutorial_6.rst", "net = nn.Sequential(Conv2d(1, 12, 5), MaxPool2d(2), Leaky, ...) (line 276)",
              "", tutorial6_cnn, (1, 28, 28), steps=20, today={"frontend": MAXPOOL_CURRENTS}),
        Entry("snntorch-tutorial7-nmnist-cnn", "snntorch", SNN, tut + "tutorial_7.rst", "net = nn.Sequential(Conv2d(2, 12, 5), MaxPool2d(2), Leaky, ...) (line 245)",
              "", tutorial7_nmnist_cnn, (2, 34, 34), steps=20, slow=True, today={"frontend": MAXPOOL_CURRENTS}),
        Entry("snntorch-stmnist-cnn", "snntorch", SNN, tut + "tutorial_stmnist.rst",
              "scnn_net = nn.Sequential(Conv2d(2, 32, 4), Leaky, Conv2d(32, 64, 3), Leaky, MaxPool2d(2), ...) (line 413)",
              "", stmnist_cnn, (2, 10, 10), steps=30, today={"frontend": "xfail:MaxPool2d of spikes (an OR):layers"}),
    ]
