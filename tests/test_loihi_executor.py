"""The Loihi integer update against values derived by hand from Lava's models.

Lava (lava/proc/lif/models.py, AbstractPyLifModelFixed) per step:
u = sign(u*(4096-(du+1))) * (|u*(4096-(du+1))| >> 12) + (a_in << 6), wrapped once to 24 bits;
v = sign(v*(4096-dv)) * (|...| >> 12) + u + (bias_mant << bias_exp), clipped to +-(2^23-1);
spike if v > vth << 6, then v = 0. Dense sends last step's sum (one step latency).
"""
import numpy as np
import pytest

from spikec.backends.reference.loihi_executor import dense_activation, neuron_step, run_loihi
from spikec.compiler.loihi.nodes import Dense, LoihiInput, LoihiNeurons, LoihiOutput
from spikec.compiler.loihi.scaling import lava_clip_and_truncate
from spikec.compiler.target import load_target
from spikec.ir.graph import Graph

FMT = load_target("loihi2").numeric
BIG = 1 << 23


def pop(**kw):
    base = dict(shape=(1,), du=4095, dv=0, vth=100, bias_mant=0, bias_exp=0)
    return LoihiNeurons(**(base | kw))


def step(p, u, v, a_in, owed=False):
    arr = lambda x: np.array([[x]], dtype=np.int32)
    u, v, s, owed = neuron_step(p, FMT, arr(u), arr(v), np.array([[owed]]), arr(a_in))
    return int(u[0, 0]), int(v[0, 0]), bool(s[0, 0]), bool(owed[0, 0])


def test_current_decay_has_lavas_plus_one_offset():
    # du = 0 still removes 1/4096: 4096 * 4095 >> 12 = 4095
    assert step(pop(du=0, vth=100000), 4096, 0, 0)[0] == 4095
    # du = 4095 removes everything: u becomes just this step's input, a_in << 6
    assert step(pop(du=4095, vth=100000), 123456, 0, 3)[0] == 3 * 64


def test_decay_truncates_toward_zero_for_negative_values():
    # -4097 * 4095 = -16777215; |.| >> 12 = 4095 -> -4095 (floor would give -4096)
    assert step(pop(du=0, vth=100000), -4097, 0, 0)[0] == -4095
    # v decays the same way: dv = 2048 halves; -3 * 2048 / 4096 = -1.5 -> -1
    assert step(pop(dv=2048, vth=100000), 0, -3, 0)[1] == -1


def test_u_wraps_once_at_24_bits_with_lavas_asymmetric_edges():
    # a_in << 6 = 2^23 exactly is kept (the test is u > 2^23) ...
    assert step(pop(vth=131071), 0, 0, 1 << 17)[0] == BIG
    # ... one more step of 64 wraps to 2^23 + 64 - 2^24
    assert step(pop(vth=131071), 0, 0, (1 << 17) + 1)[0] == -BIG + 64
    # -2^23 wraps (the test is u <= -2^23) to +2^23
    assert step(pop(vth=131071), 0, 0, -(1 << 17))[0] == BIG


def test_v_saturates_at_24_bits_instead_of_wrapping():
    # dv = 0 keeps v; + 6400 would pass 2^23: clipped to 2^23-1 (seen on a read-out, which keeps v)
    assert step(pop(vth=131071, spiking=False), 0, BIG - 2, 100)[1] == BIG - 1
    # a spiking neuron there is above vth << 6 = 2^23 - 64: it spikes and resets
    assert step(pop(vth=131071), 0, BIG - 2, 100)[1:3] == (0, True)
    u, v, s, _ = step(pop(vth=131071), 0, -(BIG - 2), -100)
    assert v == -(BIG - 1) and not s


def test_spike_is_strict_and_resets_v_to_zero_but_not_u():
    # vth = 100 -> effective threshold 6400; v = 6400 exactly does not spike
    assert step(pop(vth=100, du=0), 0, 6400 - 64, 1)[1:3] == (6400, False)
    u, v, s, _ = step(pop(vth=100, du=0), 0, 6400 - 63, 1)
    assert (u, v, s) == (64, 0, True)


def test_bias_is_mantissa_shifted_by_exponent_and_not_by_six():
    assert step(pop(bias_mant=np.array([3]), bias_exp=np.array([2])), 0, 0, 0)[1] == 12
    assert step(pop(bias_mant=np.array([-5]), bias_exp=np.array([7])), 0, 0, 0)[1] == -640


