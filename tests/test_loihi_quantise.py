"""Properties of the Loihi quantisation on random small layers (hypothesis).

Every compiled parameter fits Lava's bit widths, Lava would leave the weights
unchanged, and on the declared input range (every input spiking every step)
the current u never wraps and Dense's output fits 16 bits. Separately, the
executor never leaves its bit widths, whatever the integer parameters.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from spikec.backends.reference.loihi_executor import run_loihi
from spikec.backends.reference.loihi_neuron import _decay
from spikec.api import compile as compile_graph
from spikec.compiler.loihi.nodes import SIGN_MODES, Dense, LoihiInput, LoihiNeurons, LoihiOutput
from spikec.compiler.loihi.scaling import lava_clip_and_truncate
from spikec.compiler.target import load_target
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LIF, Affine, CubaLIF, Input, Output

TARGET = load_target("loihi2")
FMT = TARGET.numeric
DT = 1e-4
MODES = {v: k for k, v in SIGN_MODES.items()}


@st.composite
def layers(draw):
    n_in, n = draw(st.integers(1, 12)), draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    scale = draw(st.floats(0.01, 20.0))
    sign = draw(st.sampled_from(["mixed", "positive", "negative"]))
    w = rng.standard_normal((n, n_in)) * scale
    w = np.abs(w) if sign == "positive" else -np.abs(w) if sign == "negative" else w
    bias = rng.standard_normal(n) * draw(st.sampled_from([0.0, 0.1, 1.0]))
    kind = draw(st.sampled_from(["LIF", "CubaLIF", "IF"]))
    common = dict(
        r=np.full(n, draw(st.floats(0.5, 5.0))), v_threshold=rng.uniform(0.2, 3.0, n), v_reset=np.zeros(n),
        reset=draw(st.sampled_from(["zero", "subtract"])), reset_delay=draw(st.booleans()),
    )
    tau = draw(st.floats(1.5 * DT, 200 * DT))
    if kind == "LIF":
        neuron = LIF(tau=np.full(n, tau), v_leak=np.zeros(n), **common)
    elif kind == "CubaLIF":
        neuron = CubaLIF(tau_mem=np.full(n, tau), tau_syn=np.full(n, draw(st.floats(1.5 * DT, 50 * DT))),
                         w_in=np.full(n, draw(st.floats(0.5, 3.0))), v_leak=np.zeros(n), **common)
    else:
        neuron = IF(**common)
    nodes = {"in": Input(shape=(n_in,)), "fc": Affine(weight=w, bias=bias), "lif": neuron, "out": Output(shape=(n,))}
    return Graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])


@settings(max_examples=40, deadline=None)
@given(layers())
def test_compiled_parameters_fit_lavas_bit_widths(graph):
    program = compile_graph(graph, TARGET, dt_s=DT, fidelity_steps=0)
    top = (1 << FMT.decay_bits) - 1
    for name, node in program.graph.items():
        if isinstance(node, Dense):
            mode = MODES[node.sign_mode]
            np.testing.assert_array_equal(lava_clip_and_truncate(node.weights, mode, node.num_weight_bits, FMT), node.weights)
            assert -256 <= node.weights.min() and node.weights.max() <= 255
            assert FMT.weight_exp_min <= node.weight_exp <= FMT.weight_exp_max
        if isinstance(node, LoihiNeurons):
            assert 0 <= node.du <= top and 0 <= node.dv <= top
            assert 1 <= node.vth <= (1 << FMT.threshold_bits) - 1
            assert node.bias_mant.min() >= -(1 << 12) and node.bias_mant.max() <= (1 << 12) - 1
            assert node.bias_exp.min() >= 0 and node.bias_exp.max() <= 7
            assert np.abs(node.v_reset).max() < 1 << 23


def _worst_case_increments(graph):
    program = compile_graph(graph, TARGET, dt_s=DT, fidelity_steps=0)
    n_in = graph.nodes["in"].shape[0]
    trace = run_loihi(program.graph, FMT, np.ones((60, n_in), np.int8), record=("u",))["lif.u"].astype(np.int64)
    pop = program.graph.nodes["lif"]
    previous = np.vstack([np.zeros((1, trace.shape[1]), np.int64), trace[:-1]])
    keep = (1 << FMT.decay_bits) - (pop.du + FMT.decay_offset_u)
    return trace - _decay(previous, keep, FMT.decay_bits)  # = a_in << 6 unless u wrapped


@settings(max_examples=80, deadline=None)
@given(layers())
def test_no_wrap_and_16_bit_activation_when_every_input_spikes_every_step(graph):
    increment = _worst_case_increments(graph)
    assert (increment % 64 == 0).all()
    assert np.abs(increment >> 6).max() <= (1 << 15) - 1


def test_weights_rounding_to_minus_256_at_the_largest_exponent_still_fit_16_bits():
    """A case hypothesis found: at weight_exp 7 a mixed weight rounded to -256, and -256 << 7 = -2^15."""
    w = np.array([
        [-2.40579428, -3.97307699, -0.74508487, 1.26133571, 3.4081396], [0.3291192, -1.65794196, -2.35434107, 2.24623731, 4.90434913],
        [0.81830633, -3.69998599, -2.87479562, 4.80005727, 0.60864732], [-5.19640453, -0.25108858, -3.48967792, -1.88786428, -1.46401747],
        [-2.13994011, 1.66013541, -0.18925792, -1.76829377, 1.22891348], [2.48956592, -4.92907011, -0.77019038, -2.94224207, -0.51946567],
        [-3.86825624, 0.06207118, -0.11365722, -0.91301325, -3.14377952], [-1.18857099, -3.27398671, -4.06562624, 0.6743572, -3.32804981],
        [3.5108883, 2.14976297, -5.99345008, 0.81638661, -3.30514988]])
    threshold = np.array([1.31839073, 2.82203777, 1.75724737, 0.87237892, 2.27598068, 2.0882912, 2.11577459, 1.49870821, 0.82128797])
    n = 9
    lif = LIF(tau=np.full(n, 0.015625), r=np.full(n, 4.0), v_leak=np.zeros(n), v_threshold=threshold, v_reset=np.zeros(n))
    graph = Graph({"in": Input(shape=(5,)), "fc": Affine(weight=w, bias=np.zeros(n)), "lif": lif, "out": Output(shape=(n,))},
                  [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    assert np.abs(_worst_case_increments(graph) >> 6).max() <= (1 << 15) - 1


@st.composite
def integer_programs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    n_in, n = 6, 5
    dense = Dense(weights=(rng.integers(-256, 255, (n, n_in)) & ~1), weight_exp=draw(st.integers(-8, 7)),
                  num_weight_bits=8, sign_mode=1, weight_scale=np.ones(n),
                  delays=rng.integers(0, 4, (n, n_in)) if draw(st.booleans()) else None)
    neurons = LoihiNeurons(
        shape=(n,), du=draw(st.integers(0, 4095)), dv=draw(st.integers(0, 4095)), vth=draw(st.integers(1, 131071)),
        bias_mant=rng.integers(-4096, 4096, n), bias_exp=rng.integers(0, 8, n),
        reset=draw(st.sampled_from(["zero", "subtract"])), reset_delay=draw(st.booleans()),
        v_reset=rng.integers(-(1 << 22), 1 << 22, n), spiking=draw(st.booleans()), reset_recheck=draw(st.booleans()),
    )
    nodes = {"in": LoihiInput(shape=(n_in,)), "d": dense, "p": neurons, "out": LoihiOutput(shape=(n,))}
    return Graph(nodes, [("in", "d"), ("d", "p"), ("p", "out")]), (rng.random((80, n_in)) < 0.7).astype(np.int8)


@settings(max_examples=60, deadline=None)
@given(integer_programs())
def test_executor_never_leaves_its_bit_widths(case):
    graph, x = case
    r = run_loihi(graph, FMT, x, record=("u", "v"))
    assert r["p.u"].dtype == np.int32 and r["p.v"].dtype == np.int32
    assert r["p.u"].min() > -(1 << 23) and r["p.u"].max() <= 1 << 23  # Lava's wrap keeps (-2^23, 2^23]
    assert np.abs(r["p.v"]).max() <= (1 << 23) - 1
