"""A progress bar on stderr for ``spikec run`` and ``spikec compile``: only on a terminal, only after 2 s.

CI logs stay quiet: nothing is written unless stderr is a terminal, and quick
commands print nothing at all. With tqdm installed (a dependency in
pyproject.toml) the bar is tqdm's; without it, one line rewritten in place.
``Progress(total=None)`` (a compile) shows the elapsed time from a ticker thread
instead of a fraction, after a label naming the current pass (``set_label``).
"""
from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

#: seconds of work before anything is shown
DELAY_S = 2.0


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """``with Progress("run", total=T) as p: ... p.update(done)``; a no-op when ``stream`` is not a terminal."""

    def __init__(self, label: str, total: int | None = None, *, stream: IO[str] | None = None,
                 delay_s: float | None = None, interval_s: float = 0.2) -> None:
        self.label, self.total, self.interval_s = label, total, interval_s
        self.delay_s = DELAY_S if delay_s is None else delay_s
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.monotonic()
        self._last = 0.0
        self._shown = False
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        self._start = time.monotonic()
        if not self.enabled:
            return self
        tqdm = _tqdm()
        if tqdm is not None and self.total is not None:
            self._bar = tqdm(total=self.total, desc=self.label, file=self.stream, delay=self.delay_s,
                             mininterval=self.interval_s, leave=False, unit="step")
        elif self.total is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def set_label(self, label: str) -> None:
        """Name what is running now (a compile's current pass); the next redraw shows it."""
        self.label = label
        if self._bar is not None:
            self._bar.set_description(label, refresh=False)

    def update(self, done: int) -> None:
        """``done`` of ``total`` finished (cheap when nothing is shown)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            return
        now = time.monotonic()
        if now - self._start < self.delay_s or now - self._last < self.interval_s:
            return
        self._last = now
        self._draw(done, now)

    def _draw(self, done: int | None, now: float) -> None:
        elapsed = now - self._start
        if self.total:
            width = 30
            filled = int(width * min(done or 0, self.total) / self.total)
            text = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {elapsed:.0f} s"
        else:
            text = f"{self.label}: {elapsed:.0f} s"
        self.stream.write(f"\r\033[K{text}")
        self.stream.flush()
        self._shown = True

    def _tick(self) -> None:
        if self._stop.wait(self.delay_s):
            return
        while not self._stop.is_set():
            self._draw(None, time.monotonic())
            self._stop.wait(max(self.interval_s, 0.5))

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.close()
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
