"""The progress bar of ``spikec run`` / ``spikec compile``: on a terminal after 2 s, never in CI logs."""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from spikec.cli.main import cli
from spikec.cli.progress import Progress

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "braille_subtract.nir"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_bar_and_a_pipe_sees_nothing() -> None:
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        with Progress("run", total=50, stream=stream, delay_s=0.0, interval_s=0.0) as bar:
            for t in range(50):
                bar.update(t + 1)
    assert "run" in tty.getvalue() and "50" in tty.getvalue()
    assert pipe.getvalue() == ""


def shown_within(tty: Terminal, text: str, timeout_s: float = 10.0) -> None:
    """Wait (at most ``timeout_s``: a loaded machine may start the ticker thread late) until ``text`` is shown."""
    deadline = time.monotonic() + timeout_s
    while text not in tty.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_quick_work_shows_nothing_even_on_a_terminal() -> None:
    tty = Terminal()
    with Progress("run", total=10, stream=tty, delay_s=60.0) as bar:
        for t in range(10):
            bar.update(t + 1)
    assert "run" not in tty.getvalue()


def test_compile_ticker_shows_elapsed_time_on_a_terminal() -> None:
    tty = Terminal()
    with Progress("compile m.nir for loihi2", stream=tty, delay_s=0.05, interval_s=0.05):
        shown_within(tty, "compile m.nir for loihi2: 0 s")
    assert "compile m.nir for loihi2: 0 s" in tty.getvalue()


def test_non_tty_run_and_compile_print_no_progress(tmp_path, monkeypatch) -> None:
    import spikec.cli.progress as progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)  # show at once: only the non-terminal keeps it quiet
    x = tmp_path / "x.npy"
    np.save(x, (np.random.default_rng(0).random((300, 12)) < 0.2).astype(np.float64))
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", str(EXAMPLE), "--input", str(x), "--output", str(tmp_path / "y.npz"), "--dt", "1e-4",
                              "--precision", "float32"])
    assert ran.exit_code == 0, ran.output
    import spikec

    expected = spikec.simulate(spikec.load_nir(EXAMPLE), np.load(x), 1e-4, precision="float32")
    with np.load(tmp_path / "y.npz") as saved:
        np.testing.assert_array_equal(saved["output"], expected["output"])  # --precision reached simulate
        assert saved["output"].dtype == np.float32
    assert "\r" not in ran.output and "[#" not in ran.output and "step" not in ran.output
    compiled = runner.invoke(cli, ["compile", str(EXAMPLE), "-t", "rram-512", "-o", str(tmp_path / "p.zip"), "--dt", "1e-4"])
    assert compiled.exit_code == 0, compiled.output
    assert "\r" not in compiled.output and " s\n" not in compiled.output.replace("dt 0.0001 s", "")


def test_a_compile_names_each_pass_as_it_starts_then_the_fidelity_run() -> None:
    import spikec
    from spikec import api

    seen: list[tuple[str, int, int]] = []
    program = api.compile(spikec.load_nir(EXAMPLE), "loihi2", dt_s=1e-4, on_pass=lambda *a: seen.append(a))
    names = [r.name for r in program.pass_log]
    assert [s[0] for s in seen] == names + ["fidelity"]
    assert [s[1] for s in seen] == list(range(1, len(names) + 2))
    assert {s[2] for s in seen[:-1]} == {len(names)}


def test_the_compile_ticker_shows_the_pass_it_was_told_of() -> None:
    tty = Terminal()
    with Progress("compile m.nir for loihi2", stream=tty, delay_s=0.05, interval_s=0.05) as bar:
        bar.set_label("compile m.nir for loihi2: pass 3/9 quantise-loihi")
        shown_within(tty, "pass 3/9 quantise-loihi: 0 s")
    assert "compile m.nir for loihi2: pass 3/9 quantise-loihi: 0 s" in tty.getvalue()
