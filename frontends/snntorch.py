"""snnTorch -> spikec Graph, meaning what the torch module computes.

snnTorch 1.0.0 steps (``_neurons/leaky.py``, ``synaptic.py``, ``rleaky.py``,
``rsynaptic.py``), with ``r_t = H(mem_{t-1} - thr)`` the reset owed by the
previous step and ``H(u) = u > 0``::

    Leaky       mem = beta mem + x                    (- r_t thr | zero: mem_{t-1} zeroed first)
    Synaptic    syn = alpha syn + x;  mem = beta mem + syn   (- r_t thr | zero: mem = 0 if r_t)
    RLeaky      x  += recurrent(spk_{t-1}) (an nn.Linear with bias, a Conv2d, or V * spk)
    Lapicque    mem = (1 - ts/(RC)) mem + (ts/C) x        (reset always one step late)
    Alpha       exc = a exc + x; inh = b inh - x; mem = k (exc + inh), k = ln a/(ln b - ln a) + 1
    spike       spk = gsf * H(mem - thr)                  (gsf: graded_spikes_factor, 1 by default)

How each becomes nodes (docs/frontends.md has the table): Leaky/RLeaky/Lapicque ->
LIF; Synaptic/RSynaptic -> CubaLIF; ``reset_mechanism="none"`` -> the same neuron with
an immediate subtraction plus self-connections that add the subtracted threshold back
(exact, and it compiles on every target); Alpha only without reset (a one-step Delay
and such a CubaLIF); graded spikes -> a Scale after the spikes, inside the recurrence.
SLSTM, SConv2dLSTM, DeltaLeaky, LeakyParallel, StateLeaky, LinearLeaky,
AssociativeLeaky, ``inhibition`` and ``state_quant`` are refused (``REFUSED``), naming
the layer, the reason and the nearest exact rewrite. Where a forward reads only a neuron's
membrane (``_, mem = lif(cur)``), a state its spikes never touch becomes LI nodes (``_membrane``);
a resetting membrane is refused.

With ``dt`` (default 1e-4 s, the exporter's): ``tau = dt / (1 - beta)``,
``r = tau / dt``; ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``; under
spikec's forward Euler that is exactly ``beta v + x`` and ``alpha I + x``.

What snnTorch's exporter gets wrong, and what we do instead (docs/frontends.md):

* it fails on scalar parameters (NIR wants one shape): we broadcast;
* it drops ``reset_mechanism`` and ``reset_delay``: we read them from the module
  and store them on our LIF/CubaLIF (NIR node metadata ``spikec.reset``, ...);
* it does not clamp beta/alpha to [0, 1] as the neurons do: we clamp;
* ``Leaky`` with ``reset_mechanism="zero"`` and the default ``reset_delay=True``
  zeroes the *previous* membrane before adding the input, so no input is lost and
  its spikes equal those of an immediate reset to zero: we write
  ``reset_delay=False`` (the other zero-reset neurons do lose the input, which is
  what spikec's delayed zero reset means);
* ``RSynaptic(reset_delay=False)`` computes its immediate reset into a local
  variable and discards it (and crashes with ``init_hidden=True``): it resets
  one step late like ``reset_delay=True``, so we write ``reset_delay=True``;
* a recurrent ``nn.Linear``'s bias is added at step 0 too (``recurrent(0) = b``),
  while a back edge carries zero at step 0: we move that bias onto the
  feed-forward synapse in front of the neuron, which adds it at every step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np
import torch

from ..ir.errors import GraphError
from ..ir.graph import Graph
from ..ir.nir_io import FOLDED_BIAS_KEY, RECURRENT_BIAS_KEY, RESET_DELAY_KEY, RESET_KEY, RESET_RECHECK_KEY
from ..ir.nir_io import _delay_linear_branches as delay_linear_branches
from ..ir.nodes import Affine, Conv2d, Linear
from .delay_layers import SynapticDelayLinear, delay_linear_node
from .torch_trace import STANDARD_LAYERS, as_numpy, map_standard_layer, same_shape, trace_to_graph, unsupported

SUPPORTED = (
    *STANDARD_LAYERS, "snntorch.Leaky", "snntorch.Synaptic",
    "snntorch.RLeaky", "snntorch.RSynaptic", "snntorch.Lapicque", "snntorch.Alpha(reset_mechanism='none')",
    "spikec SynapticDelayLinear",
)
_RESET_NAMES = {0: "subtract", 1: "zero", 2: "none"}

#: snnTorch neurons no spikec graph computes: (why, the nearest exact rewrite).
REFUSED: dict[str, tuple[str, str]] = {
    "SLSTM": ("a spiking LSTM multiplies gate activations with its states (sigmoid(.) * c), "
              "and no NIR primitive multiplies two signals", "snn.RLeaky or snn.RSynaptic (recurrent LIF)"),
    "SConv2dLSTM": ("a spiking convolutional LSTM multiplies gate activations with its states, "
                    "and no NIR primitive multiplies two signals",
                    "nn.Conv2d followed by snn.RLeaky(conv2d_channels=..., kernel_size=...)"),
    "DeltaLeaky": ("it fires on |mem_t - mem_(t-1)| > delta_threshold, an absolute value of a difference "
                   "that no NIR primitive computes", "snn.Leaky"),
    "LeakyParallel": ("it is a ReLU nn.RNN over the whole sequence (hidden state clipped at 0, no reset), "
                      "not a stepped neuron", "nn.Linear followed by snn.Leaky"),
    "StateLeaky": ("it filters the whole sequence at once with a truncated causal decay kernel, "
                   "not a stepped neuron", "snn.Leaky(reset_mechanism='none')"),
    "LinearLeaky": ("it filters the whole sequence at once with a truncated causal decay kernel, "
                    "not a stepped neuron", "nn.Linear followed by snn.Leaky(reset_mechanism='none')"),
    "AssociativeLeaky": ("its key-value memory multiplies two signals (outer products), "
                         "which no NIR primitive computes", "snn.Leaky or snn.RLeaky"),
}


def refused(module: torch.nn.Module, name: str) -> GraphError:
    why, rewrite = REFUSED[type(module).__name__]
    return GraphError(
        f"snnTorch {type(module).__name__} cannot be compiled exactly: {why}; nearest exact rewrite: {rewrite}",
        node=name, value=type(module).__name__,
    )


def _reset_mode(neuron: Any, name: str) -> str:
    """"subtract", "zero" or "none" (no reset: see _never_reset_lif and _never_reset_cuba_lif)."""
    return _RESET_NAMES[int(neuron.reset_mechanism_val)]


def _check_plain_neuron(neuron: Any, name: str) -> None:
    """Reject the options whose forward pass no spikec graph computes."""
    if neuron.inhibition:
        raise GraphError(
            "inhibition=True (winner-take-all) cannot be compiled exactly: only the neuron with the largest "
            "membrane of each sample may spike, an argmax across the layer that no NIR primitive computes; "
            "nearest exact rewrite: inhibition=False",
            node=name, parameter="inhibition", value=True,
        )
    if neuron.state_quant:
        raise GraphError(
            "state_quant cannot be compiled exactly: it rounds the membrane to a grid at every step, which no "
            "NIR primitive does; nearest exact rewrite: state_quant=False (each target quantises at compile time)",
            node=name, parameter="state_quant",
        )


def _graded_factor(neuron: Any) -> np.ndarray | None:
    """snnTorch's graded_spikes_factor (spk = gsf * H(mem - thr)) when it is not 1, else None."""
    gsf = getattr(neuron, "graded_spikes_factor", None)
    if gsf is None:
        return None
    gsf = as_numpy(gsf)
    return gsf if np.any(gsf != 1.0) else None


