"""Compiled Loihi programs run in Lava and equal the reference executor bit for bit.

Every test compiles a float graph for ``loihi2``, runs the lowered program on
the bit-accurate reference executor (``run_loihi``) and on Lava's own
fixed-point models through the Lava backend, and compares output spikes (and
``v``/``u`` of every population where recorded) with
``np.testing.assert_array_equal`` at every step and neuron. Each Lava run
starts a Lava process (1-3 s), so the networks are small and inputs batched.
Skipped only when no Lava environment exists (``python -m spikec.backends.lava.env``).
"""
from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.backends import lava
from spikec.backends.lava.env import ensure_lava_env
from spikec.backends.lava.standalone import write_lava_script
from spikec.backends.reference.loihi_executor import run_loihi
from spikec.compiler.loihi.nodes import Dense, LoihiInput, LoihiNeurons, LoihiOutput
from spikec.compiler.loihi.quantise import lower_to_loihi
from spikec.compiler.target import load_target
from spikec.ir.errors import SpikecError
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LI, LIF, Affine, Conv2d, CubaLIF, Flatten, Input, Linear, Output, SumPool2d

try:
    LAVA_PYTHON = ensure_lava_env(create=False)
except SpikecError as err:  # pragma: no cover - depends on the machine
    LAVA_PYTHON, WHY = None, str(err)

pytestmark = pytest.mark.skipif(
    LAVA_PYTHON is None, reason="no Lava environment (run `python -m spikec.backends.lava.env`)"
)

DT_S = 1e-4
TARGET = load_target("loihi2")


def compile_loihi(graph: Graph) -> Graph:
    lowered, _ = lower_to_loihi(spikec.normalise(graph), TARGET, DT_S)
    return lowered


def assert_lava_equals_reference(program: Graph, x: np.ndarray, record: tuple[str, ...] = ("v", "u")) -> dict:
    want = run_loihi(program, TARGET.numeric, x, record=record)
    got = lava.run(program, x, record=record)
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=f"Lava differs from the reference in {key!r}")
    return want


