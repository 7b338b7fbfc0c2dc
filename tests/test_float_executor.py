"""The float reference executor against values derived by hand (docs/semantics.md section 2)."""
from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.ir import Graph, GraphError, InputError
from spikec.ir.nodes import IF, LI, LIF, Affine, CubaLIF, Delay, Input, Integrator, Linear, Output, Threshold

DT = 1e-3


def chain(*named_nodes, n: int = 1, recurrent: tuple[tuple[str, str], ...] = ()) -> Graph:
    """input -> nodes... -> output, with optional extra (recurrent) edges."""
    nodes = {"in": Input(shape=(n,))}
    nodes.update(named_nodes)
    nodes["out"] = Output(shape=(n,))
    names = list(nodes)
    return Graph(nodes, tuple(zip(names[:-1], names[1:])) + recurrent)


def lif(tau=10 * DT, r=10.0, thr=1e9, reset="zero", reset_delay=False, v_reset=0.0, n=1):
    one = np.ones(n)
    return LIF(tau=tau * one, r=r * one, v_leak=0 * one, v_threshold=thr * one, v_reset=v_reset * one,
               reset=reset, reset_delay=reset_delay)


def impulse(steps: int, at: int = 0, n: int = 1, amp: float = 1.0) -> np.ndarray:
    x = np.zeros((steps, n))
    x[at] = amp
    return x


def test_lif_membrane_decays_by_one_minus_dt_over_tau():
    # dt/tau = 0.1 and r = tau/dt: an input of 1 lifts v by 1, then v shrinks by 0.9 per step.
    out = spikec.simulate(chain(("l", lif())), impulse(6), DT, record=("v",))
    np.testing.assert_allclose(out["l.v"][:, 0], [0.9**t for t in range(6)], rtol=1e-12)


