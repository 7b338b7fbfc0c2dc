"""The Lava runner against an independent numpy model of Lava's own fixed-point code.

These tests check the runner and the custom processes (``lava_processes.py``)
without the compiler: a hand-written network description runs in Lava and in
``emulate`` below, a direct transcription of ``lava/proc/lif/models.py``
(``AbstractPyLifModelFixed``), ``lava/proc/dense/models.py``
(``PyDenseModelBitAcc``: one step of latency, weights clipped and truncated as
``lava/utils/weightutils.py`` does) and of the spikec variants documented in
``SpikecLIF``'s docstring. Skipped only when no Lava environment can be found.
"""
from __future__ import annotations

import numpy as np
import pytest

from spikec.backends.lava.conv_matrix import conv2d_coo, coo_to_dense
from spikec.backends.lava.env import LavaEnvironmentError, ensure_lava_env, find_python310
from spikec.backends.lava.launch import LavaRunError, run_description
from spikec.ir.errors import SpikecError

try:
    ensure_lava_env(create=False)
    HAVE_LAVA = True
except SpikecError as _err:  # pragma: no cover - depends on the machine
    HAVE_LAVA, _WHY = False, str(_err)

needs_lava = pytest.mark.skipif(not HAVE_LAVA, reason="no Lava environment: run `python -m spikec.backends.lava.env`")


# --- the oracle: Lava's integer rules in numpy -------------------------------------------------------


def lava_weights(w: np.ndarray, sign_mode: str, num_weight_bits: int) -> np.ndarray:
    """clip_weights(num_bits=8) then truncate_weights, as Dense does at its first step."""
    w = w.astype(np.int64)
    sign = -1 if sign_mode == "INHIBITORY" else 1
    w = w * sign
    mixed = int(sign_mode == "MIXED")
    w = np.clip(w, -256 * mixed, 255)
    n = 8 - num_weight_bits + mixed
    return ((w >> n) << n) * sign


def truncate_toward_zero(p: np.ndarray) -> np.ndarray:
    return np.sign(p) * (np.abs(p) >> 12)


def lif_step(state: dict, a_in: np.ndarray, pop: dict) -> np.ndarray:
    p = pop["p"]
    u = truncate_toward_zero(state["u"] * (4096 - p["du"] - 1)) + (a_in << 6)
    u = np.where(u > 2**23, u - 2**24, u)
    u = np.where(u <= -(2**23), u + 2**24, u)
    bias = np.where(p["bias_exp"] >= 0, p["bias_mant"] << np.abs(p["bias_exp"]), p["bias_mant"] >> np.abs(p["bias_exp"]))
    v = truncate_toward_zero(state["v"] * (4096 - p["dv"])) + u + bias
    v = np.clip(v, -(2**23 - 1), 2**23 - 1)
    vth = p["vth"] << 6
    mode, delay = p.get("reset_mode", 0), p.get("reset_delay", False)

    def reset(v, mask):
        if mode == 0:
            return np.where(mask, p.get("v_reset", 0), v)
        if mode == 1:
            return np.where(mask, np.maximum(v - vth, -(2**23 - 1)), v)
        return v

    if delay:
        v = reset(v, state["pending"])
    s = (v > vth) if mode != 2 else np.zeros(v.shape, bool)
    if delay:
        state["pending"] = s
    else:
        v = reset(v, s)
    state["u"], state["v"] = u, v
    return s


