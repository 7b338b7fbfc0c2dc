"""SpiNNaker program -> a standalone PyNN script and the numbers it loads.

What is written (``write_pynn_script(program, folder)``):

* ``network.npz``: the program's quantised network in PyNN's units (ms, mV):
  per population its size, start tick and neuron parameters; per projection
  the synapse list (pre, post, signed weight in mV, delay in ms); per biased
  population a bias source; and default input spikes (``input.<name>``,
  ``[T, n]`` 0/1, in graph steps).
* ``run_pynn.py``: imports only numpy and ``pyNN.<simulator>``, builds the
  network from standard cells (``SpikeSourceArray``, ``IF_curr_delta``,
  ``FromListConnector``), records spikes (and ``v`` of LI read-outs), runs,
  and saves rasters ``[T, n]`` per population aligned to graph steps.

Why ``IF_curr_delta``: spikec's SpiNNaker LIF (``docs/semantics.md`` section
4) adds each tick's ring-buffer sum straight to ``v`` after the decay,
``v <- decay * v + input + bias``, and tests ``v >= v_thresh``; NEST's
``iaf_psc_delta`` does exactly that step with ``P33 = exp(-dt / tau_m)``.
Values are the program's integers divided by the population's scale (a
power of two), so they are exact in float64. A bias is a one-neuron spike
source firing every tick through a delay-1 synapse: that is exact, and
starts when spikec's bias starts (after a back edge or a delay), which
``i_offset`` (on from time 0) cannot say.

What differs: spikec floors ``v * decay`` in s16.15, NEST multiplies in
float64 (``docs/toolchains.md`` gives the measured agreement). With decay
1.0 (IF neurons) nothing is rounded and the spikes are equal. Subtractive
reset, snnTorch's delayed reset and current-based neurons (CubaLIF, and an
LI -> LI chain fused into ``cuba_li``) have no PyNN standard cell with
spikec's arithmetic: they are refused, naming the node.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...compiler.spinnaker.network import network_of  # noqa: F401  (re-exported for runner)
from ...compiler.spinnaker.quantise import SpiNNakerNetwork
from ...compiler.spinnaker.format import EXCITATORY, ONE_S1615
from ...ir.errors import CompileError, InputError

SCRIPT_NAME = "run_pynn.py"
DATA_NAME = "network.npz"
#: tau_m of a neuron that does not decay: exp(-dt / 1e30) == 1.0 exactly in float64
NO_DECAY_TAU_MS = 1e30
#: a threshold no LI read-out reaches (LI populations record v, never spike)
NEVER_MV = 1e30
DEFAULT_STEPS = 100
DEFAULT_RATE = 0.2


def _check_expressible(pop) -> None:
    p = pop.params
    if p.model == "cuba_lif":
        raise CompileError("CubaLIF (Euler current then voltage in one tick) has no PyNN standard cell with "
                           "spikec's arithmetic: IF_curr_exp integrates the current kernel exactly and one tick later",
                           node=pop.name, parameter="model", value=p.model, limit="lif, if, li")
    if p.model == "cuba_li":
        raise CompileError("a fused LI -> LI chain (Euler current then voltage in one tick) has no PyNN standard cell with "
                           "spikec's arithmetic: IF_curr_exp with an unreachable threshold integrates the current kernel "
                           "exactly and one tick later", node=pop.name, parameter="model", value=p.model, limit="lif, if, li")
    if p.model != "li" and p.reset != "zero":
        raise CompileError("IF_curr_delta resets to v_reset; subtractive reset has no PyNN standard cell",
                           node=pop.name, parameter="reset", value=p.reset, limit="zero")
    if p.reset_delay or p.reset_recheck:
        raise CompileError("snnTorch's delayed reset / re-check has no PyNN standard cell",
                           node=pop.name, parameter="reset_delay", value=True, limit=False)
    if np.any(p.bias_j != 0):
        raise CompileError("a current bias needs CubaLIF", node=pop.name, parameter="bias_j")
    if np.any(p.decay_v <= 0) or np.any(p.decay_v > ONE_S1615):
        raise CompileError("membrane decay must lie in (0, 1]", node=pop.name, parameter="decay_v",
                           value=float(p.decay_v.min()) / ONE_S1615, limit="(0, 1]")


def network_arrays(net: SpiNNakerNetwork) -> dict[str, np.ndarray]:
    """The network in PyNN's units, as named arrays (the contents of ``network.npz``)."""
    dt_ms = net.dt_s * 1e3
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"dt_ms": dt_ms, "populations": [], "projections": [], "biases": [],
                            "ticks_before_output": net.max_start_tick}
    for pop in net.populations:
        entry = {"name": pop.name, "size": pop.size, "start_tick": pop.start_tick, "source": pop.is_source}
        if not pop.is_source:
            _check_expressible(pop)
            p = pop.params
            decay = p.decay_v.astype(np.float64) / ONE_S1615
            with np.errstate(divide="ignore"):
                tau = np.where(decay >= 1.0, NO_DECAY_TAU_MS, -dt_ms / np.log(np.minimum(decay, 1.0)))
            thresh = p.v_thresh.astype(np.float64) / p.scale
            if p.spike_compare == ">":  # NEST tests v >= V_th: on integers '>' t is '>=' t + 1
                thresh = (p.v_thresh + 1).astype(np.float64) / p.scale
            if p.model == "li":
                thresh = np.full(pop.size, NEVER_MV)
            arrays[f"tau_m.{pop.name}"] = tau
            arrays[f"v_thresh.{pop.name}"] = thresh
            arrays[f"v_reset.{pop.name}"] = p.v_reset.astype(np.float64) / p.scale
            entry["record_v"] = p.model == "li"
            for k, start in enumerate(p.bias_start):
                if np.any(p.bias_v[k] != 0):
                    arrays[f"bias.{pop.name}.{k}"] = p.bias_v[k].astype(np.float64) / p.scale
                    meta["biases"].append({"post": pop.name, "key": f"bias.{pop.name}.{k}",
                                           "first_tick": pop.start_tick + int(start)})
        meta["populations"].append(entry)
    for i, proj in enumerate(net.projections):
        post = net.population(proj.post).params
        sign = np.where(proj.synapse_type == EXCITATORY, 1.0, -1.0)
        shift = np.where(proj.synapse_type == EXCITATORY, post.shift[0], post.shift[1])
        weight = sign * proj.weight.astype(np.float64) * np.exp2(shift) / post.scale
        key = f"proj{i}"
        arrays[f"{key}.pre"] = proj.pre_index.astype(np.int64)
        arrays[f"{key}.post"] = proj.post_index.astype(np.int64)
        arrays[f"{key}.weight"] = weight
        meta["projections"].append({"key": key, "pre": proj.pre, "post": proj.post, "delay_ticks": int(proj.delay),
                                    "delay_ms": proj.delay * dt_ms})
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return arrays


