"""The execution layer: the same tables serially, on local processes and on a real Dask cluster;
lost workers' items retried and counted once; results in item order, never arrival order."""
from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from click.testing import CliRunner

import spikec
from spikec.backends.rram import mapping_of
from spikec.backends.rram.monte_carlo import drift_table, monte_carlo_report
from spikec.cli.main import cli
from spikec.verification.evaluation import EvaluationRun, evaluate_test_set, run_in_float_time
from spikec.verification.execution import (SCHEDULER_ENV, DaskExecutor, Executor, ExecutionError, LocalExecutor,
                                       SerialExecutor, make_executor)
from spikec.verification.randgraph_spec import GraphSpec
from spikec.verification.sweep import sweep
from spikec.ir.errors import InputError

distributed = pytest.importorskip("distributed")

# Dask workers import task functions by name; this module is not on their path, so ship it by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"
TARGETS = ["spinnaker1", "rram-512"]  # fast targets; Lava stays out of these tests


@pytest.fixture(scope="module")
def dask_client():
    """A real Dask cluster: a scheduler and 2 single-threaded worker processes (with nannies) on loopback."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40,
                                       scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # health endpoint: any free port
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def rram_program():
    return spikec.compile(spikec.load_nir(EXAMPLE), "rram-512", fidelity_steps=0)


def sweep_table(report) -> tuple:
    """Everything a sweep reports except its timings."""
    tallies = tuple((t, s.graphs, s.agreed, s.mismatched, s.crashed, sorted(s.unsupported.items()))
                    for t, s in report.tallies.items())
    return tallies, report.failures, report.first_seed, report.count


def small_sweep(executor: Executor | None):
    return sweep(8, TARGETS, spec=GraphSpec.small(), first_seed=40, shrink_failures=False, executor=executor)


@pytest.fixture(scope="module")
def serial_sweep() -> tuple:
    return sweep_table(small_sweep(SerialExecutor()))


def test_verify_sweep_is_identical_serially_on_local_processes_and_on_a_dask_cluster(dask_client, serial_sweep):
    serial = serial_sweep
    assert sum(t[1] for t in serial[0]) == 16 and serial[0][0][2] == 8  # every graph counted, spinnaker agrees
    assert sweep_table(small_sweep(LocalExecutor(2))) == serial
    assert sweep_table(small_sweep(DaskExecutor(dask_client))) == serial


def test_monte_carlo_is_identical_serially_on_local_processes_and_on_a_dask_cluster(dask_client, rram_program):
    x = (np.random.default_rng(7).random((40, 6, 12)) < 0.3).astype(np.float32)
    labels = np.arange(6) % 7
    times = {"1 s": 1.0, "1 year": 365.0 * 86400.0}
    mapping = mapping_of(rram_program)

    def table(executor):
        rows = drift_table(mapping, x, read_times_s=times, dt_s=rram_program.dt_s, trials=3, seed=11,
                           labels=labels, executor=executor)
        return {k: (r.t_s, r.agreement, r.accuracy, r.ideal_accuracy) for k, r in rows.items()}

    serial = table(SerialExecutor())
    assert len(set(serial["1 s"][1])) > 1  # three different chips, not one chip three times
    assert table(LocalExecutor(2)) == serial
    assert table(DaskExecutor(dask_client)) == serial
    text = monte_carlo_report(rram_program, x, trials=3, seed=11, read_time="1h", executor=DaskExecutor(dask_client))
    assert text == monte_carlo_report(rram_program, x, trials=3, seed=11, read_time="1h")


def zero_waits_for_one(marker_dir, item):
    """Item 0 finishes only after item 1 has (on another worker): arrival order is not item order."""
    if item == 0:
        deadline = time.monotonic() + 60
        while not Path(marker_dir, "1-done").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
    if item == 1:
        Path(marker_dir, "1-done").touch()
    return item * 10


@pytest.mark.parametrize("kind", ["local", "dask"])
def test_results_are_returned_in_item_order_not_arrival_order(kind, dask_client, tmp_path):
    executor = LocalExecutor(2) if kind == "local" else DaskExecutor(dask_client)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    arrival = [index for index, _ in executor.stream(zero_waits_for_one, list(range(6)), str(tmp_path / "a"))]
    assert sorted(arrival) == list(range(6)) and arrival.index(0) > arrival.index(1)  # 1 overtook 0
    assert executor.run(zero_waits_for_one, list(range(6)), str(tmp_path / "b")) == [0, 10, 20, 30, 40, 50]


def die_once(fn, marker_dir: str, victim, shared, item):
    """Run ``fn``; but the first attempt of ``victim`` kills the worker process running it (no cleanup, no reply)."""
    Path(marker_dir, f"ran-{item[0]}-{item[1]}-{os.getpid()}-{time.monotonic_ns()}").touch()
    if item == victim and not Path(marker_dir, "killed").exists():
        Path(marker_dir, "killed").touch()
        os._exit(17)
    return fn(shared, item)


class KillsOneWorker(Executor):
    """Another executor, whose work function kills its worker on the first attempt of one item."""

    def __init__(self, inner: Executor, marker_dir: Path, victim: tuple) -> None:
        self.inner, self.marker_dir, self.victim = inner, marker_dir, victim

    def stream(self, fn, items, shared=None, progress=None):
        return self.inner.stream(functools.partial(die_once, fn, str(self.marker_dir), self.victim), items, shared, progress)


@pytest.mark.parametrize("kind", ["local", "dask"])
def test_a_worker_killed_mid_sweep_loses_nothing_and_counts_every_item_once(kind, dask_client, serial_sweep, tmp_path):
    victim = (43, "spinnaker1")  # the 7th of 16 items
    inner = LocalExecutor(2) if kind == "local" else DaskExecutor(dask_client)
    report = small_sweep(KillsOneWorker(inner, tmp_path, victim))
    assert (tmp_path / "killed").exists()
    runs = [p.name.split("-")[1:3] for p in tmp_path.glob("ran-*")]
    assert runs.count(["43", "spinnaker1"]) == 2  # it ran twice: killed, then retried
    assert sweep_table(report) == serial_sweep  # ... and was counted once
    for tally in report.tallies.values():
        assert tally.graphs == 8


def always_fails(shared, item):
    if item == 0:
        raise ValueError(f"item {item} is broken")
    return item


def always_dies(shared, item):
    if item == 2:
        os._exit(9)
    return item


def test_an_item_that_fails_every_attempt_is_named_after_its_retries():
    with pytest.raises(ExecutionError, match=r"work item 0 failed 2 times: ValueError"):
        LocalExecutor(2, retries=1).run(always_fails, [0, 1])
    with pytest.raises(ExecutionError, match=r"work item 2 failed 2 times.*worker process died"):
        LocalExecutor(2, retries=1).run(always_dies, list(range(4)))
    with pytest.raises(ValueError):  # serially, the error itself, unwrapped
        SerialExecutor().run(always_fails, [0])


def test_executor_precedence_scheduler_then_workers_then_environment(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert isinstance(make_executor(), LocalExecutor) and isinstance(make_executor(1), SerialExecutor)
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://192.0.2.1:8786")
    assert isinstance(make_executor(), DaskExecutor) and "192.0.2.1" in make_executor().describe()
    assert isinstance(make_executor(1), SerialExecutor) and isinstance(make_executor(3), LocalExecutor)
    assert make_executor(2, scheduler="tcp://h:1").scheduler == "tcp://h:1"
    with pytest.raises(InputError):
        make_executor(0)


def test_cli_sweep_and_trials_print_the_same_tables_on_a_cluster_given_by_the_environment(dask_client, rram_program,
                                                                                          tmp_path, monkeypatch):
    runner = CliRunner()
    sweep_args = ["verify", "--random", "5", "--targets", ",".join(TARGETS), "--seed", "60"]
    serial = runner.invoke(cli, [*sweep_args, "--workers", "1"])
    assert serial.exit_code == 0, serial.output
    monkeypatch.setenv(SCHEDULER_ENV, dask_client.scheduler.address)
    clustered = runner.invoke(cli, sweep_args)
    assert clustered.exit_code == 0, clustered.output

    def without_timings(text: str) -> list[str]:
        return [line.rsplit(None, 1)[0] if line.split()[0] in TARGETS else line for line in text.splitlines()]

    assert without_timings(clustered.output) == without_timings(serial.output)
    rram_program.save(tmp_path / "p.rram")
    np.save(tmp_path / "x.npy", (np.random.default_rng(1).random((30, 4, 12)) < 0.3).astype(np.float32))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 3]))
    trial_args = ["run", str(tmp_path / "p.rram"), "--input", str(tmp_path / "x.npy"), "--backend", "rram",
                  "--trials", "2", "--seed", "4", "--labels", str(tmp_path / "y.npy")]
    on_cluster = runner.invoke(cli, trial_args)
    monkeypatch.delenv(SCHEDULER_ENV)
    local = runner.invoke(cli, [*trial_args, "--workers", "2"])
    assert on_cluster.exit_code == 0 and local.exit_code == 0, on_cluster.output + local.output
    assert on_cluster.output == local.output
    assert "1 year" in local.output and "accuracy" in local.output


def test_test_set_evaluation_equals_one_whole_run_whatever_the_executor(dask_client, rram_program):
    programs = {"rram": rram_program, "spinnaker": spikec.compile(spikec.load_nir(EXAMPLE), "spinnaker1", fidelity_steps=0)}
    x = (np.random.default_rng(2).random((30, 7, 12)) < 0.3).astype(np.float32)
    runs = [EvaluationRun("spinnaker", "spinnaker"), EvaluationRun("rram", "reference"),
            EvaluationRun("rram", "rram", (("seed", 3), ("t_s", 3600.0))), EvaluationRun("rram", "rram", (("ideal", True),), samples=5)]
    for executor in (SerialExecutor(), LocalExecutor(2), DaskExecutor(dask_client)):
        found = evaluate_test_set(programs, x, runs, samples_per_item=3, executor=executor)
        assert list(found) == runs
        for run in runs:
            whole = run_in_float_time(programs[run.program], x[:, :run.samples], run.backend, **dict(run.options))
            assert whole.keys() == found[run].outputs.keys()
            for name in whole:
                np.testing.assert_array_equal(found[run].outputs[name], whole[name])