def test_lif_spikes_strictly_above_threshold_and_resets_to_v_reset():
    x = np.array([[1.0], [0.0], [0.5], [0.6]])
    out = spikec.simulate(chain(("l", lif(tau=1e9, r=1e9 / DT, thr=1.0, v_reset=-0.25))), x, DT, record=("v",))
    # v: 1.0 (not > 1: no spike), ~1.0, ~1.5 -> spike, reset to -0.25, then +0.6
    np.testing.assert_array_equal(out["out"][:, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(out["l.v"][:, 0], [1.0, 1.0, -0.25, 0.35], atol=1e-6)


def test_subtractive_reset_keeps_the_excess():
    x = np.array([[2.5], [0.0], [0.0]])
    out = spikec.simulate(chain(("l", lif(tau=1e9, r=1e9 / DT, thr=1.0, reset="subtract"))), x, DT, record=("v",))
    np.testing.assert_array_equal(out["out"][:, 0], [1, 1, 0])  # 2.5 -> 1.5 -> 0.5
    np.testing.assert_allclose(out["l.v"][:, 0], [1.5, 0.5, 0.5], atol=1e-6)


def test_delayed_reset_applies_one_step_late_after_the_new_input():
    # snnTorch reset_delay=True: spike at t=0 (v=2.5), at t=1 v = 2.5 + 0.25 - 1 = 1.75 -> spike again,
    # at t=2 v = 1.75 + 0 - 1 = 0.75, no spike; the recorded v is the pre-reset value.
    x = np.array([[2.5], [0.25], [0.0], [0.0]])
    g = chain(("l", lif(tau=1e9, r=1e9 / DT, thr=1.0, reset="subtract", reset_delay=True)))
    out = spikec.simulate(g, x, DT, record=("v",))
    np.testing.assert_array_equal(out["out"][:, 0], [1, 1, 0, 0])
    np.testing.assert_allclose(out["l.v"][:, 0], [2.5, 1.75, 0.75, 0.75], atol=1e-6)
    zero = chain(("l", lif(tau=1e9, r=1e9 / DT, thr=1.0, reset="zero", reset_delay=True)))
    out = spikec.simulate(zero, x, DT, record=("v",))
    np.testing.assert_allclose(out["l.v"][:, 0], [2.5, 0.0, 0.0, 0.0], atol=1e-6)  # t=1 input lost to the reset


def test_reset_recheck_makes_a_still_high_neuron_clear_one_more_threshold():
    # v: 3.5 -> spike, stored 2.5 (> 1). Next step 2.5 + 0: plain subtract would spike (2.5 > 1);
    # with the recheck the test is 2.5 - 1 = 1.5 > 1 -> spike, stored 1.5; then 1.5 - 1 = 0.5 -> no spike.
    x = np.array([[3.5], [0.0], [0.0], [0.0]])
    base = lif(tau=1e9, r=1e9 / DT, thr=1.0, reset="subtract")
    plain = spikec.simulate(chain(("l", base)), x, DT)["out"][:, 0]
    recheck = spikec.simulate(chain(("l", base.replace(reset_recheck=True))), x, DT, record=("v",))
    np.testing.assert_array_equal(plain, [1, 1, 1, 0])
    np.testing.assert_array_equal(recheck["out"][:, 0], [1, 1, 0, 0])
    np.testing.assert_allclose(recheck["l.v"][:, 0], [2.5, 1.5, 1.5, 1.5], atol=1e-6)
    with pytest.raises(GraphError, match="reset_recheck applies only"):
        spikec.validate(chain(("l", base.replace(reset="zero", reset_recheck=True))))


def test_cuba_lif_current_then_membrane():
    # a_syn = 0.5, w_in = 2 (I jumps by x), a_mem = 0.1, r = 10 (v gains I).
    node = CubaLIF(tau_syn=[2 * DT], tau_mem=[10 * DT], r=[10.0], v_leak=[0.0], v_threshold=[1e9], v_reset=[0.0], w_in=[2.0])
    out = spikec.simulate(chain(("c", node)), impulse(4), DT, record=("v", "i"))
    i_expected = [1.0, 0.5, 0.25, 0.125]
    v_expected = [1.0, 0.9 + 0.5, (0.9 + 0.5) * 0.9 + 0.25, ((0.9 + 0.5) * 0.9 + 0.25) * 0.9 + 0.125]
    np.testing.assert_allclose(out["c.i"][:, 0], i_expected, rtol=1e-12)
    np.testing.assert_allclose(out["c.v"][:, 0], v_expected, rtol=1e-12)


def test_if_integrates_r_times_input_per_step_without_dt():
    node = IF(r=[0.5], v_threshold=[1.0], v_reset=[0.0])
    out = spikec.simulate(chain(("f", node)), np.ones((5, 1)), DT)
    np.testing.assert_array_equal(out["out"][:, 0], [0, 0, 1, 0, 0])  # 0.5, 1.0, 1.5 -> reset


def test_li_and_integrator_output_their_state():
    li = LI(tau=[10 * DT], r=[10.0], v_leak=[0.0])
    out = spikec.simulate(chain(("li", li)), impulse(3), DT)
    np.testing.assert_allclose(out["out"][:, 0], [1.0, 0.9, 0.81], rtol=1e-12)
    out = spikec.simulate(chain(("int", Integrator(r=[2.0]))), np.ones((3, 1)), DT)
    np.testing.assert_allclose(out["out"][:, 0], [2.0, 4.0, 6.0])


def test_recurrent_edge_takes_effect_one_step_later():
    # in -> lin -> lif -> out, lif -> rec -> lif. A spike at t=0 feeds back 2.0 at t=1.
    nodes = {
        "in": Input(shape=(1,)),
        "lin": Linear(weight=[[1.0]]),
        "lif": lif(tau=1e9, r=1e9 / DT, thr=0.5),
        "rec": Linear(weight=[[2.0]]),
        "out": Output(shape=(1,)),
    }
    g = Graph(nodes, (("in", "lin"), ("lin", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")))
    order, back = g.execution_order()
    assert back == {("rec", "lif")}
    out = spikec.simulate(g, impulse(4), DT, record=("v",))
    np.testing.assert_allclose(out["lif.v"][:, 0], [0.0, 0.0, 0.0, 0.0])  # reset each time
    np.testing.assert_array_equal(out["out"][:, 0], [1, 1, 1, 1])  # sustained by its own feedback, one step late


def test_delay_node_shifts_each_element_by_its_own_rounded_delay():
    node = Delay(delay=[0.0, 2 * DT, 3.4 * DT])
    x = np.zeros((6, 3))
    x[0] = 1
    out = spikec.simulate(chain(("d", node), n=3), x, DT)
    np.testing.assert_array_equal(np.argmax(out["out"], axis=0), [0, 2, 3])


def test_batched_and_unbatched_inputs_agree(rng):
    g = spikec.load_nir(__import__("conftest").NIR_PAPER / "braille_noDelay_bias_zero.nir")
    x = (rng.random((50, 3, 12)) < 0.3).astype(float)
    batched = spikec.simulate(g, x, 1e-4)["output"]
    assert batched.shape == (50, 3, 7)
    for b in range(3):
        np.testing.assert_array_equal(spikec.simulate(g, x[:, b], 1e-4)["output"], batched[:, b])


def test_affine_and_threshold():
    nodes = {"in": Input(shape=(2,)), "a": Affine(weight=[[1.0, -1.0]], bias=[0.5]), "t": Threshold(threshold=[1.0]), "out": Output(shape=(1,))}
    g = Graph(nodes, (("in", "a"), ("a", "t"), ("t", "out")))
    out = spikec.simulate(g, np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.0]]), DT)
    np.testing.assert_array_equal(out["out"][:, 0], [1, 0, 0])


def test_missing_dt_is_a_clear_error():
    with pytest.raises(spikec.SpikecError, match="node 'l': LIF needs a time step"):
        spikec.simulate(chain(("l", lif())), impulse(2), None)
    for bad in (0.0, -1e-3, float("nan")):
        with pytest.raises(spikec.SpikecError, match="node 'l': the time step must be a positive number of seconds"):
            spikec.simulate(chain(("l", lif())), impulse(2), bad)


def test_wrong_input_shape_names_the_input_and_both_layouts():
    with pytest.raises(InputError, match=r"node 'in': input array of shape \(5, 3\) fits neither \[T, 1\]"):
        spikec.simulate(chain(("l", lif())), np.zeros((5, 3)), DT)


# --- validation -------------------------------------------------------------------


def test_shape_mismatch_names_both_nodes_and_shapes():
    nodes = {"in": Input(shape=(3,)), "lin": Linear(weight=np.ones((2, 4))), "out": Output(shape=(2,))}
    with pytest.raises(GraphError, match=r"'in' outputs \(3,\), 'lin' expects \(4,\)"):
        spikec.validate(Graph(nodes, (("in", "lin"), ("lin", "out"))))


@pytest.mark.parametrize(
    "field, value, message",
    [("tau", 0.0, "time constant tau must be positive"), ("v_threshold", np.nan, "v_threshold is not finite"),
     ("r", np.inf, "r is not finite")],
)
def test_bad_parameters_are_named(field, value, message):
    node = lif().replace(**{field: [value]})
    with pytest.raises(GraphError, match=f"node 'l': .*{message}"):
        spikec.validate(chain(("l", node)))


def test_dangling_edge_and_missing_output():
    with pytest.raises(GraphError, match="refers to a node that does not exist"):
        spikec.validate(Graph({"in": Input(shape=(1,)), "out": Output(shape=(1,))}, (("in", "ghost"), ("in", "out"))))
    with pytest.raises(GraphError, match="no Output node"):
        spikec.validate(Graph({"in": Input(shape=(1,)), "l": lif()}, (("in", "l"),)))


def test_cycle_without_state_is_rejected():
    nodes = {"in": Input(shape=(1,)), "a": Linear(weight=[[1.0]]), "b": Linear(weight=[[1.0]]), "out": Output(shape=(1,))}
    g = Graph(nodes, (("in", "a"), ("a", "b"), ("b", "a"), ("b", "out")))
    with pytest.raises(GraphError, match="cycle a -> b has no stateful node"):
        spikec.validate(g)


def test_scalar_parameters_are_broadcast_to_the_layer_width():
    node = LIF(tau=0.01, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    nodes = {"in": Input(shape=(4,)), "lin": Linear(weight=np.ones((5, 4))), "l": node, "out": Output(shape=(5,))}
    g = spikec.normalise(Graph(nodes, (("in", "lin"), ("lin", "l"), ("l", "out"))))
    assert g.nodes["l"].tau.shape == (5,) and g.nodes["l"].v_reset.shape == (5,)


# --- per-synapse delays -------------------------------------------------------------


def delay_linear_graph(weight, delay_s) -> Graph:
    from spikec.ir.nodes import DelayLinear

    n_out, n_in = np.shape(weight)
    nodes = {"in": Input(shape=(n_in,)), "dl": DelayLinear(weight=weight, delay=delay_s), "out": Output(shape=(n_out,))}
    return Graph(nodes, (("in", "dl"), ("dl", "out")))


def test_delay_linear_delivers_each_synapse_after_its_own_delay():
    w = np.array([[1.0, 2.0], [0.0, 3.0]])
    d = np.array([[0.0, 2.0], [0.0, 1.0]]) * DT
    x = np.zeros((5, 2))
    x[0] = [1.0, 1.0]
    out = spikec.simulate(delay_linear_graph(w, d), x, DT)["out"]
    np.testing.assert_array_equal(out, [[1, 0], [0, 3], [2, 0], [0, 0], [0, 0]])


def test_delay_linear_equals_its_nir_branches_after_a_file_round_trip(tmp_path, rng):
    w = rng.standard_normal((6, 5)) * (rng.random((6, 5)) < 0.6)
    d = rng.integers(0, 5, (6, 5)) * DT
    graph = spikec.normalise(delay_linear_graph(w, d))
    spikec.save_nir(graph, tmp_path / "dl.nir")
    import nir

    written = nir.read(str(tmp_path / "dl.nir"))
    assert sum(isinstance(n, nir.Delay) for n in written.nodes.values()) == len(np.unique(d[w != 0]))
    again = spikec.load_nir(tmp_path / "dl.nir")
    assert graph.same_as(again)
    x = (rng.random((20, 3, 5)) < 0.4).astype(float)
    np.testing.assert_allclose(spikec.simulate(again, x, DT)["out"], spikec.simulate(graph, x, DT)["out"], rtol=1e-12)
    # the same branches without spikec's marks stay Delay + Linear nodes, and compute the same
    for node in written.nodes.values():
        node.metadata = {}
    plain = spikec.ir.from_nir(written)
    assert {type(n).__name__ for n in plain.nodes.values()} >= {"Delay", "Linear"}
    np.testing.assert_allclose(spikec.simulate(plain, x, DT)["out"], spikec.simulate(graph, x, DT)["out"], atol=1e-12)


def test_delay_matrix_must_match_the_weights():
    with pytest.raises(GraphError, match=r"node 'dl': delay matrix of shape \(2, 2\) does not match the weight matrix \(2, 3\)"):
        spikec.validate(delay_linear_graph(np.ones((2, 3)), np.zeros((2, 2))))
