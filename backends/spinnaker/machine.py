"""An event-driven SpiNNaker: packets, routers, master population tables, rows, ring buffers.

It loads a compiled ``SpiNNakerArtefacts`` and nothing else. Each tick:

1. every core updates its neurons (``spinnaker_format.neuron_tick``) with the
   ring-buffer slot of this tick, then clears that slot; a spike-source core
   replays its input;
2. every spike leaves its core as a multicast packet carrying the key
   ``base | neuron``; routers forward packets hop by hop: the first table
   entry with ``key & mask == entry key`` gives the links and cores; a packet
   that matches nothing continues straight on (default routing) or, if it
   was injected locally, is dropped;
3. a core receiving a packet finds its block in the master population table,
   reads the row ``key & ~mask``, and adds each synaptic word's weight into
   the ring buffer at ``(tick + delay)`` for its synapse type and neuron;
   a delay-extension core (``compiler/spinnaker/delays.py``) instead finds the
   source neuron i from its source keys and schedules each of its atoms
   ``(s - 1) n + i`` to be sent at ``tick + s * stage_ticks``.

Packets of one tick are moved together (numpy), one hop per round, so the
cost is per hop, not per packet. ``MachineStats`` counts what happened.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...compiler.spinnaker.routing_table import N_LINKS, NO_ROUTE, RoutingTable
from ...compiler.spinnaker.compile import CoreData, SpiNNakerArtefacts
from ...compiler.spinnaker.format import RING_BUFFER_MAX, neuron_tick, new_state, synaptic_input
from ...compiler.spinnaker.partition import ROW_HEADER_WORDS
from ...ir.errors import SpikecError


class MachineError(SpikecError):
    """The loaded tables or rows cannot be executed (a routing loop, a packet off the machine)."""


@dataclass
class MachineStats:
    ticks: int = 0
    packets: int = 0
    hops: int = 0
    table_lookups: int = 0
    default_routed: int = 0
    dropped: int = 0
    deliveries: int = 0
    master_pop_misses: int = 0
    synaptic_events: int = 0


@dataclass
class _Core:
    data: CoreData
    ring: np.ndarray | None  # (slots, 2, n) int64
    state: dict[str, np.ndarray] | None
    mp_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mp_masks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mp_address: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mp_stride: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mp_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pending: np.ndarray | None = None  # delay extension: (slots, atoms) spikes to send at tick % slots


class EventMachine:
    """A loaded machine; ``run`` plays spike inputs through it."""

    def __init__(self, artefacts: SpiNNakerArtefacts) -> None:
        self.a = artefacts
        self.fmt = artefacts.word_format
        self.slots = 1 << self.fmt.ring_buffer_delay_bits
        m = artefacts.machine
        self.chip_ids = {(x, y): i for i, (x, y) in enumerate(m.chips)}
        self.neighbours = np.full((len(self.chip_ids), N_LINKS), -1, dtype=np.int64)
        for chip, i in self.chip_ids.items():
            for link in range(N_LINKS):
                nxt = m.neighbour(chip, link)
                if nxt is not None:
                    self.neighbours[i, link] = self.chip_ids[nxt]
        self.tables: dict[int, RoutingTable] = {self.chip_ids[c]: t for c, t in artefacts.routing_tables.items()}
        self.core_at = {c.location: i for i, c in enumerate(artefacts.cores)}
        self.stats = MachineStats()

    # --- one tick -----------------------------------------------------------------------

    def _new_cores(self) -> list[_Core]:
        cores = []
        for data in self.a.cores:
            if data.params is None:
                core = _Core(data, None, None)
                ext = data.extension
                if ext is not None:
                    stages = -(-data.vertex.hi // ext.n_source)
                    core.pending = np.zeros((stages * ext.stage_ticks + 1, data.vertex.size), np.int64)
                cores.append(core)
                continue
            n = data.vertex.size
            core = _Core(data, np.zeros((self.slots, 2, n), dtype=np.int64), new_state(n, 1))
            mp = data.synapses.master_pop if data.synapses is not None else ()
            core.mp_keys = np.array([e.key for e in mp], dtype=np.int64)
            core.mp_masks = np.array([e.mask for e in mp], dtype=np.int64)
            core.mp_address = np.array([e.address for e in mp], dtype=np.int64)
            core.mp_stride = np.array([e.row_stride for e in mp], dtype=np.int64)
            core.mp_rows = np.array([e.n_rows for e in mp], dtype=np.int64)
            cores.append(core)
        return cores

    def _route(self, keys: np.ndarray, chips: np.ndarray) -> dict[int, list[np.ndarray]]:
        """Move packets hop by hop; returns {core index: [keys delivered]}."""
        delivered: dict[int, list[np.ndarray]] = {}
        arrival = np.full(keys.shape, -1, dtype=np.int64)
        limit = 4 * (len(self.chip_ids) + 1)
        for _ in range(limit):
            if keys.size == 0:
                return delivered
            routes = np.full(keys.shape, NO_ROUTE, dtype=np.int64)
            for chip in np.unique(chips):
                sel = chips == chip
                table = self.tables.get(int(chip))
                self.stats.table_lookups += int(sel.sum())
                if table is not None:
                    routes[sel] = table.lookup_many(keys[sel])
            missed = routes == NO_ROUTE
            local_miss = missed & (arrival < 0)
            self.stats.dropped += int(local_miss.sum())
            default = missed & (arrival >= 0)
            self.stats.default_routed += int(default.sum())
            routes[default] = 1 << arrival[default]
            routes[local_miss] = 0
            next_keys, next_chips, next_arrival = [], [], []
            for link in range(N_LINKS):
                go = (routes >> link & 1).astype(bool)
                if not go.any():
                    continue
                dest = self.neighbours[chips[go], link]
                if (dest < 0).any():
                    raise MachineError(f"a packet with key 0x{int(keys[go][dest < 0][0]):08X} was routed off the "
                                       f"edge of the machine by link {link}")
                next_keys.append(keys[go])
                next_chips.append(dest)
                next_arrival.append(np.full(dest.shape, link, dtype=np.int64))
            core_bits = routes >> N_LINKS
            for core_number in range(int(core_bits.max(initial=0)).bit_length()):
                hit = (core_bits >> core_number & 1).astype(bool)
                if not hit.any():
                    continue
                for chip in np.unique(chips[hit]):
                    sel = hit & (chips == chip)
                    x, y = self.a.machine.chips[int(chip)]
                    core = self.core_at.get((x, y, core_number))
                    if core is None:
                        self.stats.dropped += int(sel.sum())
                        continue
                    delivered.setdefault(core, []).append(keys[sel])
                    self.stats.deliveries += int(sel.sum())
            if not next_keys:
                return delivered
            keys = np.concatenate(next_keys)
            chips = np.concatenate(next_chips)
            arrival = np.concatenate(next_arrival)
            self.stats.hops += int(keys.size)
        raise MachineError(f"packets still in flight after {limit} hops: the routing tables form a loop")

    def _extend(self, core: _Core, keys: np.ndarray, tick: int) -> None:
        """A delay-extension core: source neuron i (from its key) is re-sent as atom ``(s-1) n + i``
        at ``tick + s * stage_ticks``, for every stage s this core holds."""
        ext, v = core.data.extension, core.data.vertex
        neurons = []
        for base, mask, lo in ext.sources:
            hit = (keys & mask) == base
            neurons.append(lo + (keys[hit] & ~mask))
        heard = np.zeros(ext.n_source, bool)
        heard[np.concatenate(neurons).astype(np.int64)] = True
        atoms = np.arange(v.lo, v.hi)
        fire = heard[atoms % ext.n_source]
        stage = atoms // ext.n_source + 1
        slots = (tick + stage * ext.stage_ticks) % core.pending.shape[0]
        core.pending[slots[fire], np.flatnonzero(fire)] = 1
        self.stats.synaptic_events += int(fire.sum())

    def _receive(self, core: _Core, keys: np.ndarray, tick: int) -> None:
        """Master population table -> rows -> ring buffer, for every packet that reached ``core``."""
        if core.pending is not None:
            self._extend(core, keys, tick)
            return
        if core.ring is None or core.data.synapses is None or core.mp_keys.size == 0:
            self.stats.master_pop_misses += int(keys.size)
            return
        match = (keys[:, None] & core.mp_masks[None, :]) == core.mp_keys[None, :]
        found = match.any(axis=1)
        self.stats.master_pop_misses += int((~found).sum())
        keys, entry = keys[found], match[found].argmax(axis=1)
        row = keys & ~core.mp_masks[entry]
        ok = row < core.mp_rows[entry]
        self.stats.master_pop_misses += int((~ok).sum())
        keys, entry, row = keys[ok], entry[ok], row[ok]
        words = core.data.synapses.words
        start = core.mp_address[entry] + row * core.mp_stride[entry]
        n_fixed = words[start + 1].astype(np.int64)
        total = int(n_fixed.sum())
        if total == 0:
            return
        first = np.repeat(start + ROW_HEADER_WORDS - (np.cumsum(n_fixed) - n_fixed), n_fixed)
        synaptic = words[first + np.arange(total)]
        weight, delay, syn_type, index = self.fmt.decode(synaptic)
        slot = (tick + delay) & (self.slots - 1)
        np.add.at(core.ring, (slot, syn_type, index), weight)
        np.minimum(core.ring, RING_BUFFER_MAX, out=core.ring)
        self.stats.synaptic_events += total

    # --- the run ---------------------------------------------------------------------------

    def run(self, inputs: dict[str, np.ndarray], steps: int, record_v: bool = False) -> dict[int, dict[str, np.ndarray]]:
        """One batch item: ``inputs[name]`` is ``[T, n]`` of 0/1. Returns per-core raw recordings."""
        cores = self._new_cores()
        ticks = steps + self.a.max_start_tick
        rec: dict[int, dict[str, list]] = {i: {"spikes": [], "v": []} for i in range(len(cores))}
        source_data = {}
        for name, (_, vertex_ids) in self.a.inputs.items():
            for vid in vertex_ids:
                v = self.a.cores[vid].vertex
                source_data[vid] = inputs[name][:, v.lo:v.hi]
        for t in range(ticks):
            self.stats.ticks += 1
            keys_out, chips_out = [], []
            for i, core in enumerate(cores):
                local = t - core.data.start_tick
                if core.pending is not None:
                    slot = t % core.pending.shape[0]
                    spikes = core.pending[slot].copy()
                    core.pending[slot] = 0
                elif core.ring is None:
                    spikes = source_data[i][local] if 0 <= local < steps else np.zeros(core.data.vertex.size, np.int64)
                else:
                    slot = t & (self.slots - 1)
                    exc, inh = core.ring[slot, 0][None, :], core.ring[slot, 1][None, :]
                    inp = synaptic_input(exc, inh, core.data.params.shift)
                    core.ring[slot] = 0
                    if local >= 0:
                        spikes = neuron_tick(core.data.params, core.state, inp, local)[0]
                    else:
                        spikes = np.zeros(core.data.vertex.size, np.int64)
                    if record_v:
                        rec[i]["v"].append(core.state["v"][0].copy())
                rec[i]["spikes"].append(np.asarray(spikes, dtype=np.int64))
                fired = np.flatnonzero(spikes)
                if fired.size and core.data.sends:
                    keys_out.append(core.data.key_base | fired.astype(np.int64))
                    x, y, _ = core.data.location
                    chips_out.append(np.full(fired.shape, self.chip_ids[(x, y)], dtype=np.int64))
            if keys_out:
                keys = np.concatenate(keys_out)
                self.stats.packets += int(keys.size)
                for core_index, parts in self._route(keys, np.concatenate(chips_out)).items():
                    self._receive(cores[core_index], np.concatenate(parts), t)
        return {i: {k: np.stack(v) if v else np.zeros((ticks, 0)) for k, v in r.items()} for i, r in rec.items()}