def spikes(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    return (rng.random(shape) < rate).astype(np.int8)


# --- random networks --------------------------------------------------------------------------------


def neuron(kind: str, n: int, rng: np.random.Generator, reset: str, reset_delay: bool):
    """A layer of ``n`` neurons with shared time constants (Lava holds one du/dv per process)."""
    thr = rng.uniform(0.8, 1.2, n)
    common = dict(v_threshold=thr, v_reset=np.zeros(n), reset=reset, reset_delay=reset_delay)
    if kind == "LIF":
        return LIF(tau=np.full(n, 2e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), **common)
    if kind == "CubaLIF":
        return CubaLIF(tau_syn=np.full(n, 5e-4), tau_mem=np.full(n, 2e-3), r=np.full(n, 20.0),
                       v_leak=np.zeros(n), w_in=np.ones(n), **common)
    if kind == "IF":
        return IF(r=np.full(n, 0.5), **common)
    raise ValueError(kind)


def random_network(seed: int, kind: str, reset: str, reset_delay: bool = False, recurrent: bool = False,
                   bias: bool = True, readout: str = "spikes") -> Graph:
    """Input(10) -> Affine -> kind(24) [-> Linear -> itself] -> Affine -> kind(6) or LI(6) -> Output."""
    rng = np.random.default_rng(seed)
    n0, n1, n2 = 10, 24, 6
    nodes = {
        "in": Input(shape=(n0,)),
        "fc1": Affine(weight=rng.normal(0.25, 0.35, (n1, n0)), bias=rng.normal(0.02, 0.02, n1) * bias),
        "h": neuron(kind, n1, rng, reset, reset_delay),
        "fc2": Affine(weight=rng.normal(0.2, 0.4, (n2, n1)), bias=np.zeros(n2)),
        "o": neuron(kind, n2, rng, reset, reset_delay) if readout == "spikes"
        else LI(tau=np.full(n2, 1e-3), r=np.ones(n2), v_leak=np.zeros(n2)),
        "out": Output(shape=(n2,)),
    }
    edges = [("in", "fc1"), ("fc1", "h"), ("h", "fc2"), ("fc2", "o"), ("o", "out")]
    if recurrent:
        nodes["rec"] = Linear(weight=rng.normal(0.0, 0.3, (n1, n1)))
        edges += [("h", "rec"), ("rec", "h")]
    return Graph(nodes, edges)


CASES = {
    "feedforward_lif_zero_reset_with_bias": dict(kind="LIF", reset="zero"),
    "recurrent_lif_subtractive_reset": dict(kind="LIF", reset="subtract", recurrent=True),
    "recurrent_cubalif_zero_reset_with_bias": dict(kind="CubaLIF", reset="zero", recurrent=True),
    "recurrent_cubalif_subtractive_reset_delayed_as_snntorch": dict(kind="CubaLIF", reset="subtract", recurrent=True,
                                                                     reset_delay=True),
    "feedforward_if_subtractive_reset": dict(kind="IF", reset="subtract"),
    "lif_with_delayed_zero_reset_and_li_readout": dict(kind="LIF", reset="zero", reset_delay=True, readout="voltage"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_lava_matches_reference_on_random_network(case):
    program = compile_loihi(random_network(sum(map(ord, case)), **CASES[case]))
    x = spikes(np.random.default_rng(5), (200, 2, 10), 0.3)  # 200 steps, batch of 2
    want = assert_lava_equals_reference(program, x)
    hidden = np.asarray(want["h.v"])
    assert np.count_nonzero(want["out"]) > 0 and np.count_nonzero(hidden) > 0, "network too quiet to test anything"


def test_lava_matches_reference_on_unbatched_input():
    program = compile_loihi(random_network(3, "LIF", "subtract", recurrent=True))
    x = spikes(np.random.default_rng(6), (60, 10), 0.3)
    want = assert_lava_equals_reference(program, x, record=())
    assert want["out"].shape == (60, 6)


# --- real networks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, reset", [
    ("braille_noDelay_bias_zero.nir", "zero"),
    ("braille_noDelay_noBias_subtract.nir", "subtract"),
])
def test_lava_matches_reference_on_braille(nir_paper, fixture, reset):
    program = compile_loihi(spikec.load_nir(nir_paper / fixture, reset=reset))
    x = spikes(np.random.default_rng(7), (250, 3, 12), 0.2)
    want = assert_lava_equals_reference(program, x)
    assert np.count_nonzero(want["output"]) > 0


def small_conv_network(seed: int) -> Graph:
    """Input(2x8x8) -> Conv2d(4, 3x3, pad 1) -> IF -> SumPool2d(2) -> Flatten -> Affine -> LIF -> Output."""
    rng = np.random.default_rng(seed)
    return Graph({
        "in": Input(shape=(2, 8, 8)),
        "conv": Conv2d(input_shape=(8, 8), weight=rng.normal(0.3, 0.4, (4, 2, 3, 3)), stride=(1, 1), padding=(1, 1),
                       dilation=(1, 1), groups=1, bias=np.zeros(4)),
        "if1": IF(r=np.ones((4, 8, 8)), v_threshold=np.ones((4, 8, 8)), v_reset=np.zeros((4, 8, 8))),
        "pool": SumPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)),
        "flat": Flatten(input_shape=(4, 4, 4)),
        "fc": Affine(weight=rng.normal(0.1, 0.2, (5, 64)), bias=np.zeros(5)),
        "lif": LIF(tau=np.full(5, 1e-3), r=np.full(5, 10.0), v_leak=np.zeros(5), v_threshold=np.ones(5),
                   v_reset=np.zeros(5)),
        "out": Output(shape=(5,)),
    }, [("in", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "lif"),
        ("lif", "out")])


def test_lava_matches_reference_on_a_conv_network():
    program = compile_loihi(small_conv_network(2))
    x = spikes(np.random.default_rng(8), (60, 2, 2, 8, 8), 0.25)
    want = assert_lava_equals_reference(program, x)
    assert np.count_nonzero(want["out"]) > 0 and want["if1.v"].shape == (60, 2, 4, 8, 8)


@pytest.mark.slow
def test_lava_matches_reference_on_the_sinabs_cnn(nir_paper):
    program = compile_loihi(spikec.load_nir(nir_paper / "cnn_sinabs.nir"))
    x = spikes(np.random.default_rng(9), (30, 2, 2, 34, 34), 0.1)
    assert_lava_equals_reference(program, x)