def _decay_to_tau(decay: Any, dt_s: float, name: str, parameter: str) -> tuple[np.ndarray, np.ndarray]:
    """(tau, gain) with tau = dt / (1 - decay), gain = tau / dt; decay clamped to [0, 1] like snnTorch."""
    d = np.clip(as_numpy(decay), 0.0, 1.0)
    if np.any(d >= 1.0):
        raise GraphError(
            f"{parameter} = 1 means no leak (tau = infinity), which a leaky neuron cannot express",
            node=name, parameter=parameter, value=1.0, limit="< 1",
        )
    tau_s = dt_s / (1.0 - d)
    return tau_s, 1.0 / (1.0 - d)


def _reset_metadata(neuron: Any, name: str, *, kind: str) -> dict[str, Any]:
    mode = _reset_mode(neuron, name)
    delay = bool(getattr(neuron, "reset_delay", True))  # Lapicque has no option: it always resets one step late
    if kind == "Leaky" and mode == "zero":
        delay = False  # spike-equivalent: snnTorch zeroes mem_{t-1}, before the input
    if kind == "RSynaptic":
        delay = True  # snnTorch 1.0.0 discards RSynaptic's immediate reset
    # snnTorch's immediate subtraction spikes on mem - thr*H(mem_{t-1} - thr) > thr ("avoid double reset").
    recheck = mode == "subtract" and not delay
    return {RESET_KEY: mode, RESET_DELAY_KEY: delay, RESET_RECHECK_KEY: recheck}


