"""Lava Processes spikec adds to Lava's own, with bit-accurate fixed-point models.

This module runs inside the Lava environment (Python 3.10, numpy < 2,
lava-nc 0.10.0), imported by ``runner.py`` via ``sys.path``; it must not
import spikec. It follows Lava's own layout (``lava/proc/lif``): a Process
says what a thing is (ports and variables); a ``PyLoihiProcessModel`` tagged
``fixed_pt`` says how Loihi computes it.

What is here and why:
- ``SpikecLIF``: Lava's LIF (same ``du``, ``dv``, ``vth``, ``bias_mant``,
  ``bias_exp``, same integer step, see ``lava/proc/lif/models.py``) plus the
  neuron variants spikec's Loihi semantics define and Lava lacks: reset by
  subtraction, a nonzero reset voltage, snnTorch's delayed reset and a
  non-spiking read-out (LI/Integrator). CubaLIF needs nothing extra: Lava's
  LIF is current-based, and the compiler folds ``w_in`` into the weights.
  ``docs/semantics.md`` section 3 defines the arithmetic; the reference
  executor implements the same equations.
- ``SpikeRecorder`` and ``StateRecorder``: sinks that keep what they receive
  in the model's own process and write it to a ``.npy`` file at the last step.
  Lava's ``RingBuffer``/``Monitor`` read-back goes through ``Var.get()``, about
  28 us per value; writing a file costs nothing per value.
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed

RESET_ZERO = 0
RESET_SUBTRACT = 1
RESET_NONE = 2  # read-out neurons: integrate, never spike


# --- neurons ----------------------------------------------------------------------


class SpikecLIF(AbstractProcess):
    """Lava's LIF with spikec's reset variants.

    One step, in Lava's units (``u``, ``v`` 24-bit; ``vth`` 17-bit, compared
    after ``<< 6``)::

        u    = u * (4096 - du - 1) >> 12 (toward 0) + (a_in << 6), wrapped to 24 bits
        v    = v * (4096 - dv) >> 12 (toward 0) + u + (bias_mant << bias_exp), clipped
        s    = v > vth << 6           (never, for reset_mode = none)
        reset(s): zero     -> v = v_reset
                  subtract -> v = max(v - (vth << 6), -(2**23 - 1))

    With ``reset_delay`` the reset caused by a spike at step t is applied at
    step t+1, after that step's integration and before its threshold test
    (snnTorch's default: the input of step t+1 is lost under a reset to
    ``v_reset``). ``v_reset`` is in ``v`` units (already ``<< 6``). With
    ``reset_mode = none`` (read-outs) nothing spikes and nothing resets.
    With ``reset_recheck`` (snnTorch's immediate subtraction) the spike test
    is ``v - (vth << 6) * [v_stored > vth << 6] > vth << 6``, ``v_stored``
    being last step's stored v.
    """

    def __init__(self, *, shape, du=0, dv=0, vth=10, bias_mant=0, bias_exp=0, u=0, v=0,
                 v_reset=0, reset_mode=RESET_ZERO, reset_delay=False, reset_recheck=False,
                 name=None):
        super().__init__(shape=shape, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp,
                         reset_mode=int(reset_mode), reset_delay=bool(reset_delay),
                         reset_recheck=bool(reset_recheck), name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=u)
        self.v = Var(shape=shape, init=v)
        self.du = Var(shape=(1,), init=du)
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)
        self.v_reset = Var(shape=shape, init=v_reset)
        self.pending_reset = Var(shape=shape, init=0)


@implements(proc=SpikecLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PySpikecLIFModelBitAcc(AbstractPyLifModelFixed):
    """Bit-accurate model of ``SpikecLIF``: Lava's fixed-point LIF step
    (inherited ``subthr_dynamics``) with spikec's resets."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    v_reset: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    pending_reset: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.reset_mode = proc_params["reset_mode"]
        self.reset_delay = proc_params["reset_delay"]
        self.reset_recheck = proc_params.get("reset_recheck", False)
        self.effective_vth = 0

    def scale_threshold(self):
        self.effective_vth = np.left_shift(np.int32(self.vth), self.vth_shift)
        self.isthrscaled = True

    def apply_reset(self, mask):
        """Reset the neurons in ``mask``; a subtraction saturates to 24 bits
        like every other change of v (it can only leave the range when the
        reset is delayed and v fell below the threshold meanwhile)."""
        if self.reset_mode == RESET_ZERO:
            self.v[mask] = self.v_reset[mask]
        elif self.reset_mode == RESET_SUBTRACT:
            lowest = -np.int64(self.max_uv_val) + 1
            self.v[mask] = np.maximum(np.int64(self.v[mask]) - self.effective_vth, lowest)

    def run_spk(self):
        a_in = self.a_in.recv()
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        v_stored = self.v.copy()
        self.subthr_dynamics(activation_in=a_in)
        if self.reset_delay:
            self.apply_reset(self.pending_reset.astype(bool))
        if self.reset_mode == RESET_NONE:
            spikes = np.zeros(self.v.shape, dtype=bool)
        elif self.reset_recheck:
            owed = (v_stored > self.effective_vth).astype(np.int64) * self.effective_vth
            spikes = (self.v.astype(np.int64) - owed) > self.effective_vth
        else:
            spikes = self.v > self.effective_vth
        if self.reset_delay:
            self.pending_reset[:] = spikes
        else:
            self.apply_reset(spikes)
        self.s_out.send(spikes.astype(np.int32))


# --- recorders --------------------------------------------------------------------


class SpikeRecorder(AbstractProcess):
    """Keeps every step's input vector and writes them, time-first, to ``path``
    (``.npy``, int8 for spikes) after step ``num_steps``."""

    def __init__(self, *, shape, num_steps, path, name=None):
        super().__init__(shape=shape, num_steps=int(num_steps), path=str(path), name=name)
        self.a_in = InPort(shape=shape)


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.num_steps = proc_params["num_steps"]
        self.path = proc_params["path"]
        self.trace = np.zeros((self.num_steps,) + tuple(proc_params["shape"]), dtype=np.int8)

    def run_spk(self):
        data = self.a_in.recv()
        if self.time_step <= self.num_steps:
            self.trace[self.time_step - 1] = data
        if self.time_step == self.num_steps:
            np.save(self.path, self.trace)


class StateRecorder(AbstractProcess):
    """Reads a neuron variable (``v`` or ``u``) after every step through a
    RefPort, as ``lava.proc.io.sink.Read`` does, and writes the trace to
    ``path`` (``.npy``, int32) after step ``num_steps``."""

    def __init__(self, *, var, num_steps, path, name=None):
        super().__init__(num_steps=int(num_steps), path=str(path), shape=tuple(var.shape), name=name)
        self.state = RefPort(var.shape)
        self.state.connect_var(var)


@implements(proc=StateRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStateRecorderModel(PyLoihiProcessModel):
    state: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.num_steps = proc_params["num_steps"]
        self.path = proc_params["path"]
        self.trace = np.zeros((self.num_steps,) + tuple(proc_params["shape"]), dtype=np.int32)

    def post_guard(self):
        return True

    def run_post_mgmt(self):
        if self.time_step <= self.num_steps:
            self.trace[self.time_step - 1] = self.state.read()
        if self.time_step == self.num_steps:
            np.save(self.path, self.trace)
