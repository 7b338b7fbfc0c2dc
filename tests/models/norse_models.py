"""Norse models of the corpus: Norse's tasks, models and tests.

Builders follow the cited definitions with seeded random weights. Norse cells
are stepped one frame at a time (``forward(x, state) -> (y, state)``), which is
how its tasks call them; where a task wraps the net in a Lightning module or a
time loop, the step function alone is kept (stated per entry).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

import norse.torch as nt

from corpus_core import Entry, excite

NORSE = "norse/norse"
LSNN = "refuse:Norse LSNNRecurrentCell cannot be compiled exactly: its threshold adapts"


def seeded(seed: int, module: nn.Module, gain: float = 2.0, **kw: Any) -> nn.Module:
    torch.manual_seed(seed)
    return excite(module, seed, gain, **kw)


class TwoSequentials(nn.Module):
    """norse/task/cifar10.py LIFConvNet's step: ``features`` then ``classification``, each a SequentialState."""

    def __init__(self, features: nn.Module, classification: nn.Module) -> None:
        super().__init__()
        self.features, self.classification = features, classification

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        sf, sc = state if state is not None else (None, None)
        z, sf = self.features(x, sf)
        y, sc = self.classification(z, sc)
        return y, (sf, sc)


def cifar10_parts(c: tuple[int, ...] = (8, 16, 32, 32)) -> tuple[list[nn.Module], list[nn.Module]]:
    p = nt.LIFParameters()
    features = [
        nn.Conv2d(3, c[0], kernel_size=3, stride=1, padding=1, bias=False), nt.LIFCell(p),
        nn.Conv2d(c[0], c[1], kernel_size=3, stride=1, padding=1, bias=False), nt.LIFCell(p), nn.MaxPool2d(2),
        nn.Conv2d(c[1], c[2], kernel_size=3, stride=1, padding=1, bias=False), nt.LIFCell(p), nn.MaxPool2d(2),
        nn.Conv2d(c[2], c[3], kernel_size=3, stride=1, padding=1, bias=False), nt.LIFCell(p), nn.MaxPool2d(2),
        nn.Flatten(),
    ]
    return features, [nn.Linear(c[3] * 2 * 2, 10, bias=False), nt.LICell()]


def cifar10_lifconvnet() -> nn.Module:
    f, c = cifar10_parts()
    return seeded(41, TwoSequentials(nt.SequentialState(*f), nt.SequentialState(*c)), 6.0)


def cifar10_features_flat() -> nn.Module:
    f, c = cifar10_parts()
    return seeded(42, nt.SequentialState(*f, *c), 6.0)


def convnet() -> nn.Module:
    p = nt.LIFParameters(method="super", alpha=torch.tensor(100.0))
    return seeded(43, nt.SequentialState(
        nn.Conv2d(1, 20, 5, 1), nt.LIFCell(p), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5, 1), nt.LIFCell(p), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(4 * 4 * 50, 64), nt.LIFCell(p),
        nn.Linear(64, 10), nt.LICell(),
    ), 8.0)


def sequential_linear_lif() -> nn.Module:
    net = nt.SequentialState(nn.Linear(1, 1), nt.LIFCell())
    torch.manual_seed(44)
    with torch.no_grad():
        net[0].weight.fill_(0.9)
        net[0].bias.fill_(0.0)
    return net


def export_sequential() -> nn.Module:
    return seeded(45, nt.SequentialState(nt.LIFBoxCell(), nn.Linear(10, 2), nt.LIBoxCell(), nn.Linear(2, 1)), 3.0)


def lifbox_mlp(per_neuron: bool = False) -> nn.Module:
    """test_lif_box_integral_numerics' cell, LIFBoxParameters(tau_mem_inv=700, v_th=1, v_leak=0, v_reset=0), in a 20-32-5 net."""
    def p(tau: torch.Tensor) -> nt.LIFBoxParameters:
        n = tau.numel()
        return nt.LIFBoxParameters(tau_mem_inv=tau, v_th=torch.ones(n), v_leak=torch.zeros(n), v_reset=torch.zeros(n))

    tau = torch.linspace(500.0, 900.0, 32) if per_neuron else torch.ones(1) * 700
    return seeded(46 + per_neuron, nt.SequentialState(nn.Linear(20, 32), nt.LIFBoxCell(p(tau)), nn.Linear(32, 5),
                                                      nt.LIFBoxCell(p(torch.ones(1) * 700))), 6.0)