@dataclass
class _Layer:
    """One snnTorch neuron as NIR nodes: ``entry`` nodes take the layer's (and the recurrent) input,
    ``spikes`` is the node whose output is the layer's output."""

    nodes: dict[str, Any]
    edges: list[tuple[str, str]] = field(default_factory=list)
    entry: tuple[str, ...] = ("lif",)
    spikes: str = "lif"


def _never_reset_lif(tau_s: np.ndarray, r: np.ndarray, threshold: Any, dt_s: float) -> _Layer:
    """A leaky membrane that never resets, as a LIF that does, plus a self-connection that undoes the reset.

    With a = dt/tau, an immediate subtractive reset and a one-to-one back edge of weight
    w = (1 - a) thr / (a r), the LIF's ``v`` is ``m - thr s`` where ``m`` is the never-reset membrane
    ``m_t = (1 - a) m_(t-1) + a r x_t``: ``v_t = (1-a) v_(t-1) + a r (x_t + w s_(t-1)) - thr s_t
    = (1-a)(m_(t-1) - thr s_(t-1)) + a r x_t + (1-a) thr s_(t-1) - thr s_t = m_t - thr s_t``, and its spike
    test on the pre-reset value is ``m_t > thr``, snnTorch's test. Unlike an integrator followed by a
    Threshold, this compiles for every target family (a LIF and a recurrent weight).
    """
    p = same_shape(tau=tau_s, r=r, v_threshold=threshold, v_leak=0.0, v_reset=0.0)
    a = dt_s / p["tau"]
    restore = (1.0 - a) * p["v_threshold"] / (a * p["r"])
    metadata = {RESET_KEY: "subtract", RESET_DELAY_KEY: False, RESET_RECHECK_KEY: False, "spikec.never_reset": True}
    nodes = {"lif": nir.LIF(**p, metadata=metadata), "restore": nir.Scale(scale=restore)}
    return _Layer(nodes, [("lif", "restore"), ("restore", "lif")])


def _never_reset_cuba_lif(tau_syn_s, tau_mem_s, r, w_in, threshold: Any, dt_s: float) -> _Layer:
    """A current-based membrane that never resets, as a CubaLIF that does, plus two self-connections.

    As in :func:`_never_reset_lif`, ``v`` must get back ``(1 - a_m) thr s_(t-1)`` at step t, but the
    CubaLIF's input goes through its current I first. A current ``K_t = q s_(t-1)`` with
    ``q = (1 - a_m) thr / (a_m r)`` does it, and since ``K_t = (1 - a_s) K_(t-1) + a_s w_in y_t`` the
    input is ``y_t = (q s_(t-1) - (1 - a_s) q s_(t-2)) / (a_s w_in)``: a back edge of weight
    ``q / (a_s w_in)`` and one through a one-step Delay of weight ``-(1 - a_s) q / (a_s w_in)``
    (for snnTorch's Synaptic: beta thr and -alpha beta thr).
    """
    p = same_shape(tau_syn=tau_syn_s, tau_mem=tau_mem_s, r=r, w_in=w_in, v_threshold=threshold, v_leak=0.0, v_reset=0.0)
    a_s, a_m = dt_s / p["tau_syn"], dt_s / p["tau_mem"]
    q = (1.0 - a_m) * p["v_threshold"] / (a_m * p["r"])
    metadata = {RESET_KEY: "subtract", RESET_DELAY_KEY: False, RESET_RECHECK_KEY: False, "spikec.never_reset": True}
    nodes = {
        "lif": nir.CubaLIF(**p, metadata=metadata),
        "restore": nir.Scale(scale=q / (a_s * p["w_in"])),
        "hold": nir.Delay(delay=np.full(np.shape(q), dt_s)),
        "restore_tail": nir.Scale(scale=-(1.0 - a_s) * q / (a_s * p["w_in"])),
    }
    edges = [("lif", "restore"), ("restore", "lif"), ("lif", "hold"), ("hold", "restore_tail"), ("restore_tail", "lif")]
    return _Layer(nodes, edges)


