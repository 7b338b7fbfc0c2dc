"""The .nir read bound is an option (issue 16): ``--max-file-bytes`` / ``load_nir(max_file_bytes=...)``.

The default (a quarter of MemAvailable, 256 MiB-8 GiB) is patched down to 1 MiB here so that
a real 3 MiB model is "over the default": refused without the option in one line naming the
file and the limit, loaded (and run, compiled) with it. An explicit limit also raises the
per-array cap, which a dense layer of more than 2^24 weights needs.
"""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import spikec
import spikec.ir.nir_io as nir_io
import spikec.ir.nodes as nodes
from spikec.cli.main import cli
from spikec.ir.errors import GraphError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Affine, Input, Output

N_IN, N_OUT = 700, 500  # 350,000 float64 weights: 2.8 MB


@pytest.fixture()
def big_model(tmp_path, monkeypatch):
    monkeypatch.setattr(nir_io, "default_max_file_bytes", lambda: 1 << 20)
    monkeypatch.setattr(nodes, "_array_limit", [nodes.MAX_ARRAY_ELEMENTS])  # the raise is process-wide: undo it
    rng = np.random.default_rng(0)
    n = N_OUT
    graph = Graph(
        {"in": Input(shape=(N_IN,)), "fc": Affine(weight=rng.normal(0, 0.2, (N_OUT, N_IN)), bias=np.zeros(N_OUT)),
         "lif": LIF(tau=np.full(n, 2e-3), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.ones(n),
                    v_reset=np.zeros(n)),
         "out": Output(shape=(n,))},
        [("in", "fc"), ("fc", "lif"), ("lif", "out")], {"dt_s": 1e-4},
    )
    path = tmp_path / "big.nir"
    spikec.save_nir(graph, path)
    return path


def test_over_the_default_is_refused_and_loads_with_the_option(big_model) -> None:
    with pytest.raises(GraphError) as err:
        spikec.load_nir(big_model)
    message = str(err.value)
    assert "\n" not in message
    assert str(big_model) in message and f"more than {1 << 20} bytes" in message and "max_file_bytes" in message
    graph = spikec.load_nir(big_model, max_file_bytes=8 << 20)
    assert graph.nodes["fc"].weight.shape == (N_OUT, N_IN)


def test_cli_commands_take_max_file_bytes(big_model, tmp_path) -> None:
    runner = CliRunner()
    refused = runner.invoke(cli, ["inspect", str(big_model)])
    assert refused.exit_code != 0
    (line,) = [l for l in refused.output.splitlines() if l.strip()]
    assert str(big_model) in line and str(1 << 20) in line
    assert runner.invoke(cli, ["inspect", str(big_model), "--max-file-bytes", "8M"]).exit_code == 0
    x = tmp_path / "x.npy"
    np.save(x, (np.random.default_rng(1).random((20, N_IN)) < 0.1).astype(np.float64))
    out = tmp_path / "y.npz"
    assert runner.invoke(cli, ["run", str(big_model), "--input", str(x), "--output", str(out)]).exit_code != 0
    ran = runner.invoke(cli, ["run", str(big_model), "--input", str(x), "--output", str(out), "--max-file-bytes", "8M"])
    assert ran.exit_code == 0, ran.output
    assert np.load(out)["out"].shape == (20, N_OUT)
    prog = tmp_path / "p.zip"
    assert runner.invoke(cli, ["compile", str(big_model), "-t", "rram-512", "-o", str(prog)]).exit_code != 0
    compiled = runner.invoke(cli, ["compile", str(big_model), "-t", "rram-512", "-o", str(prog), "--max-file-bytes", "8M"])
    assert compiled.exit_code == 0, compiled.output
    assert runner.invoke(cli, ["verify", str(big_model), "-t", "rram-512", "--steps", "5", "--trials", "1"]).exit_code != 0


def test_an_explicit_limit_raises_the_per_array_cap(tmp_path, monkeypatch) -> None:
    graph = Graph({"in": Input(shape=(40,)), "fc": Affine(weight=np.eye(30, 40), bias=np.zeros(30)),
                   "out": Output(shape=(30,))}, [("in", "fc"), ("fc", "out")])
    path = tmp_path / "m.nir"
    spikec.save_nir(graph, path)
    monkeypatch.setattr(nodes, "_array_limit", [1000])  # 1,200 weights: over a cap of 1,000 values
    monkeypatch.setattr(nir_io, "MAX_ARRAY_ELEMENTS", 1000)
    with pytest.raises(GraphError, match="limit is 1000 elements"):
        spikec.load_nir(path)
    assert spikec.load_nir(path, max_file_bytes=1 << 20).nodes["fc"].weight.shape == (30, 40)
    assert nodes.array_element_limit() == (1 << 20) // 8


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_max_file_bytes_must_be_a_positive_int(big_model, bad) -> None:
    with pytest.raises(GraphError, match="max_file_bytes must be a positive number of bytes"):
        spikec.load_nir(big_model, max_file_bytes=bad)


def test_default_is_a_quarter_of_available_memory_clamped() -> None:
    limit = nir_io.default_max_file_bytes()
    assert nir_io.MIN_DEFAULT_FILE_BYTES <= limit <= nir_io.MAX_DEFAULT_FILE_BYTES
