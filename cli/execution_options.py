"""``--workers`` and ``--scheduler``: where a command's sweep runs (``verification/execution.py``)."""
from __future__ import annotations

import sys
from typing import Any, Callable

import click

from ..verification.execution import SCHEDULER_ENV, Executor, make_executor


def execution_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--workers N`` and ``--scheduler ADDRESS`` to a command."""
    fn = click.option("--scheduler", default=None, metavar="ADDRESS",
                      help=f"Run the work items on this Dask scheduler (tcp://host:8786); default ${SCHEDULER_ENV}.")(fn)
    fn = click.option("--workers", type=int, default=None,
                      help="Local worker processes (default: every core; 1: serially, in this process).")(fn)
    return fn


def executor_from(workers: int | None, scheduler: str | None, quiet: bool) -> Executor:
    """The executor the options ask for; progress goes to stderr when it is a terminal."""
    executor = make_executor(workers, scheduler)
    if not quiet and sys.stderr.isatty():
        executor.progress = _progress_line(executor.describe())
    return executor


def _progress_line(where: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        click.echo(f"\r  {done}/{total} work items on {where}", err=True, nl=done == total)

    return show