# --- the integer edges: hand-written programs the compiler would not emit ----------------------------


def extreme_program(seed: int, reset: str, reset_delay: bool, spiking: bool, v_reset: int) -> Graph:
    """Full-scale weights with the largest exponent, tiny current decay, 13-bit biases:
    u leaves 24 bits (Lava wraps it once), v saturates at +-(2^23 - 1)."""
    rng = np.random.default_rng(seed)
    even = lambda shape: rng.integers(-256, 255, shape) // 2 * 2  # mixed-sign weights keep no odd values
    return Graph({
        "in": LoihiInput(shape=(12,)),
        "d1": Dense(weights=rng.choice([-256, 254, 200, -100], (16, 12)), weight_exp=7, num_weight_bits=8,
                    sign_mode=1, weight_scale=np.ones(16)),
        "a": LoihiNeurons(shape=(16,), du=3, dv=0, vth=131071, bias_mant=rng.integers(-4096, 4096, 16),
                          bias_exp=rng.integers(0, 8, 16), reset=reset, reset_delay=reset_delay, v_reset=v_reset),
        "rec": Dense(weights=even((16, 16)), weight_exp=-3, num_weight_bits=8, sign_mode=1, weight_scale=np.ones(16)),
        "d2": Dense(weights=even((8, 16)), weight_exp=6, num_weight_bits=8, sign_mode=1, weight_scale=np.ones(8)),
        "b": LoihiNeurons(shape=(8,), du=100, dv=4095, vth=5000, bias_mant=0, bias_exp=0, reset=reset,
                          reset_delay=reset_delay, spiking=spiking, v_reset=v_reset),
        "out": LoihiOutput(shape=(8,), reads="s" if spiking else "v"),
    }, [("in", "d1"), ("d1", "a"), ("a", "rec"), ("rec", "a"), ("a", "d2"), ("d2", "b"), ("b", "out")])


@pytest.mark.parametrize("reset, reset_delay, spiking, v_reset", [
    ("subtract", True, True, 0),
    ("zero", True, False, -3_000_000),
])
def test_lava_matches_reference_where_u_wraps_and_v_saturates(reset, reset_delay, spiking, v_reset):
    program = extreme_program(0, reset, reset_delay, spiking, v_reset)
    x = spikes(np.random.default_rng(11), (120, 2, 12), 0.7)
    want = assert_lava_equals_reference(program, x, record=("u", "v", "s"))
    assert np.abs(want["a.v"]).max() == 2**23 - 1, "v never saturated: the test misses its edge"


# --- interface ----------------------------------------------------------------------------------------


def test_public_api_runs_a_saved_program_on_lava_as_on_the_reference(nir_paper, tmp_path):
    from spikec.api import compile, load_program, run

    program = compile(spikec.load_nir(nir_paper / "braille_noDelay_noBias_subtract.nir", reset="subtract"),
                      "loihi2", dt_s=DT_S, fidelity_steps=0)
    loaded = load_program(program.save(tmp_path / "braille.zip"))
    x = spikes(np.random.default_rng(12), (100, 2, 12), 0.2)
    got = run(loaded, x, backend="lava", record=("v",))
    want = run(program, x, backend="reference", record=("v",))
    assert set(got) == set(want) == {"output", "lif1.lif.v", "lif2.v"}
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_zero_steps_give_empty_time_first_recordings():
    program = compile_loihi(random_network(4, "LIF", "zero"))
    got = lava.run(program, np.zeros((0, 3, 10), np.int8), record=("v",))
    assert {k: v.shape for k, v in got.items()} == {"out": (0, 3, 6), "h.v": (0, 3, 24), "o.v": (0, 3, 6)}


def test_lava_rejects_non_binary_input():
    program = compile_loihi(random_network(4, "LIF", "zero"))
    with pytest.raises(SpikecError, match="binary"):
        lava.run(program, np.full((5, 10), 2))