def lif_li_readout() -> nn.Module:
    return seeded(48, nt.SequentialState(nn.Linear(20, 40), nt.LIFCell(), nn.Linear(40, 5), nt.LIBoxCell()), 6.0)


class LSNNLIFNet(nn.Module):
    """norse/task/memory.py LSNNLIFNet: an LIF and an LSNN recurrent cell side by side, outputs concatenated."""

    def __init__(self, input_features: int) -> None:
        super().__init__()
        n = input_features // 2
        self.lsnn_cell = nt.LSNNRecurrentCell(input_features, n)
        self.lif_cell = nt.LIFRecurrentCell(input_features, n)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        lif_state, lsnn_state = state if state is not None else (None, None)
        lif_out, lif_state = self.lif_cell(x, lif_state)
        lsnn_out, lsnn_state = self.lsnn_cell(x, lsnn_state)
        return torch.cat((lif_out, lsnn_out), -1), (lif_state, lsnn_state)


def memory_lsnn_lif() -> nn.Module:
    return seeded(49, LSNNLIFNet(20), 6.0)


def memory_lif_readout() -> nn.Module:
    return seeded(50, nt.SequentialState(nt.LIFRecurrentCell(20, 20), nn.Linear(20, 4), nt.LICell()), 6.0)


def sequential_hook() -> nn.Module:
    fast = nt.LIFParameters(tau_mem_inv=torch.tensor(500.0))  # so spikes pass through three cells with no weights between
    net = seeded(51, nt.SequentialState(nn.Linear(8, 10, bias=False), nt.LIFRecurrentCell(10, 10),
                                        nt.LIFCell(fast), nt.LIFCell(fast), nt.LIFCell(fast)), 6.0)
    gen = torch.Generator().manual_seed(51)
    with torch.no_grad():  # strong enough that spikes get through three more LIF cells
        net[1].input_weights.copy_(torch.rand(10, 10, generator=gen) * 12.0)
    return net


def lsnn_sequential() -> nn.Module:
    return seeded(52, nt.SequentialState(nn.Linear(10, 16), nt.LSNNRecurrentCell(16, 16), nn.Linear(16, 4), nt.LIFCell()), 18.0)


def lifbox_conv() -> nn.Module:
    return seeded(53, nt.SequentialState(nn.Conv2d(2, 4, 3), nt.LIFBoxCell(), nn.AvgPool2d(2), nn.Flatten(),
                                         nn.Linear(4 * 3 * 3, 5), nt.LIFBoxCell()), 40.0)