def connection_arrays(c: dict, arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    """Dense (weights, delays) of a connection, from a matrix or COO triplets."""
    if "weights_coo" in c:
        coo = c["weights_coo"]
        rows, cols, shape = arrays[coo["rows"]], arrays[coo["cols"]], tuple(coo["shape"])
        w = coo_to_dense((rows, cols, arrays[coo["data"]], shape))
        d = coo_to_dense((rows, cols, arrays[c["delays"]], shape)) if c.get("delays") else np.zeros(shape, np.int64)
        return w, d
    w = arrays[c["weights"]]
    return w, arrays[c["delays"]] if c.get("delays") else np.zeros(w.shape, np.int64)


def emulate(desc: dict, arrays: dict) -> dict[str, np.ndarray]:
    """Run a description with Lava's rules; batch b is computed independently."""
    T, B = desc["num_steps"], desc["batch"]
    out = {}
    for b in range(B):
        pops = {}
        for pop in desc["populations"]:
            p = dict(pop.get("params", {})) | {k: arrays[v] for k, v in pop.get("arrays", {}).items()}
            n = pop["size"]
            for k, default in (("bias_mant", 0), ("bias_exp", 0)):
                p[k] = np.broadcast_to(np.asarray(p.get(k, default), np.int64), (n,))
            pops[pop["name"]] = {"kind": pop["kind"], "p": p, "u": np.zeros(n, np.int64),
                                 "v": np.zeros(n, np.int64), "pending": np.zeros(n, bool), "n": n}
        conns = []
        for c in desc["connections"]:
            w, d = connection_arrays(c, arrays)
            w = lava_weights(w, c["sign_mode"], c["num_weight_bits"])
            conns.append({**c, "w": w, "d": d, "buff": np.zeros((w.shape[0], int(d.max()) + 1), np.int64)})
        rec = {r["key"]: [] for r in desc["record"]}
        for t in range(T):
            spikes = {}
            for name, pop in pops.items():
                if pop["kind"] == "source":
                    spikes[name] = pop["p"]["data"][b, :, t].astype(bool)
                    continue
                a_in = sum((c["buff"][:, 0] for c in conns if c["target"] == name), np.zeros(pop["n"], np.int64))
                spikes[name] = lif_step(pop, a_in, pop)
            for c in conns:  # a spike at t with delay k arrives at t + k + 1
                c["buff"] = np.roll(c["buff"], -1, axis=1)
                c["buff"][:, -1] = 0
                for k in range(c["buff"].shape[1]):
                    acc = np.where(c["d"] == k, c["w"], 0)[:, spikes[c["source"]]].sum(axis=1)
                    e = c["weight_exp"]
                    c["buff"][:, k] += acc << e if e > 0 else acc >> -e
            for r in desc["record"]:
                val = spikes[r["population"]] if r["var"] == "s" else pops[r["population"]][r["var"]]
                rec[r["key"]].append(np.array(val, np.int64))
        for key, vals in rec.items():
            out.setdefault(key, []).append(np.stack(vals))
    return {k: np.stack(v, axis=1) for k, v in out.items()}


# --- networks -----------------------------------------------------------------------------------------


def random_description(seed: int, *, T: int, B: int, kind2: str, reset_mode: int, reset_delay: bool,
                       recurrent: bool, sparse: bool = False) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    n0, n1, n2 = 12, 16, 6
    arrays = {
        "x": (rng.random((B, n0, T)) < 0.3).astype(np.int32),
        "w1": rng.integers(-200, 200, (n1, n0)),
        "w2": rng.integers(-160, 200, (n2, n1)),
        "wr": rng.integers(-100, 80, (n1, n1)),
        "b1": rng.integers(-300, 400, n1),
        "e1": rng.integers(0, 3, n1),
        "vr": rng.integers(-2000, 2000, n2),
    }
    l2 = {"name": "l2", "kind": kind2, "size": n2, "params": {"du": 900, "dv": 300, "vth": 120}, "arrays": {}}
    if kind2 == "SpikecLIF":
        l2["params"] |= {"reset_mode": reset_mode, "reset_delay": reset_delay}
        l2["arrays"] = {"v_reset": "vr"}
    conns = [
        {"name": "fc1", "source": "in", "target": "l1", "weights": "w1", "weight_exp": 1, "num_weight_bits": 8,
         "sign_mode": "MIXED", "sparse": sparse},
        {"name": "fc2", "source": "l1", "target": "l2", "weights": "w2", "weight_exp": 2, "num_weight_bits": 6,
         "sign_mode": "MIXED", "sparse": sparse},
    ]
    if recurrent:
        conns.append({"name": "rec", "source": "l1", "target": "l1", "weights": "wr", "weight_exp": 0,
                      "num_weight_bits": 8, "sign_mode": "MIXED", "sparse": sparse})
    desc = {
        "format": "spikec-lava/1", "num_steps": T, "batch": B,
        "populations": [
            {"name": "in", "kind": "source", "size": n0, "arrays": {"data": "x"}},
            {"name": "l1", "kind": "LIF", "size": n1, "params": {"du": 300, "dv": 500, "vth": 150},
             "arrays": {"bias_mant": "b1", "bias_exp": "e1"}},
            l2,
        ],
        "connections": conns,
        "record": [{"population": "l1", "var": "s", "key": "l1"}, {"population": "l2", "var": "s", "key": "l2"},
                   {"population": "l2", "var": "v", "key": "l2.v"}, {"population": "l1", "var": "u", "key": "l1.u"}],
    }
    return desc, arrays


# --- tests ----------------------------------------------------------------------------------------------


def test_emulated_weights_follow_lavas_truncation_by_hand():
    # mixed sign, 8 bits: the least significant bit goes (arithmetic shift: -3 -> -4)
    np.testing.assert_array_equal(lava_weights(np.array([3, -3, 300, -300]), "MIXED", 8), [2, -4, 254, -256])
    # excitatory, 6 bits: two bits go
    np.testing.assert_array_equal(lava_weights(np.array([7, 255, -5]), "EXCITATORY", 6), [4, 252, 0])


@needs_lava
@pytest.mark.parametrize("case", [
    dict(kind2="LIF", reset_mode=0, reset_delay=False, recurrent=True),
    dict(kind2="SpikecLIF", reset_mode=1, reset_delay=False, recurrent=True),
    dict(kind2="SpikecLIF", reset_mode=0, reset_delay=True, recurrent=False, sparse=True),
    dict(kind2="SpikecLIF", reset_mode=2, reset_delay=False, recurrent=True),
])
def test_runner_equals_numpy_model_of_lava(case):
    desc, arrays = random_description(7, T=60, B=2, **case)
    lava = run_description(desc, arrays)
    want = emulate(desc, arrays)
    assert want["l2"].sum() > 0 or case["reset_mode"] == 2, "test network too quiet to test anything"
    assert want["l1"].sum() > 0
    for key in want:
        np.testing.assert_array_equal(lava[key], want[key], err_msg=key)


@needs_lava
def test_runner_equals_numpy_model_with_delays_and_a_convolution_as_sparse():
    rng = np.random.default_rng(3)
    T, B = 40, 2
    w_conv = rng.integers(-90, 120, (3, 2, 3, 3))
    rows, cols, vals, shape = conv2d_coo(w_conv, (2, 6, 6), (1, 1), (1, 1), (1, 1))
    w_fc = rng.integers(-100, 160, (5, shape[0]))
    arrays = {
        "x": (rng.random((B, 72, T)) < 0.25).astype(np.int32),
        "r": rows, "c": cols, "v": vals, "dc": rng.integers(0, 4, len(vals)),
        "w": w_fc, "d": rng.integers(0, 6, w_fc.shape),
    }
    desc = {
        "format": "spikec-lava/1", "num_steps": T, "batch": B,
        "populations": [
            {"name": "in", "kind": "source", "size": 72, "arrays": {"data": "x"}},
            {"name": "conv", "kind": "LIF", "size": shape[0], "params": {"du": 4095, "dv": 0, "vth": 90}},
            {"name": "out", "kind": "SpikecLIF", "size": 5,
             "params": {"du": 2000, "dv": 100, "vth": 200, "reset_mode": 1, "reset_delay": False}},
        ],
        "connections": [
            {"name": "c1", "source": "in", "target": "conv", "weights_coo": {"rows": "r", "cols": "c", "data": "v",
             "shape": list(shape)}, "delays": "dc", "weight_exp": 0, "num_weight_bits": 8, "sign_mode": "MIXED"},
            {"name": "fc", "source": "conv", "target": "out", "weights": "w", "delays": "d", "weight_exp": 1,
             "num_weight_bits": 8, "sign_mode": "MIXED"},
        ],
        "record": [{"population": "conv", "var": "s", "key": "conv"}, {"population": "out", "var": "s", "key": "out"},
                   {"population": "out", "var": "v", "key": "out.v"}],
    }
    lava = run_description(desc, arrays)
    want = emulate(desc, arrays)
    assert want["out"].sum() > 0 and want["conv"].sum() > 0
    for key in want:
        np.testing.assert_array_equal(lava[key], want[key], err_msg=key)


@needs_lava
def test_runner_runs_every_part_of_a_network_made_of_independent_parts():
    # Lava runs only what is connected to the process run() is called on
    a, arrays_a = random_description(11, T=30, B=2, kind2="LIF", reset_mode=0, reset_delay=False, recurrent=True)
    b, arrays_b = random_description(12, T=30, B=2, kind2="SpikecLIF", reset_mode=1, reset_delay=True, recurrent=False)
    rename = lambda d, tag: {**d, "name": tag + d["name"]}
    desc = dict(a)
    desc["populations"] = [rename(p, "a_") for p in a["populations"]] + [
        {**rename(p, "b_"), "arrays": {k: "b_" + v for k, v in p.get("arrays", {}).items()}} for p in b["populations"]]
    desc["connections"] = [{**c, "source": "a_" + c["source"], "target": "a_" + c["target"]} for c in a["connections"]] + [
        {**c, "name": "b_" + c["name"], "source": "b_" + c["source"], "target": "b_" + c["target"], "weights": "b_" + c["weights"]}
        for c in b["connections"]]
    desc["record"] = [{**r, "population": "a_" + r["population"], "key": "a_" + r["key"]} for r in a["record"]] + [
        {**r, "population": "b_" + r["population"], "key": "b_" + r["key"]} for r in b["record"]]
    arrays = arrays_a | {"b_" + k: v for k, v in arrays_b.items()}
    lava = run_description(desc, arrays)
    want = emulate(a, arrays_a) | {"b_" + k: v for k, v in emulate(b, arrays_b).items()}
    for key, value in want.items():
        np.testing.assert_array_equal(lava[key if key.startswith("b_") else "a_" + key], value, err_msg=key)


@needs_lava
def test_runner_reports_the_childs_error_message():
    desc, arrays = random_description(1, T=5, B=1, kind2="LIF", reset_mode=0, reset_delay=False, recurrent=False)
    desc["populations"][1]["kind"] = "NoSuchNeuron"
    with pytest.raises(LavaRunError, match="NoSuchNeuron"):
        run_description(desc, arrays)


@needs_lava
def test_an_exception_inside_a_lava_process_model_comes_back_instead_of_hanging():
    # Lava 0.10.0 itself deadlocks here (its runtime joins model processes that wait forever)
    desc, arrays = random_description(1, T=10, B=1, kind2="LIF", reset_mode=0, reset_delay=False, recurrent=False)
    desc["connections"][0]["delays"] = "too_long"
    arrays["too_long"] = np.full(arrays["w1"].shape, 70)  # DelayDense raises in run_spk: Loihi has 6-bit delays
    with pytest.raises(LavaRunError, match="PyDelayDenseModelBitAcc.*between 0 and 63"):
        run_description(desc, arrays, timeout_s=120)


def test_missing_python310_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKEC_LAVA_PYTHON", str(tmp_path / "no-python"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LavaEnvironmentError, match="Python 3.10"):
        find_python310()
