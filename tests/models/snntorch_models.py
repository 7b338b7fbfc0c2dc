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
#: max-pooling of currents: exact in float; no target computes a max of currents (docs/frontends.md, "MaxPool2d")
MAXPOOL_CURRENTS = {t: r"refuse:MaxPool2d of currents \(from '[^']+', a Conv2d\) has no exact form" for t in ("loihi2", "spinnaker1", "rram-512")}
ALPHA_RESET = r"refuse:Alpha with reset_mechanism='zero' cannot be compiled exactly"


class MembraneReadout(nn.Module):
    """``net``'s last neuron's membrane as the output (``_, mem = lif(cur)``, as tutorial_regression_1 reads li_out)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _spk, mem = self.net(x)
        return mem


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
               nn.Linear(64, 10), snn.Alpha(alpha=0.8, beta=0.7, threshold=0.5, init_hidden=True, output=True), gain=10.0)


def tutorial2_lapicque() -> nn.Module:
    return seq(17, nn.Linear(100, 64),
               snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism="zero", init_hidden=True),
               nn.Linear(64, 10),
               snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism="zero", init_hidden=True, output=True),
               gain=10.0)


def regression1() -> nn.Module:
    torch.manual_seed(18)
    hidden = 32
    net = nn.Sequential(
        nn.Linear(1, hidden), leaky(torch.rand(hidden), threshold=torch.rand(hidden), learn_beta=True),
        nn.Linear(hidden, hidden), leaky(torch.rand(hidden), threshold=torch.rand(hidden), learn_beta=True),
        nn.Linear(hidden, 1), leaky(torch.rand(1), threshold=1.0, learn_beta=True, reset_mechanism="none", output=True),
    )
    return MembraneReadout(excite(net, 18, 2.0))


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


# --- more neurons, layers and graph shapes ------------------------------------------------------


def leaky_reset_none() -> nn.Module:
    return MembraneReadout(seq(61, nn.Linear(50, 32), leaky(0.5, reset_mechanism="zero"),
                               nn.Linear(32, 5), leaky(0.5, reset_mechanism="none", output=True), gain=2.0))


def leaky_reset_zero() -> nn.Module:
    return seq(62, nn.Linear(50, 32), leaky(0.5, reset_mechanism="zero"), nn.Linear(32, 5),
               leaky(0.5, reset_mechanism="zero", output=True), gain=4.0)


def leaky_graded() -> nn.Module:
    return seq(63, nn.Linear(50, 32), leaky(0.5, graded_spikes_factor=2.0), nn.Linear(32, 5),
               leaky(0.5, graded_spikes_factor=2.0, output=True), gain=6.0)


def rsynaptic_hidden_zero() -> nn.Module:
    return seq(64, nn.Linear(50, 32), snn.RSynaptic(alpha=0.5, beta=0.5, V=0.5, all_to_all=False, init_hidden=True, reset_mechanism="zero"),
               nn.Linear(32, 5), snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True, output=True), gain=4.0)


def regression2_rleaky_conv() -> nn.Module:
    return seq(65, nn.Conv2d(1, 3, 5), snn.RLeaky(beta=0.9, conv2d_channels=3, kernel_size=(5, 5), init_hidden=True),
               nn.Flatten(), nn.Linear(3 * 8 * 8, 10), leaky(0.9, output=True), gain=6.0)


class NetWithAvgPool(nn.Module):
    """snnTorch tests/test_nir.py NetWithAvgPool: conv, avg-pool (of currents), flatten, Leaky, fc, Leaky."""

    def __init__(self, side: int = 14) -> None:
        super().__init__()
        n = side * side * 16 // 4
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.lif1 = snn.Leaky(beta=0.9 * torch.ones(n), threshold=torch.ones(n), init_hidden=True)
        self.fc1 = nn.Linear(n, 500)
        self.lif2 = snn.Leaky(beta=0.9 * torch.ones(500), threshold=torch.ones(500), init_hidden=True, output=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv1(x))
        x = self.flatten(x)
        x = self.lif1(x)
        x = self.fc1(x)
        return self.lif2(x)


def net_with_avg_pool() -> nn.Module:
    torch.manual_seed(66)
    return excite(NetWithAvgPool(), 66, 4.0)


class Residual(nn.Module):
    """NIR's test_residual written as the snnTorch module a user writes: ``fc_e(spk_d) + fc_a(x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc_a, self.lif_b = nn.Linear(8, 16), leaky(0.9)
        self.fc_c, self.lif_d = nn.Linear(16, 16), leaky(0.9)
        self.fc_e, self.skip = nn.Linear(16, 4), nn.Linear(16, 4)
        self.lif_f = leaky(0.9, output=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spk_b = self.lif_b(self.fc_a(x))
        spk_d = self.lif_d(self.fc_c(spk_b))
        return self.lif_f(self.fc_e(spk_d) + self.skip(spk_b))


def residual() -> nn.Module:
    torch.manual_seed(67)
    return excite(Residual(), 67, 3.0)


class SAEEncoder(nn.Module):
    """tutorial_sae.rst SAE.encoder: three stride-2 convs, each BatchNorm2d + Leaky, then Linear + Leaky."""

    def __init__(self, latent_dim: int = 16, thresh: float = 1.0, beta: float = 0.9) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), leaky(beta, threshold=thresh),
            nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.BatchNorm2d(64), leaky(beta, threshold=thresh),
            nn.Conv2d(64, 128, 3, padding=1, stride=2), nn.BatchNorm2d(128), leaky(beta, threshold=thresh),
            nn.Flatten(start_dim=1, end_dim=3), nn.Linear(128 * 4 * 4, latent_dim), leaky(beta, threshold=thresh, output=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


def with_batchnorm_stats(module: nn.Module, seed: int) -> nn.Module:
    """Eval-mode BatchNorm with seeded running statistics and affine parameters (what training leaves)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.rand(n, generator=gen) * 0.2)
    return module.eval()


def sae_encoder() -> nn.Module:
    torch.manual_seed(68)
    return with_batchnorm_stats(excite(SAEEncoder(), 68, 4.0), 68)


class BSNN(nn.Module):
    """examples/tutorial_BSNN.ipynb BSNN: (binary) conv, BatchNorm2d, MaxPool2d, Leaky, twice; flatten, linear, Dropout, Leaky."""

    def __init__(self, beta: float = 0.9, dropout: float = 0.2) -> None:
        super().__init__()
        self.bin_conv_1 = nn.Conv2d(1, 16, 3, padding="same", bias=False)
        self.batch_norm_1, self.max_pool_1 = nn.BatchNorm2d(16), nn.MaxPool2d(2)
        self.lif1 = snn.Leaky(beta=beta, threshold=1.0, init_hidden=True)
        self.bin_conv_2 = nn.Conv2d(16, 32, 3, padding="same", bias=False)
        self.batch_norm_2, self.max_pool_2 = nn.BatchNorm2d(32), nn.MaxPool2d(2)
        self.lif2 = snn.Leaky(beta=beta, threshold=1.0, init_hidden=True)
        self.flatten = nn.Flatten()
        self.bin_fully_connected_1 = nn.Linear(32 * 5 * 5, 10, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.lif3 = snn.Leaky(beta=beta, threshold=1.0, init_hidden=True, output=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lif1(self.max_pool_1(self.batch_norm_1(self.bin_conv_1(x))))
        x = self.lif2(self.max_pool_2(self.batch_norm_2(self.bin_conv_2(x))))
        return self.lif3(self.dropout(self.bin_fully_connected_1(self.flatten(x))))


def bsnn() -> nn.Module:
    torch.manual_seed(69)
    net = BSNN()
    gen = torch.Generator().manual_seed(69)
    with torch.no_grad():  # the tutorial's Binarize: weights are +-1 in the forward pass
        for m in (net.bin_conv_1, net.bin_conv_2, net.bin_fully_connected_1):
            m.weight.copy_(torch.where(torch.rand(m.weight.shape, generator=gen) < 0.5, 1.0, -1.0) * 0.1)
    return with_batchnorm_stats(net, 69)


class MLPDropout(nn.Module):
    """tutorial_BSNN's fully connected tail alone: Linear, Dropout (eval: identity), Leaky."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(100, 64), leaky(0.9)
        self.fc2, self.dropout, self.lif2 = nn.Linear(64, 10), nn.Dropout(0.2), leaky(0.9, output=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif2(self.dropout(self.fc2(self.lif1(self.fc1(x)))))


def mlp_dropout() -> nn.Module:
    torch.manual_seed(70)
    return excite(MLPDropout(), 70, 2.0).eval()


def mlp_batchnorm1d() -> nn.Module:
    torch.manual_seed(71)
    net = nn.Sequential(nn.Linear(100, 64), nn.BatchNorm1d(64), leaky(0.9), nn.Linear(64, 10), leaky(0.9, output=True))
    return with_batchnorm_stats(excite(net, 71, 2.0), 71)


class Exoplanet(nn.Module):
    """tutorial_exoplanet_hunter.rst Net: fc1, max_pool1d of its currents, lif1, fc2, max_pool1d, lif2, fc3 (returns cur3)."""

    def __init__(self, n_in: int = 200, beta: float = 0.9) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(n_in, 128), leaky(beta)
        self.fc2, self.lif2 = nn.Linear(64, 64), leaky(beta)
        self.fc3, self.lif3 = nn.Linear(32, 2), leaky(beta, output=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spk1 = self.lif1(torch.nn.functional.max_pool1d(self.fc1(x), 2))
        spk2 = self.lif2(torch.nn.functional.max_pool1d(self.fc2(spk1), 2))
        return self.lif3(self.fc3(spk2))


def exoplanet() -> nn.Module:
    torch.manual_seed(72)
    return excite(Exoplanet(), 72, 3.0)


def conftest_alpha() -> nn.Module:
    """snnTorch tests/conftest.py Net: fc1 Linear(1, 1), lif1 Synaptic(alpha=0.5, beta=0.5), lif2 Alpha(alpha=0.6, beta=0.5)."""
    return seq(73, nn.Linear(1, 1), snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True),
               snn.Alpha(alpha=0.6, beta=0.5, init_hidden=True, output=True), gain=20.0)


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
              extra_targets=("loihi1",)),
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
              today={"frontend": ALPHA_RESET}),
        Entry("snntorch-tutorial2-lapicque", "snntorch", SNN, tut + "tutorial_2.rst",
              "lif4 = snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism='zero') (line 889)",
              "a 100-64-10 network of that neuron", tutorial2_lapicque, (100,), steps=60),
        Entry("snntorch-regression1", "snntorch", SNN, tut + "tutorial_regression_1.rst",
              "class Net: Leaky(beta=rand(hidden), threshold=rand(hidden), learn_beta=True) x2, li_out reset_mechanism='none'",
              "init_hidden form; hidden 128 -> 32; input one value per step as spikes", regression1, (1,), steps=60, rate=0.5,
              readout="voltage", today={}),
        Entry("snntorch-regression2-rleaky", "snntorch", SNN, tut + "tutorial_regression_2.rst",
              "class Net: rlif1 RLeaky(beta, linear_features=hidden), rlif2 RLeaky(linear_features=10) (line 267)",
              "init_hidden form", regression2_rleaky, (784,), steps=40),
        Entry("snntorch-test-nir-rsynaptic", "snntorch", SNN, "tests/test_nir.py", "fixture snntorch_recurrent (RSynaptic V=ones, all_to_all=False)",
              "width 500 -> 200", test_nir_rsynaptic, (784,), steps=40),
        Entry("snntorch-test-nir-rleaky", "snntorch", SNN, "tests/test_nir.py", "fixture snntorch_rleaky (RLeaky V=ones, all_to_all=False)",
              "width 500 -> 200", test_nir_rleaky, (784,), steps=40),
        Entry("snntorch-quickstart-cnn", "snntorch", SNN, "docs/quickstart.rst", "net = nn.Sequential(Conv2d(1, 8, 5), MaxPool2d(2), Leaky, ...) (line 104)",
              "", quickstart_cnn, (1, 28, 28), steps=20, today=MAXPOOL_CURRENTS),
        Entry("snntorch-tutorial6-cnn", "snntorch", SNN, tut + "tutorial_6.rst", "net = nn.Sequential(Conv2d(1, 12, 5), MaxPool2d(2), Leaky, ...) (line 276)",
              "", tutorial6_cnn, (1, 28, 28), steps=20, today=MAXPOOL_CURRENTS),
        Entry("snntorch-tutorial7-nmnist-cnn", "snntorch", SNN, tut + "tutorial_7.rst", "net = nn.Sequential(Conv2d(2, 12, 5), MaxPool2d(2), Leaky, ...) (line 245)",
              "", tutorial7_nmnist_cnn, (2, 34, 34), steps=20, slow=True, today=MAXPOOL_CURRENTS),
        Entry("snntorch-stmnist-cnn", "snntorch", SNN, tut + "tutorial_stmnist.rst",
              "scnn_net = nn.Sequential(Conv2d(2, 32, 4), Leaky, Conv2d(32, 64, 3), Leaky, MaxPool2d(2), ...) (line 413)",
              "", stmnist_cnn, (2, 10, 10), steps=30),
        Entry("snntorch-test-leaky-reset-none", "snntorch", SNN, "tests/test_snntorch/test_leaky.py",
              "fixture leaky_hidden_reset_none_instance: Leaky(beta=0.5, init_hidden=True, reset_mechanism='none')",
              "as the output layer of a 50-32-5 network (hidden: reset zero)", leaky_reset_none, (50,), steps=60,
              readout="voltage", today={}),
        Entry("snntorch-test-leaky-reset-zero", "snntorch", SNN, "tests/test_snntorch/test_leaky.py",
              "fixture leaky_hidden_reset_zero_instance: Leaky(beta=0.5, init_hidden=True, reset_mechanism='zero')",
              "a 50-32-5 network of that neuron", leaky_reset_zero, (50,), steps=60, extra_targets=("loihi1", "spinnaker2", "rram-256")),
        Entry("snntorch-graded-spikes", "snntorch", SNN, "snntorch/_neurons/neurons.py",
              "SpikingNeuron(graded_spikes_factor=...): spk = spk * graded_spikes_factor (line 83)",
              "graded_spikes_factor=2.0 (tests/test_snntorch/test_linearleaky.py uses 2.0) on a 50-32-5 Leaky network",
              leaky_graded, (50,), steps=60, today={}),
        Entry("snntorch-test-rsynaptic-zero", "snntorch", SNN, "tests/test_snntorch/test_rsynaptic.py",
              "fixture rsynaptic_hidden_reset_zero_instance: RSynaptic(alpha=0.5, beta=0.5, V=0.5, init_hidden=True, reset 'zero')",
              "all_to_all=False as the non-hidden fixtures; a 50-32-5 network with a Synaptic output", rsynaptic_hidden_zero, (50,), steps=60),
        Entry("snntorch-regression2-rleaky-conv", "snntorch", SNN, "docs/tutorials/tutorial_regression_2.rst",
              "rlif = snn.RLeaky(beta=beta, conv2d_channels=3, kernel_size=(5,5)) (line 240)",
              "behind a Conv2d(1, 3, 5) on 12x12 frames, then Flatten, Linear, Leaky", regression2_rleaky_conv, (1, 12, 12), steps=40),
        Entry("snntorch-test-nir-avgpool", "snntorch", SNN, "tests/test_nir.py", "class NetWithAvgPool (conv1, AvgPool2d of currents, flatten, lif1, fc1, lif2)",
              "input 28x28 -> 14x14 (lif1 3136 -> 784 neurons)", net_with_avg_pool, (1, 14, 14), steps=20),
        Entry("snntorch-residual-module", "snntorch", "neuromorphs/NIR", "tests/test_architectures.py",
              "test_residual (a -> e skip) as a custom nn.Module: lif_f(fc_e(spk_d) + skip(spk_b))",
              "the NIR test's graph written in snnTorch (the issue's 'a + b' module); widths 8-16-16-4", residual, (8,), steps=60,
              ),
        Entry("snntorch-sae-encoder", "snntorch", SNN, "docs/tutorials/tutorial_sae.rst", "class SAE, self.encoder (line 236): Conv2d, BatchNorm2d, Leaky x3, Linear, Leaky",
              "encoder only, in a module; latent_dim 16, thresh 1; eval-mode BatchNorm with seeded statistics", sae_encoder, (1, 32, 32),
              steps=20, today={"loihi2": r"refuse:the network needs 212 cores, 84 more than the 128"}),
        Entry("snntorch-bsnn", "snntorch", SNN, "examples/tutorial_BSNN.ipynb",
              "class BSNN: BinaryConv2d, BatchNorm2d, MaxPool2d, Leaky (x2), Flatten, BinaryLinear, Dropout, Leaky",
              "binarised weights fixed at +-0.1 (plain Conv2d/Linear), eval mode; input 20x20 so Linear(32*5*5) fits", bsnn, (1, 20, 20),
              steps=20, today=MAXPOOL_CURRENTS),
        Entry("snntorch-mlp-dropout", "snntorch", SNN, "examples/tutorial_BSNN.ipynb",
              "BSNN's tail: Linear, Dropout, Leaky (self.dropout = nn.Dropout(self.dropout_percent))",
              "fully connected 100-64-10, full precision, eval mode", mlp_dropout, (100,), steps=60),
        Entry("snntorch-mlp-batchnorm1d", "snntorch", SNN, "docs/tutorials/tutorial_sae.rst",
              "the encoder's Conv + BatchNorm + Leaky pattern on a Linear layer (BatchNorm1d)",
              "100-64-10; eval-mode BatchNorm1d with seeded statistics", mlp_batchnorm1d, (100,), steps=60),
        Entry("snntorch-exoplanet", "snntorch", SNN, "docs/tutorials/tutorial_exoplanet_hunter.rst",
              "class Net: F.max_pool1d(self.fc1(x), 2) -> lif1 -> F.max_pool1d(self.fc2(spk1), 2) -> lif2 -> fc3",
              "init_hidden form; input 3197 -> 200 features; a lif3 on fc3 (the tutorial returns cur3)", exoplanet, (200,), steps=40,
              today={t: r"refuse:MaxPool2d of currents \(from 'fc1', a Affine\) has no exact form" for t in ("loihi2", "spinnaker1", "rram-512")}),
        Entry("snntorch-conftest-alpha", "snntorch", SNN, "tests/conftest.py", "class Net: fc1 Linear(1, 1), lif1 Synaptic(alpha=0.5, beta=0.5), lif2 Alpha(alpha=0.6, beta=0.5)",
              "init_hidden form", conftest_alpha, (1,), steps=80, rate=0.6, today={"frontend": ALPHA_RESET}),
    ]
