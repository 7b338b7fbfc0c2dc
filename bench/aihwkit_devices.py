"""spikec's RRAM/PCM device models (compiler/rram/devices.py) against IBM aihwkit's, on the same conductances.

    python bench/aihwkit_devices.py [--samples 20000] [--t 86400]

Needs the aihwkit venv (``python -m spikec.backends.toolenvs aihwkit``).
For each preset (``pcm_like``, ``reram_wan2022``, ``reram_cmo``) and each
target level, both sides draw the same number of cells (``aihwkit_child.py``
runs aihwkit's ``PCMLikeNoiseModel``, ``ReRamWan2022NoiseModel``,
``ReRamCMONoiseModel``): programming-noise std, drift exponent statistics
(PCM), read noise at the read time, and the mean and std of the conductance
at the read time ``--t`` after programming. Prints one Markdown table per
preset; ``ratio`` is spikec / aihwkit.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from spikec.backends import toolenvs
from spikec.compiler.rram.devices import DEVICE_PRESETS

LEVELS = {
    "pcm_like": [1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 25.0],
    "reram_wan2022": [2.0, 5.0, 10.0, 20.0, 30.0, 40.0],
    "reram_cmo": [10.0, 20.0, 40.0, 60.0, 90.0],
}


def spikec_rows(name: str, samples: int, t_s: float) -> list[dict]:
    device = DEVICE_PRESETS[name]()
    rows = []
    for k, g in enumerate(LEVELS[name]):
        rng = np.random.default_rng(k)
        target = np.full(samples, g)
        prog = device.program(target, rng)
        row = {"g_us": g, "prog_std": float((prog - target).std()),
               "prog_sigma": float(device.programming.sigma_us(np.array([g]), device.g_max_us)[0]),
               "read_std": device.read_sigma_us}
        if device.drift.law == "power":
            nu = np.abs(device.drift.nu_mean + device.drift.nu_std * np.random.default_rng(100 + k).standard_normal(samples))
            row["nu_mean"], row["nu_std"] = float(nu.mean()), float(nu.std())
        aged = device.program_and_age(target, t_s, np.random.default_rng(200 + k))[1]
        aged = aged + device.read_sigma_us * np.random.default_rng(300 + k).standard_normal(samples)  # one read
        row["aged_mean"], row["aged_std"] = float(aged.mean()), float(aged.std())
        rows.append(row)
    return rows


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else ("1.00" if a == 0 else "inf")


def table(name: str, ours: list[dict], theirs: list[dict], t_s: float, pcm: bool) -> str:
    head = ["g (uS)", "prog std spikec", "aihwkit", "ratio"]
    if pcm:
        head += ["nu mean spikec", "aihwkit", "nu std spikec", "aihwkit"]
    head += ["read std at t spikec", "aihwkit", "mean g(t) spikec", "aihwkit", "std g(t) spikec", "aihwkit"]
    lines = [f"**{name}**, t = {t_s:g} s, uS", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o, a in zip(ours, theirs):
        cells = [f"{o['g_us']:g}", f"{o['prog_std']:.3f}", f"{a['prog_std']:.3f}", _ratio(o["prog_std"], a["prog_std"])]
        if pcm:
            cells += [f"{o['nu_mean']:.4f}", f"{a['nu_mean']:.4f}", f"{o['nu_std']:.4f}", f"{a['nu_std']:.4f}"]
        cells += [f"{o['read_std']:.3f}", f"{a['read_std']:.3f}" if "read_std" in a else "none",
                  f"{o['aged_mean']:.3f}", f"{a['aged_mean']:.3f}", f"{o['aged_std']:.3f}", f"{a['aged_std']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--t", dest="t_s", type=float, default=86400.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    try:
        python = toolenvs.ensure("aihwkit")
    except toolenvs.ToolEnvironmentError as err:
        print(f"spikec: {err}")
        return {}
    with tempfile.TemporaryDirectory(prefix="spikec-aihwkit-") as tmp:
        inp, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        inp.write_text(json.dumps({"levels": LEVELS, "samples": args.samples, "t_s": args.t_s}))
        done = subprocess.run([str(python), str(Path(__file__).with_name("aihwkit_child.py")), str(inp), str(out)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print("\n".join((done.stderr or done.stdout).strip().splitlines()[-15:]))
            raise SystemExit(1)
        theirs = json.loads(out.read_text())
    figures = {}
    for name in (*LEVELS, "reram_cmo_2pct"):
        ours = spikec_rows(name.replace("_2pct", ""), args.samples, args.t_s)
        figures[name] = {"spikec": ours, "aihwkit": theirs[name]}
        label = name if name in LEVELS else "reram_cmo vs aihwkit ReRamCMONoiseModel(acceptance_range=2)"
        print(table(label, ours, theirs[name], args.t_s, pcm=name == "pcm_like") + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
