"""Coverage-guided fuzzing of the .nir and config readers with atheris (by hand, not in CI).

    pip install atheris
    python tests/fuzz/atheris_nir.py -atheris_runs=200000 -rss_limit_mb=2048 tests/fuzz_corpus
    python tests/fuzz/atheris_nir.py --config -atheris_runs=200000 tests/fuzz_corpus

Each input is written to a temporary file and read with ``spikec.load_nir``
(or ``load_target`` with ``--config``); a loaded graph goes through the same
checks as the Hypothesis pass (summary, lint, a short run, a save/load round
trip). Anything but a SpikecError is a crash that libFuzzer reports with the
input saved as ``crash-*``. Seeds: the corpus and the NIR-paper graphs.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["spikec"]):
    import spikec  # noqa: F401
    from spikec.compiler.target import load_target  # noqa: F401
    from spikec.ir import nir_io, check, shapes, nodes  # noqa: F401

from fuzz.harness import check_config_file, check_nir_file  # noqa: E402

CONFIG = "--config" in sys.argv
if CONFIG:
    sys.argv.remove("--config")
TMP = Path(tempfile.mkdtemp(prefix="spikec-atheris-"))
PATH = TMP / ("input.toml" if CONFIG else "input.nir")


def one_input(data: bytes) -> None:
    PATH.write_bytes(data)
    if CONFIG:
        check_config_file(PATH)
    else:
        check_nir_file(PATH, probe=True)  # inputs that segfault libhdf5 are skipped (the CLI reports them)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