def default_inputs(net: SpiNNakerNetwork, steps: int = DEFAULT_STEPS, rate: float = DEFAULT_RATE,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Bernoulli input spikes ``[steps, n]`` per source (seeded), so the script runs as written."""
    rng = np.random.default_rng(seed)
    return {p.name: (rng.random((steps, p.size)) < rate).astype(np.uint8) for p in net.populations if p.is_source}


def input_arrays(net: SpiNNakerNetwork, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Input spikes per source as ``input.<name>`` arrays ``[T, n]`` of 0/1 (one sample, no batch)."""
    out, steps = {}, set()
    for pop in net.populations:
        if not pop.is_source:
            continue
        if pop.name not in inputs:
            raise InputError(f"no input spikes for source '{pop.name}'", node=pop.name)
        x = np.asarray(inputs[pop.name])
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != pop.size or not np.isin(x, (0, 1)).all():
            raise InputError(f"input must be [T, {pop.size}] of 0/1, got {x.shape}", node=pop.name)
        out[f"input.{pop.name}"] = x.astype(np.uint8)
        steps.add(x.shape[0])
    if len(steps) > 1:
        raise InputError(f"inputs have different lengths {sorted(steps)}")
    return out


def write_pynn_script(program: Any, folder: str | os.PathLike, inputs: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``run_pynn.py`` and ``network.npz`` into ``folder`` (created); returns the folder."""
    net = network_of(program)
    arrays = network_arrays(net)
    arrays.update(input_arrays(net, inputs if inputs is not None else default_inputs(net)))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / DATA_NAME, lambda f: np.savez(f, **arrays))
    script = (Path(__file__).parent / "pynn_script.py").read_bytes()
    _atomic_write(folder / SCRIPT_NAME, lambda f: f.write(script))
    return folder


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