def test_extensions_subtract_nonzero_reset_delayed_reset_and_readout():
    # subtractive reset: v - (vth << 6)
    assert step(pop(vth=100, reset="subtract"), 0, 7000, 0)[1:3] == (7000 - 6400, True)
    # reset to a nonzero v_reset (integer units)
    assert step(pop(vth=100, v_reset=np.array([-50])), 0, 7000, 0)[1:3] == (-50, True)
    # delayed reset: a spike leaves v as is and owes the reset; next step the reset
    # is applied after that step's input (here +64): 7000 + 64 - 6400 = 664
    p = pop(vth=100, reset="subtract", reset_delay=True)
    u, v, s, owed = step(p, 0, 7000, 0)
    assert (v, s, owed) == (7000, True, True)
    assert step(p, 0, v, 1, owed)[1:3] == (664, False)
    # a read-out (spiking=False) never spikes, whatever v
    assert step(pop(vth=1, spiking=False), 0, BIG - 2, 0)[1:3] == (BIG - 2, False)


def test_dense_sums_spiking_columns_then_shifts_with_floor():
    d = Dense(weights=np.array([[2, -4, 6]]), weight_exp=-1, num_weight_bits=8, sign_mode=1, weight_scale=np.ones(1))
    assert dense_activation(d, np.array([[1, 1, 0]]))[0, 0] == -1  # (2 - 4) >> 1 = -1 (floor)
    d2 = d.replace(weight_exp=3)
    assert dense_activation(d2, np.array([[1, 0, 1]]))[0, 0] == 64  # (2 + 6) << 3


def test_lava_drops_the_lsb_of_mixed_sign_weights_and_clips_to_8_bits():
    w = np.array([255, 3, -3, -300, 300])
    np.testing.assert_array_equal(lava_clip_and_truncate(w, "mixed", 8, FMT), [254, 2, -4, -256, 254])
    np.testing.assert_array_equal(lava_clip_and_truncate(np.array([255, 3, 300]), "excitatory", 8, FMT), [255, 3, 255])
    np.testing.assert_array_equal(lava_clip_and_truncate(np.array([-255, -3, -300]), "inhibitory", 8, FMT), [-255, -3, -255])


def _chain(**neuron):
    nodes = {
        "in": LoihiInput(shape=(1,)),
        "d": Dense(weights=np.array([[10]]), weight_exp=0, num_weight_bits=8, sign_mode=2, weight_scale=np.ones(1)),
        "p": pop(**({"vth": 1000} | neuron)),
        "out": LoihiOutput(shape=(1,)),
    }
    return Graph(nodes, [("in", "d"), ("d", "p"), ("p", "out")])


def test_dense_adds_one_step_of_latency():
    x = np.zeros((4, 1)); x[0] = 1
    r = run_loihi(_chain(), FMT, x, record=("u", "v"))
    # the input spike of step 0 reaches u at step 1: 10 << 6 = 640
    np.testing.assert_array_equal(r["p.u"][:, 0], [0, 640, 0, 0])
    np.testing.assert_array_equal(r["p.v"][:, 0], [0, 640, 640, 640])


def test_batch_entries_are_independent_and_equal_to_single_runs():
    rng = np.random.default_rng(3)
    x = (rng.random((30, 3, 1)) < 0.5).astype(np.int8)
    batched = run_loihi(_chain(du=100, dv=200, vth=5), FMT, x, record=("v",))
    for b in range(3):
        single = run_loihi(_chain(du=100, dv=200, vth=5), FMT, x[:, b], record=("v",))
        np.testing.assert_array_equal(batched["out"][:, b], single["out"])
        np.testing.assert_array_equal(batched["p.v"][:, b], single["p.v"])


def test_non_binary_input_is_rejected():
    from spikec.ir.errors import InputError

    with pytest.raises(InputError, match="binary"):
        run_loihi(_chain(), FMT, np.full((3, 1), 0.5))


def test_reset_recheck_needs_one_more_threshold_while_the_stored_v_is_above_it():
    # stored v 7000 > 6400 (threshold 100 << 6); this step's v = 7000 + 640 = 7640:
    # the test is 7640 - 6400 = 1240 > 6400: no spike; without recheck it spikes
    p = pop(vth=100, reset="subtract", reset_recheck=True)
    assert step(p, 0, 7000, 10)[1:3] == (7640, False)
    assert step(pop(vth=100, reset="subtract"), 0, 7000, 10)[1:3] == (7640 - 6400, True)
    # a stored v at or below threshold: the plain test
    assert step(p, 0, 6400, 10)[1:3] == (7040 - 6400, True)