def test_standalone_folder_reruns_the_same_network(tmp_path):
    import subprocess

    program = compile_loihi(random_network(5, "CubaLIF", "subtract", recurrent=True))
    x = spikes(np.random.default_rng(10), (40, 10), 0.3)
    script = write_lava_script(program, tmp_path / "net", inputs=x)
    done = subprocess.run([str(LAVA_PYTHON), str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "out: shape (40, 1, 6)" in done.stdout
    with np.load(tmp_path / "net" / "results.npz") as results:
        np.testing.assert_array_equal(results["out"][:, 0], run_loihi(program, TARGET.numeric, x)["out"])


def test_snntorch_immediate_subtraction_recheck_equals_the_reference():
    """reset_recheck (snnTorch's immediate subtraction) in SpikecLIF: strong input keeps v above
    threshold after a reset, where the recheck changes the spike count."""
    rng = np.random.default_rng(11)
    n = 30
    layer = LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n),
                v_reset=np.zeros(n), reset="subtract", reset_recheck=True)
    nodes = {"in": Input(shape=(10,)), "fc": Linear(weight=rng.normal(0.6, 0.8, (n, 10))), "l": layer, "out": Output(shape=(n,))}
    graph = Graph(nodes, (("in", "fc"), ("fc", "l"), ("l", "out")))
    x = spikes(rng, (200, 2, 10), 0.5)
    with_recheck = assert_lava_equals_reference(compile_loihi(graph), x)
    without = run_loihi(compile_loihi(graph.replace_nodes({"l": layer.replace(reset_recheck=False)})), TARGET.numeric, x)
    assert with_recheck["out"].sum() != without["out"].sum()  # the case really exercises the recheck


# --- layers split into one population per decay profile (split-populations) ------------------------


def test_lava_equals_reference_on_an_snntorch_learn_beta_layer_split_into_20_populations():
    """snnTorch Leaky(beta=vector, learn_beta=True): 20 distinct dv, 20 Lava LIF processes for one
    layer; outputs and v/u/s traces back in layer order, equal bit for bit."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 20), snn.Leaky(beta=torch.rand(20) * 0.5 + 0.4, learn_beta=True, init_hidden=True),
                              torch.nn.Linear(20, 5), snn.Leaky(beta=0.9, init_hidden=True))
    program = spikec.compile(spikec.from_snntorch(net, torch.zeros(10)), "loihi2", fidelity_steps=0)
    assert program.report["split-populations"]["layers"]["1"]["populations"] == 20
    want = assert_lava_equals_reference(program.graph, spikes(np.random.default_rng(1), (60, 3, 10), 0.3), record=("v", "u", "s"))
    assert want["1.s"].shape == (60, 3, 20) and want["1.s"].sum() > 50 and want["output"].sum() > 5


def test_lava_equals_reference_on_norse_cubalif_with_clustered_per_neuron_taus():
    """Norse LIFCell with per-neuron tau_mem_inv and tau_syn_inv (du and dv differ), clustered into
    3 profiles per layer by a target allowing 3 (the error budget is reported); Lava equals the reference."""
    torch = pytest.importorskip("torch")
    norse = pytest.importorskip("norse.torch")
    from dataclasses import replace

    torch.manual_seed(0)
    net = norse.SequentialState(
        torch.nn.Linear(10, 12), norse.LIFCell(norse.LIFParameters(tau_mem_inv=torch.linspace(80.0, 200.0, 12),
                                                                   tau_syn_inv=torch.linspace(150.0, 400.0, 12), v_th=torch.tensor(0.2))),
        torch.nn.Linear(12, 4), norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.linspace(50.0, 250.0, 4), v_th=torch.tensor(0.2))),
    )
    target = replace(TARGET, limits=replace(TARGET.limits, decay_configs_per_core=3))
    program = spikec.compile(spikec.from_norse(net, torch.zeros(10)), target, fidelity_steps=0)
    layer = program.report["quantise-loihi"]["layers"]["1"]
    assert layer["decay_clustering"]["profiles_requested"] == 12 and layer["decay_clustering"]["profiles_kept"] == 3
    assert layer["decay_clustering"]["error"]["du"]["max_abs"] > 0 and layer["decay_clustering"]["error"]["dv"]["max_abs"] > 0
    assert program.report["split-populations"]["populations"] == 6
    want = assert_lava_equals_reference(program.graph, spikes(np.random.default_rng(2), (80, 2, 10), 0.3), record=("v", "u"))
    assert want["1.v"].shape == (80, 2, 12) and want["output"].sum() > 0
