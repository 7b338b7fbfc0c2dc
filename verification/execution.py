"""One execution layer for embarrassingly parallel sweeps: serially, on local processes, or on a Dask cluster.

A sweep is a list of *work items* and one module-level function
``fn(shared, item) -> result``. ``shared`` is what every item needs (a
compiled program as bytes, an input array, a graph spec): it travels once per
worker, not once per item. An item is small and self-contained (a graph seed
and a target; a trial seed and a read time; a program label and a range of
samples). Its *key* is its index in the list.

Every executor has the same two methods:

- ``stream(fn, items, shared)`` yields ``(index, result)`` as results arrive,
  each index exactly once;
- ``run(fn, items, shared)`` returns the results in item order, never arrival
  order: the same items give the same list whether run serially, on local
  processes or on a cluster (``docs/execution.md``).

Retries. A worker that dies (a crash, ``os._exit``, the OOM killer) loses the
items it was running; they are submitted again, up to ``retries`` more times
each, and a result is taken once per key (a late duplicate is dropped). An
exception raised by ``fn`` is retried the same way, then raised as an
``ExecutionError`` naming the item. Locally, a dead worker breaks
``ProcessPoolExecutor`` (every worker is stopped); the pool is rebuilt and
only the unfinished items are submitted again; the items that were running
count one attempt each. On Dask, ``retries=`` covers exceptions, the
scheduler reschedules the tasks of a lost worker, and a task it gives up on
(``KilledWorker``, or cancelled because its input was lost) is submitted again
under a new key; ``shared`` is scattered to every worker and scattered again
if every copy was lost.

Why ``ProcessPoolExecutor`` for the local case rather than Dask's
``LocalCluster``: a pool of forked workers starts in milliseconds, opens
no ports and needs no Dask installed; a ``LocalCluster`` (scheduler, nanny and
worker processes, each importing spikec) takes seconds to start, which would
eat the gain on ``spikec verify MODEL`` over three targets. Dask is used for
what it is for: a scheduler someone already runs (``--scheduler`` or
``SPIKEC_SCHEDULER``).
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import threading
import uuid
from collections import Counter
from typing import Any, Callable, Iterator, Sequence

from ..ir.errors import InputError, SpikecError

#: Environment variable naming a Dask scheduler (``tcp://host:8786``); ``--scheduler`` overrides it.
SCHEDULER_ENV = "SPIKEC_SCHEDULER"
DEFAULT_RETRIES = 3

#: ``progress(done, total)`` after each result.
Progress = Callable[[int, int], None]
WorkFn = Callable[[Any, Any], Any]


class ExecutionError(SpikecError):
    """A work item failed on every attempt, or the workers could not be reached."""


class Executor:
    """Runs ``fn(shared, item)`` for every item; subclasses say where."""

    retries: int = DEFAULT_RETRIES
    #: True when work runs in this process and may take live objects (``SerialExecutor``)
    in_process: bool = False
    #: called as ``progress(done, total)`` when a stream is given none
    progress: Progress | None = None

    def describe(self) -> str:
        raise NotImplementedError

    def stream(self, fn: WorkFn, items: Sequence[Any], shared: Any = None,
               progress: Progress | None = None) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def run(self, fn: WorkFn, items: Sequence[Any], shared: Any = None, progress: Progress | None = None) -> list[Any]:
        """Results in item order (reassembled by key, whatever the order of arrival)."""
        found: dict[int, Any] = {}
        for index, result in self.stream(fn, items, shared, progress):
            found.setdefault(index, result)
        missing = [i for i in range(len(items)) if i not in found]
        if missing:  # a stream never ends early without raising; this guards the contract
            raise ExecutionError(f"work items {missing[:10]} produced no result")
        return [found[i] for i in range(len(items))]


class SerialExecutor(Executor):
    """In this process, one item after another (``--workers 1``); monkeypatches and debuggers apply."""

    #: work functions may take live objects (no pickling)
    in_process = True

    def __init__(self, retries: int = 0) -> None:
        self.retries = retries

    def describe(self) -> str:
        return "serial"

    def stream(self, fn: WorkFn, items: Sequence[Any], shared: Any = None,
               progress: Progress | None = None) -> Iterator[tuple[int, Any]]:
        progress = progress or self.progress
        for index, item in enumerate(items):
            yield index, _attempts(fn, shared, item, index, self.retries)
            if progress:
                progress(index + 1, len(items))


def _attempts(fn: WorkFn, shared: Any, item: Any, index: int, retries: int) -> Any:
    for attempt in range(retries + 1):
        try:
            return fn(shared, item)
        except SpikecError:  # a user-facing error (bad input, ...) says the same on every attempt
            raise
        except Exception as exc:
            if attempt == retries:
                if retries == 0:
                    raise
                raise ExecutionError(f"work item {index} failed {attempt + 1} times: {type(exc).__name__}: {exc}") from exc
    raise AssertionError("unreachable")


# --- local processes ---------------------------------------------------------------

_SHARED: Any = None
_RUNNING: Any = None  # per worker slot: the index of the item it runs, -1 when idle
_SLOT: int = -1


def _init_worker(shared: Any, running: Any, next_slot: Any) -> None:
    global _SHARED, _RUNNING, _SLOT
    _SHARED, _RUNNING = shared, running
    _one_blas_thread()
    with next_slot.get_lock():
        _SLOT = next_slot.value
        next_slot.value += 1


def _one_blas_thread() -> None:
    """One BLAS thread per worker: the workers already fill the cores (as Dask's nanny does with OMP_NUM_THREADS=1)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(1)


def _local_item(fn: WorkFn, index: int, item: Any) -> Any:
    _RUNNING[_SLOT] = index
    try:
        return fn(_SHARED, item)
    finally:
        _RUNNING[_SLOT] = -1


def _mp_context() -> multiprocessing.context.BaseContext:
    """``fork`` from a single-threaded process (instant, and a script without a ``__main__`` guard
    is not re-run in each worker); ``forkserver`` when threads run (forking them is unsafe), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["spikec", "spikec.verification.execution"])
        return ctx
    return multiprocessing.get_context("spawn")


def local_cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalExecutor(Executor):
    """``workers`` processes of this machine (default: every core it may use)."""

    def __init__(self, workers: int | None = None, retries: int = DEFAULT_RETRIES) -> None:
        self.workers = workers or local_cpu_count()
        self.retries = retries

    def describe(self) -> str:
        return f"{self.workers} local processes"

    def stream(self, fn: WorkFn, items: Sequence[Any], shared: Any = None,
               progress: Progress | None = None) -> Iterator[tuple[int, Any]]:
        progress = progress or self.progress
        workers = min(self.workers, len(items))
        if workers <= 1:  # a pool of one would only add a process start
            yield from SerialExecutor(self.retries).stream(fn, items, shared, progress)
            return
        done: set[int] = set()
        attempts: Counter[int] = Counter()
        while len(done) < len(items):
            yield from self._one_pool(fn, items, shared, workers, done, attempts, progress)

    def _one_pool(self, fn: WorkFn, items: Sequence[Any], shared: Any, workers: int, done: set[int],
                  attempts: Counter[int], progress: Progress | None) -> Iterator[tuple[int, Any]]:
        """Run the unfinished items on a fresh pool until they finish or a worker dies."""
        ctx = _mp_context()
        running, next_slot = ctx.Array("q", [-1] * workers, lock=False), ctx.Value("i", 0)
        pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(shared, running, next_slot))
        try:
            pending = {pool.submit(_local_item, fn, i, items[i]): i for i in range(len(items)) if i not in done}
            while pending:
                finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                broken = False
                for future in finished:
                    index = pending.pop(future)
                    exc = future.exception()
                    if exc is None:
                        if index not in done:
                            done.add(index)
                            yield index, future.result()
                            if progress:
                                progress(len(done), len(items))
                    elif isinstance(exc, cf.process.BrokenProcessPool):
                        broken = True
                    else:
                        self._count_failure(index, attempts, exc)
                        pending[pool.submit(_local_item, fn, index, items[index])] = index
                if broken:  # every worker is gone; the items they ran lose one attempt
                    for index in {int(i) for i in running if i >= 0} - done:
                        self._count_failure(index, attempts, RuntimeError("its worker process died"))
                    return
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _count_failure(self, index: int, attempts: Counter[int], exc: BaseException) -> None:
        if isinstance(exc, SpikecError):
            raise exc
        attempts[index] += 1
        if attempts[index] > self.retries:
            raise ExecutionError(f"work item {index} failed {attempts[index]} times: {type(exc).__name__}: {exc}") from exc


# --- Dask --------------------------------------------------------------------------


class DaskExecutor(Executor):
    """Tasks on a Dask distributed scheduler: an address (``tcp://host:8786``) or a ``distributed.Client``."""

    def __init__(self, scheduler: Any, retries: int = DEFAULT_RETRIES, connect_timeout_s: float = 30.0) -> None:
        self.scheduler = scheduler
        self.retries = retries
        self.connect_timeout_s = connect_timeout_s

    def describe(self) -> str:
        address = self.scheduler if isinstance(self.scheduler, str) else getattr(self.scheduler, "scheduler", None)
        address = getattr(address, "address", address)
        return f"Dask scheduler {address}"

    def _client(self) -> tuple[Any, bool]:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ExecutionError("a Dask scheduler was given but dask[distributed] is not installed") from exc
        if not isinstance(self.scheduler, str):
            return self.scheduler, False
        try:
            return Client(self.scheduler, timeout=self.connect_timeout_s, set_as_default=False), True
        except OSError as exc:
            raise ExecutionError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from exc

    def stream(self, fn: WorkFn, items: Sequence[Any], shared: Any = None,
               progress: Progress | None = None) -> Iterator[tuple[int, Any]]:
        progress = progress or self.progress
        from distributed import KilledWorker, as_completed

        client, owned = self._client()
        token = f"spikec-{getattr(fn, '__name__', 'item')}-{uuid.uuid4().hex[:8]}"
        # ``shared`` goes to every worker once (so that no worker is favoured for holding it), and is
        # sent again if every copy was lost with its workers.
        shared_future = client.scatter([shared], broadcast=True, hash=False)[0]
        keys: dict[str, tuple[int, int]] = {}
        live: dict[str, Any] = {}

        def submit(index: int, attempt: int) -> Any:
            nonlocal shared_future
            if shared_future.status != "finished":
                shared_future = client.scatter([shared], broadcast=True, hash=False)[0]
            future = client.submit(fn, shared_future, items[index], key=f"{token}-{index}-{attempt}",
                                   retries=self.retries, pure=False)
            keys[future.key] = (index, attempt)
            live[future.key] = future
            return future

        done: set[int] = set()
        try:
            stream = as_completed([submit(i, 0) for i in range(len(items))], loop=client.loop)
            for future in stream:
                index, attempt = keys.pop(future.key)
                live.pop(future.key, None)
                if future.status == "finished":
                    result = future.result()
                    future.release()
                    if index not in done:
                        done.add(index)
                        yield index, result
                        if progress:
                            progress(len(done), len(items))
                    continue
                exc = future.exception() if future.status == "error" else None
                if isinstance(exc, SpikecError):
                    raise exc
                lost = exc is None or isinstance(exc, KilledWorker)  # cancelled, or its workers died
                if index in done:
                    continue
                if lost and attempt < self.retries:
                    stream.add(submit(index, attempt + 1))
                    continue
                raise ExecutionError(f"work item {index} failed on the cluster after {attempt + 1} submissions: "
                                     f"{type(exc).__name__ if exc else future.status}: {exc}") from exc
        finally:
            if live:
                client.cancel(list(live.values()))
            shared_future.release()
            if owned:
                client.close()


def make_executor(workers: int | None = None, scheduler: str | None = None, retries: int = DEFAULT_RETRIES,
                  progress: Progress | None = None) -> Executor:
    """What ``--workers`` / ``--scheduler`` / ``SPIKEC_SCHEDULER`` ask for.

    Precedence: ``--scheduler``, then ``--workers`` (``1``: serial, in this
    process), then ``$SPIKEC_SCHEDULER``, then every core of this machine.
    """
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}", parameter="workers", value=workers)
    executor: Executor
    if scheduler:
        executor = DaskExecutor(scheduler, retries=retries)
    elif workers == 1:
        executor = SerialExecutor()
    elif workers is None and os.environ.get(SCHEDULER_ENV):
        executor = DaskExecutor(os.environ[SCHEDULER_ENV], retries=retries)
    else:
        executor = LocalExecutor(workers, retries=retries)
    executor.progress = progress
    return executor


# --- payloads ----------------------------------------------------------------------

_PROGRAMS: dict[str, Any] = {}


def cached_program(data: bytes) -> Any:
    """A Program from its bytes, parsed once per worker process (keyed by content hash)."""
    from ..compiler.program import program_from_bytes

    key = hashlib.sha256(data).hexdigest()
    if key not in _PROGRAMS:
        if len(_PROGRAMS) >= 16:
            _PROGRAMS.clear()
        _PROGRAMS[key] = program_from_bytes(data)
    return _PROGRAMS[key]