def _leaky(neuron: Any, name: str, dt_s: float, kind: str) -> _Layer:
    """Leaky / RLeaky: mem = beta mem + x (+ reset)."""
    tau_s, r = _decay_to_tau(neuron.beta, dt_s, name, "beta")
    if _reset_mode(neuron, name) == "none":
        return _never_reset_lif(tau_s, r, neuron.threshold, dt_s)
    p = same_shape(tau=tau_s, r=r, v_threshold=neuron.threshold, v_leak=0.0, v_reset=0.0)
    return _Layer({"lif": nir.LIF(**p, metadata=_reset_metadata(neuron, name, kind=kind))})


def _synaptic(neuron: Any, name: str, dt_s: float, kind: str) -> _Layer:
    """Synaptic / RSynaptic: syn = alpha syn + x; mem = beta mem + syn (+ reset of mem only)."""
    tau_mem_s, r = _decay_to_tau(neuron.beta, dt_s, name, "beta")
    tau_syn_s, w_in = _decay_to_tau(neuron.alpha, dt_s, name, "alpha")
    if _reset_mode(neuron, name) == "none":
        return _never_reset_cuba_lif(tau_syn_s, tau_mem_s, r, w_in, neuron.threshold, dt_s)
    p = same_shape(
        tau_syn=tau_syn_s, tau_mem=tau_mem_s, r=r, w_in=w_in, v_threshold=neuron.threshold, v_leak=0.0, v_reset=0.0,
    )
    return _Layer({"lif": nir.CubaLIF(**p, metadata=_reset_metadata(neuron, name, kind=kind))})


def _lapicque(neuron: Any, name: str, dt_s: float) -> _Layer:
    """Lapicque (RC circuit): mem = (1 - ts/(RC)) mem + (ts/C) x, with R, C and time_step ts as stored.

    snnTorch derives R and C from beta when given beta (R = 1, C = ts / ln(1/beta)) and then uses only
    R, C and ts: the decay is 1 - ln(1/beta), not beta. Under spikec's Euler step at dt_s that is a
    LIF with tau = dt_s RC/ts and r = R. Its reset is always one step late (no reset_delay option):
    subtract, or zero with the step's input lost, both spikec's delayed resets.
    """
    rc_steps = as_numpy(neuron.R) * as_numpy(neuron.C) / as_numpy(neuron.time_step)
    if np.any(~np.isfinite(rc_steps)) or np.any(rc_steps <= 0):
        raise GraphError(
            "R*C/time_step must be a positive finite number of steps", node=name, parameter="R*C",
            value=float(np.ravel(rc_steps)[0]), limit="> 0",
        )
    tau_s, r = dt_s * rc_steps, as_numpy(neuron.R)
    if _reset_mode(neuron, name) == "none":
        return _never_reset_lif(tau_s, r, neuron.threshold, dt_s)
    p = same_shape(tau=tau_s, r=r, v_threshold=neuron.threshold, v_leak=0.0, v_reset=0.0)
    return _Layer({"lif": nir.LIF(**p, metadata=_reset_metadata(neuron, name, kind="Lapicque"))})


