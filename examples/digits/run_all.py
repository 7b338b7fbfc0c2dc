"""The whole digits example in one command: train both models (if not trained yet), evaluate, report.

    python examples/digits/run_all.py            # uses examples/digits/models/ if present
    python examples/digits/run_all.py --retrain  # train both models again first (about 1-2 minutes each)

Prints the table and writes examples/digits/results/{results.json,report.html,programs/}.
"""
from __future__ import annotations

import argparse
import sys

try:
    from . import evaluate, train
except ImportError:  # pragma: no cover - run as a script
    import evaluate, train  # type: ignore[no-redef]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--retrain", action="store_true", help="train both models even if saved ones exist")
    args, rest = parser.parse_known_args(argv)
    for framework in ("snntorch", "norse"):
        if args.retrain or not (train.HERE / "models" / f"{framework}.nir").exists():
            train.main(["--framework", framework])
    evaluate.main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
