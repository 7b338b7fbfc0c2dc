"""SpiNNaker numeric family: impulse responses derived by hand, rounding rules, input checks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spikec.backends.reference.float_executor import simulate
from spikec.backends.reference.spinnaker_executor import run_network
from spikec.compiler.spinnaker.quantise import quantise_spinnaker
from spikec.compiler.spinnaker.format import mul_s1615, mul_u032
from spikec.ir.errors import CompileError, InputError
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LI, LIF, CubaLIF, Input, Linear, Output

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


def li_chain(current: LI, membrane: LI, weight: float = 1.0) -> Graph:
    """in -> w -> syn (LI) -> mem (LI) -> out: Norse's LICell, one cuba_li population on SpiNNaker."""
    return Graph({"in": Input(shape=(1,)), "w": Linear(weight=[[weight]]), "syn": current, "mem": membrane,
                  "out": Output(shape=(1,))}, (("in", "w"), ("w", "syn"), ("syn", "mem"), ("mem", "out")), {"dt_s": DT})


def test_fused_li_chain_impulse_response_by_hand_sees_this_steps_current():
    # a_A = a_B = 1/2, r = 1: u = u/2 + x/2, v = v/2 + u/2 with u of the same step (the float reference's order)
    # t=0: u = 1/2, v = 1/4;  t=1: u = 1/4, v = 1/4;  t=2: u = 1/8, v = 3/16  (last step's u would give 0, 1/4, 1/4)
    lin = LI(tau=[2 * DT], r=[1.0], v_leak=[0.0])
    graph = li_chain(lin, lin)
    net = quantise_spinnaker(graph, DT)
    assert [p.name for p in net.populations] == ["in", "mem"] and net.population("mem").params.model == "cuba_li"
    out = run_network(net, impulse(3), record=("v",))
    np.testing.assert_array_equal(out["out"][:, 0], [0.25, 0.25, 0.1875])
    np.testing.assert_array_equal(out["out"], simulate(graph, impulse(3), DT)["out"])


def test_fused_li_chain_leaks_by_hand_the_currents_into_j_the_membranes_into_v():
    # no input; syn: a = 1/2, v_leak 1 -> u = 1/2, 3/4, 7/8; mem: a = 1/4, r = 2, v_leak 1/2:
    # v = 3/4 v + 1/8 + u/2 -> 3/8, 25/32, 147/128
    graph = li_chain(LI(tau=[2 * DT], r=[1.0], v_leak=[1.0]), LI(tau=[4 * DT], r=[2.0], v_leak=[0.5]))
    params = quantise_spinnaker(graph, DT).population("mem").params
    assert params.bias_j[0, 0] == params.scale / 4 and params.bias_v[0, 0] == params.scale / 8
    out = run_network(quantise_spinnaker(graph, DT), np.zeros((3, 1)))
    np.testing.assert_array_equal(out["out"][:, 0], [3 / 8, 25 / 32, 147 / 128])
    np.testing.assert_array_equal(out["out"], simulate(graph, np.zeros((3, 1)), DT)["out"])


def test_a_fused_current_shorter_than_dt_is_refused_naming_it():
    graph = li_chain(LI(tau=[0.5 * DT], r=[1.0], v_leak=[0.0]), LI(tau=[2 * DT], r=[1.0], v_leak=[0.0]))
    with pytest.raises(CompileError, match="tau shorter than dt") as err:
        quantise_spinnaker(graph, DT)
    assert err.value.node == "syn" and err.value.parameter == "tau"


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
