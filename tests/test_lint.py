"""Semantic lint: each warning fires on the graph made to trigger it, and a sane graph has none."""
from __future__ import annotations

import numpy as np
import pytest

from spikec.ir.check import normalise
from spikec.ir.graph import Graph
from spikec.ir.lint import LintWarning, lint, signal_bounds
from spikec.ir.nodes import IF, LI, LIF, Affine, Conv2d, CubaLIF, Flatten, Input, Linear, Output

DT = 1e-3


def lif(n: int, *, tau: float = 0.02, thr: float = 1.0, reset: str = "zero") -> LIF:
    return LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, thr),
               v_reset=np.zeros(n), reset=reset)


def two_layer(w1: np.ndarray | None = None, w2: np.ndarray | None = None, *, b1: float = 0.0, **lif_kw) -> Graph:
    """in(4) -> fc1 -> lif1(3) -> fc2 -> lif2(2) -> out, positive weights able to fire everything."""
    w1 = np.full((3, 4), 0.8) if w1 is None else w1
    w2 = np.full((2, 3), 0.8) if w2 is None else w2
    nodes = {
        "in": Input(shape=(4,)), "fc1": Affine(weight=w1, bias=np.full(3, b1)), "lif1": lif(3, **lif_kw),
        "fc2": Linear(weight=w2), "lif2": lif(2), "out": Output(),
    }
    edges = (("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "out"))
    return normalise(Graph(nodes, edges))


def of(warnings: list[LintWarning], node: str, parameter: str | None) -> list[LintWarning]:
    return [w for w in warnings if w.node == node and w.parameter == parameter]


def test_a_sane_graph_has_no_warnings() -> None:
    assert lint(two_layer(), DT) == []


def test_a_time_constant_far_below_dt_is_flagged() -> None:
    warnings = lint(two_layer(tau=DT / 150), DT)  # what Norse 1.1's exporter writes for tau_mem_inv = 150
    (w,) = of(warnings, "lif1", "tau")
    assert "3 of 3" in w.message and "dt/10" in w.message
    assert "lif1" in str(w) and "tau" in str(w)


def test_a_time_constant_just_above_the_limit_is_not_flagged() -> None:
    assert not of(lint(two_layer(tau=DT / 9), DT), "lif1", "tau")


def test_cubalif_synaptic_time_constant_is_checked() -> None:
    g = two_layer()
    n = 3
    cuba = CubaLIF(tau_syn=np.full(n, 1e-6), tau_mem=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n),
                   v_threshold=np.full(n, 0.5), v_reset=np.zeros(n), w_in=np.ones(n))
    warnings = lint(g.replace_nodes({"lif1": cuba}), DT)
    assert of(warnings, "lif1", "tau_syn") and not of(warnings, "lif1", "tau_mem")


def test_dt_comes_from_the_graph_when_not_given() -> None:
    g = two_layer(tau=1e-6).with_metadata(dt_s=DT)
    assert of(lint(g), "lif1", "tau")
    assert not of(lint(two_layer(tau=1e-6)), "lif1", "tau")  # no dt anywhere: the check is skipped


def test_an_unreachable_threshold_is_flagged() -> None:
    # four input spikes through weights 0.2 give at most 0.8 < 1: lif1 can never fire
    warnings = lint(two_layer(w1=np.full((3, 4), 0.2)), DT)
    (w,) = of(warnings, "lif1", "v_threshold")
    assert "3 of 3" in w.message and "0.8" in w.message


def test_negative_weights_do_not_count_towards_reaching_the_threshold() -> None:
    w1 = np.array([[0.6, 0.3, -5.0, -5.0]] * 3)  # at most 0.9 even though |w| sums high
    assert of(lint(two_layer(w1=w1), DT), "lif1", "v_threshold")


def test_a_bias_can_make_the_threshold_reachable() -> None:
    assert not of(lint(two_layer(w1=np.full((3, 4), 0.2), b1=0.5), DT), "lif1", "v_threshold")


def test_a_threshold_exactly_at_the_fixed_point_is_unreachable() -> None:
    # strict '>': input 4 * 0.25 = 1 gives v -> 1 from below, never above
    assert of(lint(two_layer(w1=np.full((3, 4), 0.25)), DT), "lif1", "v_threshold")


def test_only_some_neurons_unreachable_are_counted() -> None:
    w1 = np.array([[0.8] * 4, [0.1] * 4, [0.8] * 4])
    (w,) = of(lint(two_layer(w1=w1), DT), "lif1", "v_threshold")
    assert "1 of 3" in w.message and "(1,)" in w.message


def test_conv_bounds_are_an_upper_bound_of_the_real_output() -> None:
    """The conv bound must never be below what the convolution can produce (else the lint lies)."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 2, 3, 3))
    b = rng.normal(size=3)
    conv = Conv2d(input_shape=(2, 5, 5), weight=w, stride=(1,), padding=(1,), dilation=(1,), groups=1, bias=b)
    nodes = {"in": Input(shape=(2, 5, 5)), "conv": conv, "flat": Flatten(input_shape=None), "out": Output()}
    g = normalise(Graph(nodes, (("in", "conv"), ("conv", "flat"), ("flat", "out"))))
    lo, hi = signal_bounds(g)["conv"]
    from spikec.backends.reference.float_ops import conv

    for _ in range(50):
        x = (rng.random((1, 2, 5, 5)) < 0.5).astype(float)
        y = conv(x, w, b, (1, 1), (1, 1), (1, 1), 1)[0]
        assert np.all(y <= hi + 1e-12) and np.all(y >= lo - 1e-12)
    all_on = conv(np.ones((1, 2, 5, 5)), np.clip(w, 0, None), b, (1, 1), (1, 1), (1, 1), 1)[0]
    np.testing.assert_allclose(hi.max(axis=(1, 2)), all_on.max(axis=(1, 2)))  # tight at the centre


def test_recurrent_graph_bounds_use_spikes_in_zero_one() -> None:
    g = two_layer(w1=np.full((3, 4), 0.2))
    nodes = {**g.nodes, "rec": Linear(weight=np.full((3, 3), 0.5))}
    edges = g.edges + (("lif1", "rec"), ("rec", "lif1"))
    warnings = lint(normalise(Graph(nodes, edges)), DT)
    assert not of(warnings, "lif1", "v_threshold")  # 0.8 + 3 * 0.5 > 1: the recurrence makes it reachable


def test_integrate_and_fire_without_positive_drive_is_flagged() -> None:
    g = two_layer(w1=np.full((3, 4), -0.5))
    n_if = IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3))
    assert of(lint(g.replace_nodes({"lif1": n_if}), DT), "lif1", "v_threshold")
    assert not of(lint(two_layer().replace_nodes({"lif1": n_if}), DT), "lif1", "v_threshold")


def test_a_layer_whose_output_is_never_consumed_is_flagged() -> None:
    g = two_layer()
    nodes = {**g.nodes, "side": Linear(weight=np.ones((2, 3))), "lif3": lif(2)}
    edges = g.edges + (("lif1", "side"), ("side", "lif3"))
    warnings = lint(normalise(Graph(nodes, edges)), DT)
    assert of(warnings, "lif3", None) and of(warnings, "side", None)
    assert not of(warnings, "lif1", None)


def test_a_layer_with_only_zero_outgoing_weights_is_flagged() -> None:
    (w,) = of(lint(two_layer(w2=np.zeros((2, 3))), DT), "lif1", None)
    assert "zero weights" in w.message


def test_leaky_integrators_are_not_bounded_so_nothing_downstream_is_flagged() -> None:
    g = two_layer(w2=np.full((2, 3), 0.01))
    n = 3
    li = LI(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n))
    assert of(lint(g, DT), "lif2", "v_threshold")
    assert not of(lint(g.replace_nodes({"lif1": li}), DT), "lif2", "v_threshold")


@pytest.mark.parametrize("name", ["braille_noDelay_noBias_subtract.nir", "cnn_sinabs.nir"])
def test_real_graphs_lint_without_errors(nir_paper, name: str) -> None:
    import spikec

    for w in lint(spikec.load_nir(nir_paper / name), 1e-4):
        assert isinstance(w, LintWarning) and w.message