def entries() -> list[Entry]:
    return [
        Entry("norse-cifar10-lifconvnet", "norse", NORSE, "norse/task/cifar10.py",
              "class LIFConvNet: self.features and self.classification, two SequentialStates",
              "channels 64/128/256/256 -> 8/16/32/32, input 3x32x32 -> 3x16x16 (Linear 4096 -> 128); no training noise",
              cifar10_lifconvnet, (3, 16, 16), steps=20, readout="voltage"),
        Entry("norse-cifar10-one-sequential", "norse", NORSE, "norse/task/cifar10.py",
              "class LIFConvNet, features + classification in one SequentialState",
              "as norse-cifar10-lifconvnet, both SequentialStates joined into one", cifar10_features_flat, (3, 16, 16),
              steps=20, readout="voltage"),
        Entry("norse-models-convnet", "norse", NORSE, "norse/torch/models/conv.py",
              "class ConvNet (conv1, lif0, max_pool2d, 10*conv2, lif1, max_pool2d, fc1, lif2, out LILinearCell)",
              "written as a SequentialState: the 10x on conv2 folded into its weights, relu on spikes dropped (identity), "
              "LILinearCell(500, 10) as Linear + LICell, fc1 500 -> 64", convnet, (1, 28, 28), steps=20,
              readout="voltage"),
        Entry("norse-test-sequential-lif", "norse", NORSE, "norse/torch/module/test/test_sequential.py",
              "test_state_sequence_apply_no_state: SequentialState(nn.Linear(1, 1), LIFCell())",
              "weight 0.9, bias 0 (so the single neuron fires)", sequential_linear_lif, (1,), steps=80, rate=0.6,
              lava_fast=True, extra_targets=("loihi1", "spinnaker2", "rram-256")),
        Entry("norse-test-export-sequential", "norse", NORSE, "norse/torch/utils/test/test_nir_export.py",
              "test_sequential: SequentialState(LIFBoxCell(), Linear(10, 2), LIBoxCell(), Linear(2, 1))",
              "", export_sequential, (10,), steps=60, readout="voltage", today={}),
        Entry("norse-lifbox-mlp", "norse", NORSE, "norse/torch/module/test/test_lif_box.py",
              "test_lif_box_integral_numerics: LIFBoxCell(LIFBoxParameters(tau_mem_inv=700, v_th=1, v_leak=0, v_reset=0))",
              "a 20-32-5 SequentialState of that cell", lambda: lifbox_mlp(False), (20,), steps=60),
        Entry("norse-lifbox-per-neuron-tau", "norse", NORSE, "norse/torch/module/test/test_lif_box.py",
              "test_lif_box_integral_numerics' cell with a tensor tau_mem_inv (one per neuron)",
              "hidden tau_mem_inv = linspace(500, 900, 32)",
              lambda: lifbox_mlp(True), (20,), steps=60),
        Entry("norse-lif-li-readout", "norse", NORSE, "norse/torch/module/test/test_leaky_integrator_box.py",
              "LIFCell hidden layer, LIBoxCell read-out in a SequentialState", "a 20-40-5 network", lif_li_readout, (20,),
              steps=60, readout="voltage"),
        Entry("norse-memory-lsnn-lif", "norse", NORSE, "norse/task/memory.py", "class LSNNLIFNet (LIFRecurrentCell and LSNNRecurrentCell)",
              "default parameters and dt", memory_lsnn_lif, (20,), steps=60, today={"frontend": LSNN}),
        Entry("norse-memory-lif-readout", "norse", NORSE, "norse/task/memory.py",
              "class MemoryNet, model='lif': LIFRecurrentCell(input, input) then LILinearCell read-out",
              "as a SequentialState; LILinearCell as Linear + LICell", memory_lif_readout, (20,), steps=60,
              readout="voltage"),
        Entry("norse-test-sequential-hook", "norse", NORSE, "norse/torch/module/test/test_sequential.py",
              "test_sequential_forward_state_hook: Linear(1, 10), LIFRecurrent(10, 10), LIF(), LIF(), LIF()",
              "the cell forms (LIFRecurrentCell, LIFCell) stepped per frame; input 8 features; input weights uniform(0, 12); "
              "the LIFCells with tau_mem_inv 500 (at Norse's 100 spikes die out within three cells)", sequential_hook, (8,),
              steps=60),
        Entry("norse-test-lsnn-sequential", "norse", NORSE, "norse/torch/module/test/test_sequential.py",
              "test_state_sequence_norse: SequentialState(LIFRecurrent(10, 5), LSNNRecurrent(5, 1))",
              "the cell forms, with Linear layers around an LSNNRecurrentCell(16, 16) and a LIFCell output", lsnn_sequential, (10,),
              steps=60, today={"frontend": LSNN}),
        Entry("norse-test-conv-lifbox", "norse", NORSE, "norse/torch/module/test/test_sequential.py",
              "test_state_sequence_conv: SequentialState(Conv2d, Flatten, ...) with LIFBoxCells",
              "cells LIFBoxCell; AvgPool2d, Flatten, Linear, LIFBoxCell after the conv; 2x8x8 frames", lifbox_conv, (2, 8, 8), steps=40,
              extra_targets=("loihi1", "spinnaker2", "rram-256")),
    ]