def _alpha(neuron: Any, name: str, dt_s: float) -> _Layer:
    """Alpha: exc = a exc + x; inh = b inh - x; mem = k (exc + inh), k = ln a / (ln b - ln a) + 1.

    Without a reset, exc + inh at step t is ``sum_(j>=1) (a^j - b^j) x_(t-j) = (a - b) V_(t-1)``, where V
    is a current-based membrane with current decay a and membrane decay b driven by x
    (``V_t = sum_j (a^(j+1) - b^(j+1)) / (a - b) x_(t-j)``). So Alpha's spikes are those of a never-reset
    CubaLIF (alpha = a, beta = b, gain k (a - b)) one step behind its input: a one-step Delay in front.
    snnTorch's zero and subtract resets zero (or shift) exc and inh, the *synaptic* states, when the
    combined membrane of the previous step crossed the threshold: spikec's neurons reset only their own
    membrane on their own spike, so those are refused.
    """
    mode = _reset_mode(neuron, name)
    if mode != "none":
        raise GraphError(
            f"Alpha with reset_mechanism={mode!r} cannot be compiled exactly: its reset zeroes the two synaptic "
            "states (syn_exc, syn_inh) when their combined membrane crossed the threshold, and spikec's neurons "
            "reset only their own membrane on their own spike; nearest exact rewrite: snn.Synaptic "
            "(or Alpha with reset_mechanism='none', which is exact)",
            node=name, parameter="reset_mechanism", value=mode,
        )
    a, b = (np.clip(as_numpy(v), 0.0, 1.0) for v in (neuron.alpha, neuron.beta))
    tau_syn, w_in = _decay_to_tau(a, dt_s, name, "alpha")
    tau_mem, r = _decay_to_tau(b, dt_s, name, "beta")
    k = np.log(a) / (np.log(b) - np.log(a)) + 1.0
    layer = _never_reset_cuba_lif(tau_syn, tau_mem, r * k * (a - b), w_in, neuron.threshold, dt_s)
    nodes = {"lag": nir.Delay(delay=np.full(np.shape(layer.nodes["lif"].v_threshold), dt_s)), **layer.nodes}
    return _Layer(nodes, [("lag", "lif"), *layer.edges], entry=("lag",), spikes="lif")


def _as_nir(layer: _Layer, graded: np.ndarray | None = None, recurrent: Any = None) -> Any:
    """The layer as one NIR node, or as a subgraph when it has graded spikes, a recurrence or several nodes.

    Graded spikes (``spk = gsf * H(mem - thr)``) are a Scale after the spikes; snnTorch feeds the graded
    spikes to the recurrent connection, so the Scale sits inside the loop. The reset still follows H.
    """
    nodes, edges, spikes = dict(layer.nodes), list(layer.edges), layer.spikes
    if graded is not None:
        nodes["graded"], spikes = nir.Scale(scale=graded), "graded"
        edges.append((layer.spikes, "graded"))
    if recurrent is not None:
        nodes["w_rec"] = recurrent
        edges += [(spikes, "w_rec")] + [("w_rec", e) for e in layer.entry]
    if len(nodes) == 1:
        (node,) = nodes.values()
        return node
    edges = [("input", e) for e in layer.entry] + edges + [(spikes, "output")]
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=None), **nodes, "output": nir.Output(output_type=None)},
        edges=edges, type_check=False,
    )


def _recurrent_synapse(neuron: Any, name: str) -> Any:
    if neuron.all_to_all:
        node = map_standard_layer(neuron.recurrent, name + ".recurrent")
        if node is None:
            raise unsupported(neuron.recurrent, "snnTorch", SUPPORTED)
        return node
    return nir.Scale(scale=as_numpy(neuron.recurrent.V))


def _neuron(module: Any, name: str, dt_s: float) -> Any | None:
    """NIR form of an snnTorch neuron (None if ``module`` is not one); refused neurons raise."""
    import snntorch as snn

    if type(module).__name__ in REFUSED:
        raise refused(module, name)
    kinds = ((snn.RLeaky, "RLeaky"), (snn.RSynaptic, "RSynaptic"), (snn.Synaptic, "Synaptic"),
             (snn.Leaky, "Leaky"), (snn.Lapicque, "Lapicque"), (snn.Alpha, "Alpha"))
    kind = next((k for cls, k in kinds if isinstance(module, cls)), None)
    if kind is None:
        return None
    _check_plain_neuron(module, name)
    if kind in ("Leaky", "RLeaky"):
        layer = _leaky(module, name, dt_s, kind)
    elif kind in ("Synaptic", "RSynaptic"):
        layer = _synaptic(module, name, dt_s, kind)
    elif kind == "Lapicque":
        layer = _lapicque(module, name, dt_s)
    else:
        layer = _alpha(module, name, dt_s)
    recurrent = _recurrent_synapse(module, name) if kind in ("RLeaky", "RSynaptic") else None
    return _as_nir(layer, _graded_factor(module), recurrent)


