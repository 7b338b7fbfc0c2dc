"""The model corpus (tests/models/): public models, one test per model and stage.

For every entry (``tests/models/*_models.py``, each citing its repository and
path): the frontend accepts it; ``spikec.simulate`` equals the framework's own
forward output (spikes exactly); and per target, the program compiles and the
target's backend equals its reference (Loihi: the fast path equals the stepwise
definition here, Lava in ``test_lava``), or compile refuses it with a message
naming a hardware limit. What fails today for want of an issue-15 feature is a
strict xfail naming the feature and who builds it. ``scripts/corpus.py`` prints
the whole table.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("snntorch")
pytest.importorskip("norse")

sys.path.insert(0, str(Path(__file__).parent / "models"))

import corpus  # noqa: E402
from corpus_core import (  # noqa: E402
    check_float, check_frontend, check_frontend_refusal, check_lava, check_refusal, check_target, lava_available,
    xfail_reason,
)

ENTRIES = corpus.all_entries()
LAVA_OK, LAVA_WHY = lava_available()


def params(stages):
    """pytest params ``(entry, stage)`` with id ``<entry>-<stage>`` and the marks the entry's expectations give."""
    out = []
    for entry in ENTRIES:
        for stage in stages(entry):
            expect = entry.expectation(stage)
            marks = []
            if expect.startswith("xfail:"):
                marks.append(pytest.mark.xfail(strict=True, reason=xfail_reason(expect)))
            if entry.slow or (stage == "lava" and not entry.lava_fast):
                marks.append(pytest.mark.slow)
            out.append(pytest.param(entry, stage, expect, id=f"{entry.id}-{stage}", marks=marks))
    return out


def test_the_corpus_is_big_and_cited():
    assert len(ENTRIES) >= 45
    assert len({e.id for e in ENTRIES}) == len(ENTRIES)
    for e in ENTRIES:
        assert "/" in e.repo and e.path and e.follows, e.id


@pytest.mark.parametrize("entry,stage,expect", params(lambda e: ["frontend"]))
def test_frontend(entry, stage, expect):
    if expect.startswith("refuse:"):
        check_frontend_refusal(entry, expect[len("refuse:"):])
    else:
        check_frontend(entry)


@pytest.mark.parametrize("entry,stage,expect", params(lambda e: ["float"]))
def test_float_equals_framework(entry, stage, expect):
    if expect.startswith("refuse:"):  # the frontend refuses it: nothing to simulate
        check_frontend_refusal(entry, expect[len("refuse:"):])
    else:
        check_float(entry)


@pytest.mark.parametrize("entry,stage,expect", params(lambda e: list(e.targets)))
def test_target(entry, stage, expect):
    if expect.startswith("refuse:"):
        check_refusal(entry, stage, expect[len("refuse:"):])
    else:
        check_target(entry, stage)


@pytest.mark.skipif(not LAVA_OK, reason=f"no Lava environment: {LAVA_WHY}")
@pytest.mark.parametrize("entry,stage,expect", params(
    lambda e: ["lava"] if not e.expectation("loihi2").startswith("refuse:") else []))
def test_lava(entry, stage, expect):
    check_lava(entry)


def test_a_wrong_graph_fails_the_float_check():
    """The float comparison can fail: the same model with thresholds 10 % lower is caught."""
    import numpy as np
    import spikec
    from corpus_core import framework_output, frontend_graph, inputs, the_output
    from spikec.ir.nodes import LIF

    entry = corpus.by_id("snntorch-tutorial5-mlp")
    graph = frontend_graph(entry)
    lowered = graph.replace_nodes({n: v.replace(v_threshold=v.v_threshold * 0.9) for n, v in graph.items() if isinstance(v, LIF)})
    got = the_output(spikec.simulate(lowered, inputs(entry)), lowered)
    assert np.mean(got != framework_output(entry)) > 0.01
