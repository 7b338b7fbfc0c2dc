"""SpiNNaker numeric family: impulse responses derived by hand, rounding rules, input checks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spikec.backends.reference.float_executor import simulate
from spikec.backends.reference.spinnaker_executor import run_network
from spikec.compiler.spinnaker.quantise import quantise_spinnaker
from spikec.compiler.spinnaker.format import mul_s1615, mul_u032
from spikec.ir.errors import InputError
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LIF, CubaLIF, Input, Linear, Output

DT = 1e-3


def one_neuron(neuron, weight: float = 1.0) -> Graph:
    return Graph({"in": Input(shape=(1,)), "w": Linear(weight=[[weight]]), "n": neuron, "out": Output(shape=(1,))},
                 (("in", "w"), ("w", "n"), ("n", "out")), {"dt_s": DT})


def impulse(steps: int, at: tuple[int, ...] = (0,)) -> np.ndarray:
    x = np.zeros((steps, 1))
    x[list(at)] = 1
    return x


def test_lif_with_decay_one_half_halves_the_membrane_every_tick():
    # tau = 2 dt: v_t = v_{t-1} / 2 + x_t / 2; one input spike at t = 0 gives 0.5, 0.25, 0.125, 0.0625
    graph = one_neuron(LIF(tau=[2 * DT], r=[1.0], v_leak=[0.0], v_threshold=[100.0], v_reset=[0.0]))
    net = quantise_spinnaker(graph, DT)
    v = run_network(net, impulse(4), record=("v",))["n.v"][:, 0]
    np.testing.assert_array_equal(v, [0.5, 0.25, 0.125, 0.0625])


def test_cuba_lif_impulse_response_by_hand():
    # a_syn = a_mem = 1/2, r = w_in = 1: I = I/2 + x/2, v = v/2 + I/2
    # t=0: I = 1/2, v = 1/4;  t=1: I = 1/4, v = 1/8 + 1/8 = 1/4;  t=2: I = 1/8, v = 1/8 + 1/16 = 3/16
    graph = one_neuron(CubaLIF(tau_syn=[2 * DT], tau_mem=[2 * DT], r=[1.0], v_leak=[0.0], v_threshold=[100.0],
                               v_reset=[0.0], w_in=[1.0]))
    v = run_network(quantise_spinnaker(graph, DT), impulse(3), record=("v",))["n.v"][:, 0]
    np.testing.assert_array_equal(v, [0.25, 0.25, 0.1875])


def test_threshold_keeps_the_graphs_strict_comparison_on_hardware_that_tests_greater_or_equal():
    # IF, weight 0.5, threshold 1: v = 0.5, 1.0 (equal: no spike under '>'), 1.5 -> spike, reset to 0
    graph = one_neuron(IF(r=[1.0], v_threshold=[1.0], v_reset=[0.0]), weight=0.5)
    net = quantise_spinnaker(graph, DT, spike_compare=">=")
    params = net.population("n").params
    assert params.v_thresh[0] == params.v_subtract[0] + 1  # '>' emulated with '>='
    out = run_network(net, impulse(4, (0, 1, 2)), record=("v",))
    np.testing.assert_array_equal(out["out"][:, 0], [0, 0, 1, 0])
    np.testing.assert_array_equal(out["n.v"][:, 0], [0.5, 1.0, 0.0, 0.0])


def test_subtractive_reset_keeps_the_excess():
    graph = one_neuron(IF(r=[1.0], v_threshold=[1.0], v_reset=[0.0], reset="subtract"), weight=0.75)
    out = run_network(quantise_spinnaker(graph, DT), impulse(3, (0, 1, 2)), record=("v",))
    # 0.75; 1.5 -> spike, 0.5; 1.25 -> spike, 0.25
    np.testing.assert_array_equal(out["out"][:, 0], [0, 1, 1])
    np.testing.assert_array_equal(out["n.v"][:, 0], [0.75, 0.5, 0.25])


def test_delayed_reset_applies_after_the_next_ticks_input():
    # snnTorch's reset_delay: spike at t=1 (v=1.5), reset at t=2 after adding that tick's input: 0.75 - 1 + ...
    graph = one_neuron(IF(r=[1.0], v_threshold=[1.0], v_reset=[0.0], reset="subtract", reset_delay=True), weight=0.75)
    x = impulse(4, (0, 1, 2, 3))
    ours = run_network(quantise_spinnaker(graph, DT), x, record=("v",))
    ref = simulate(graph, x, DT, record=("v",))
    np.testing.assert_array_equal(ours["out"], ref["out"])
    np.testing.assert_array_equal(ours["n.v"], ref["n.v"])  # all values are exact in s16.15


def test_products_round_toward_minus_infinity():
    assert int(mul_s1615(np.int64(-3), np.int64(1 << 14))) == -2  # -1.5 -> -2
    assert int(mul_s1615(np.int64(3), np.int64(1 << 14))) == 1


@given(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(0, (1 << 32) - 1))
def test_u032_product_equals_exact_integer_arithmetic(a, d):
    assert int(mul_u032(np.int64(a), np.int64(d))) == (a * d) >> 32


def test_inputs_must_be_spikes():
    net = quantise_spinnaker(one_neuron(IF(r=[1.0], v_threshold=[1.0], v_reset=[0.0])), DT)
    with pytest.raises(InputError, match="0 or 1"):
        run_network(net, np.full((3, 1), 0.5))


def test_reset_recheck_matches_the_float_reference_where_values_are_exact():
    # snnTorch's immediate subtraction: weight 1.75, threshold 1: v = 1.75 -> spike, 0.75; +1.75 = 2.5 but the
    # stored 0.75 was not above threshold -> spike, 1.5; next 3.25 - (1.5 > 1) * 1 = 2.25 > 1 -> spike ...
    graph = one_neuron(IF(r=[1.0], v_threshold=[1.0], v_reset=[0.0], reset="subtract", reset_recheck=True),
                       weight=1.75)
    x = impulse(6, (0, 1, 2, 3, 4, 5))
    ours = run_network(quantise_spinnaker(graph, DT), x, record=("v",))
    ref = simulate(graph, x, DT, record=("v",))
    assert ref["out"].sum() > 0
    np.testing.assert_array_equal(ours["out"], ref["out"])
    np.testing.assert_array_equal(ours["n.v"], ref["n.v"])