#: the items of an ``output=True`` neuron's tuple after the spikes (item 0)
_STATE_ITEMS = {"Leaky": ("mem",), "Lapicque": ("mem",), "Synaptic": ("syn", "mem")}


def _membrane(module: Any, name: str, item: int, dt_s: float) -> Any:
    """Item ``item`` (> 0) of a neuron's ``(spk, ...)`` tuple as leaky integrators, where that is exact.

    A state its spikes never touch is a leaky integrator of the input: Leaky's and Lapicque's membrane
    without reset (LI with the neuron's tau and r: ``beta mem + x``), Synaptic's current always
    (``alpha syn + x``: only the membrane resets) and its membrane without reset (that LI, then one of
    ``beta mem + syn``, the chain Norse's LICell gives). A resetting membrane, or a recurrent neuron's,
    depends on the neuron's spikes: refused, naming the layer.
    """
    kind = type(module).__name__
    states = _STATE_ITEMS.get(kind, ())
    if item > len(states):
        raise GraphError(f"item {item} of {kind} {name!r}'s output tuple has no exact form as a signal "
                         f"(spikec maps the spikes, item 0{'' if not states else ', and ' + ', '.join(states)})",
                         node=name, value=item)
    state = states[item - 1]
    _check_plain_neuron(module, name)
    mode = _reset_mode(module, name)
    if state == "mem" and mode != "none":
        raise GraphError(f"the membrane of {kind} {name!r} (reset_mechanism={mode!r}) is read: it depends on the "
                         "neuron's spikes (each spike resets it), and spikec reads a neuron's spikes or a reset-free "
                         "membrane; read its spikes (item 0), or use reset_mechanism='none'",
                         node=name, parameter="reset_mechanism", value=mode)
    if kind == "Lapicque":
        rc_steps = as_numpy(module.R) * as_numpy(module.C) / as_numpy(module.time_step)
        return nir.LI(**same_shape(tau=dt_s * rc_steps, r=as_numpy(module.R), v_leak=0.0))
    tau_mem, r = _decay_to_tau(module.beta, dt_s, name, "beta")
    if kind == "Leaky":
        return nir.LI(**same_shape(tau=tau_mem, r=r, v_leak=0.0))
    tau_syn, w_in = _decay_to_tau(module.alpha, dt_s, name, "alpha")
    syn = nir.LI(**same_shape(tau=tau_syn, r=w_in, v_leak=0.0))
    if state == "syn":
        return syn
    nodes = {"syn": syn, "mem": nir.LI(**same_shape(tau=tau_mem, r=r, v_leak=0.0))}
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=None), **nodes, "output": nir.Output(output_type=None)},
                        edges=[("input", "syn"), ("syn", "mem"), ("mem", "output")], type_check=False)


def _module_map(dt_s: float, names: dict[int, str]):
    def to_nir(module: torch.nn.Module) -> Any:
        name = names.get(id(module), type(module).__name__)
        node = _neuron(module, name, dt_s)
        if node is not None:
            return node
        if isinstance(module, SynapticDelayLinear):
            return delay_linear_subgraph(module, name, dt_s)
        node = map_standard_layer(module, name)
        if node is None:
            raise unsupported(module, "snnTorch", SUPPORTED)
        return node

    return to_nir


def delay_linear_subgraph(layer: SynapticDelayLinear, name: str, dt_s: float) -> Any:
    """A per-synapse-delay layer as NIR's marked ``Delay -> Linear`` branches (fused back into a DelayLinear)."""
    branches = delay_linear_branches(name, delay_linear_node(layer, dt_s))
    edges = [e for k in branches if k.startswith(name + ".delay")
             for e in (("input", k), (k, k.replace(".delay", ".weight")), (k.replace(".delay", ".weight"), "output"))]
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=None), **branches, "output": nir.Output(output_type=None)},
                        edges=edges, type_check=False)


def _prepare_for_trace(net: torch.nn.Module) -> None:
    """Refuse what cannot be traced into an exact graph, and make the copy traceable:
    RSynaptic(reset_delay=False) crashes in forward with init_hidden.

    Refused neurons are found here, before the trace: nirtorch maps the leaves of a module it does
    not know (SLSTM's nn.LSTMCell), so the map would never see the neuron itself.
    """
    import snntorch as snn

    for name, m in net.named_modules():
        if type(m).__name__ in REFUSED:
            raise refused(m, name)
    for m in net.modules():
        if isinstance(m, snn.RSynaptic):
            m.reset_delay = True


def fold_recurrent_biases(graph: Graph) -> Graph:
    """Move each recurrent synapse's bias onto the synapse feeding the same neuron.

    snnTorch adds ``recurrent(spk_{t-1})`` from step 0, where it equals the bias;
    spikec's back edge carries zero at step 0. A bias on the only feed-forward
    synapse (an Affine/Linear/Conv2d used by this neuron alone) is added at every
    step including 0, so the sum is the same at every step. Both nodes remember the
    moved bias in their metadata (``FOLDED_BIAS_KEY`` / ``RECURRENT_BIAS_KEY``), so
    that ``simulate(precision="float32")`` can add it where snnTorch does, rounding
    for rounding.
    """
    _, back = graph.execution_order()
    changes = {}
    for src, dst in back:
        rec = graph.nodes[src]
        if not isinstance(rec, (Affine, Conv2d)) or not np.any(rec.bias):
            continue
        forward = [p for p in graph.predecessors(dst) if (p, dst) not in back]
        if len(forward) != 1 or graph.successors(forward[0]) != (dst,):
            continue
        ff = changes.get(forward[0], graph.nodes[forward[0]])
        if isinstance(ff, Linear):
            ff = Affine(weight=ff.weight, bias=np.zeros(ff.weight.shape[0]), metadata=ff.metadata)
        if not isinstance(ff, (Affine, Conv2d)) or np.shape(ff.bias) != np.shape(rec.bias):
            continue
        moved = [float(b) for b in np.ravel(rec.bias)]
        changes[forward[0]] = ff.replace(bias=ff.bias + rec.bias, metadata={**ff.metadata, FOLDED_BIAS_KEY: moved})
        changes[src] = (
            Linear(weight=rec.weight, metadata={**rec.metadata, RECURRENT_BIAS_KEY: moved}) if isinstance(rec, Affine)
            else rec.replace(bias=np.zeros_like(rec.bias))
        )
    return graph.replace_nodes(changes) if changes else graph


def from_snntorch(module: torch.nn.Module, sample: torch.Tensor, *, dt_s: float = 1e-4) -> Graph:
    """A normalised Graph computing what ``module`` computes, step for step.

    ``module`` is called once per time step with one frame (``init_hidden=True``
    neurons, as snnTorch's exporter expects); ``sample`` is one frame WITHOUT
    batch or time dimension. ``dt_s`` only sets the time constants' scale:
    under spikec's semantics at the same ``dt_s`` the graph is exact for any value
    (default 1e-4 s, what snnTorch's own exporter writes). The module is not
    modified (tracing runs on a copy).
    """
    import snntorch as snn

    if not dt_s > 0:
        raise GraphError(f"dt_s must be positive, got {dt_s!r}", parameter="dt_s", value=dt_s)
    names = {id(m): n for n, m in module.named_modules()}
    # the map sees the traced copy: name it through the copy's own modules
    def prepare(net: torch.nn.Module) -> None:
        names.clear()
        names.update({id(m): n for n, m in net.named_modules()})
        _prepare_for_trace(net)

    graph = trace_to_graph(
        module, sample, _module_map(dt_s, names), ignore_submodules_of=[snn.RLeaky, snn.RSynaptic],
        leaf_types=(snn.SpikingNeuron, SynapticDelayLinear), prepare=prepare, metadata={"dt_s": dt_s, "frontend": "snntorch"},
        state_map=lambda module, name, item: _membrane(module, name, item, dt_s),
    )
    return fold_recurrent_biases(graph)
