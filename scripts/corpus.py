"""Run the whole model corpus (tests/models/, slow entries and Lava included) and print its table.

    python scripts/corpus.py [--no-lava] [--only ID_SUBSTRING] [--markdown]

One row per model: frontend ok, float exact, then per target ``ok`` (compiled,
backend equal to reference), ``refused: <reason>`` (a SpikecError from compile)
or ``FAIL: <what>``; a trailing ``!`` marks a cell that differs from what the
entry states for today (``tests/models``: ok / refuse / xfail). Then the counts:
accepted by the frontend, exact in float, end to end per target. The same checks
as tests/test_corpus.py, without pytest.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "models"))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # framework_runs.py

import corpus  # noqa: E402
from corpus_core import (  # noqa: E402
    TARGETS, xfail_parts, check_float, check_frontend, check_lava, check_target, compiled, frontend_graph, lava_available,
)

TARGET_COLUMNS = TARGETS + ("loihi1", "spinnaker2", "rram-256")
#: (entry id, target) -> the whole refusal message (the table shows it cut short)
FULL: dict[tuple[str, str], str] = {}


def short(exc: BaseException, width: int = 60) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^pass '[^']*' failed \(after: [^)]*\): ", "", text)
    text = re.sub(r"^\d+ hardware limits of target '[^']*' are broken: ", "", text)
    text = re.sub(r"^node '[^']*': ", "", text)
    return text if len(text) <= width else text[: width - 3] + "..."


def outcome(fn, *args) -> tuple[str, str]:
    """``(kind, text)``: kind "ok", "refused" (SpikecError from compile) or "FAIL"."""
    from spikec.ir.errors import SpikecError

    try:
        fn(*args)
        return "ok", "ok"
    except SpikecError as exc:
        return "error", short(exc)
    except AssertionError as exc:
        return "FAIL", short(exc)
    except Exception as exc:  # noqa: BLE001 - a table of what happened, whatever happened
        return "FAIL", f"{type(exc).__name__}: {short(exc)}"


def target_outcome(entry, target) -> tuple[str, str]:
    from spikec.ir.errors import SpikecError

    try:
        compiled(entry, target)
    except SpikecError as exc:
        FULL[(entry.id, target)] = str(exc)
        return "refused", f"refused: {short(exc, 50)}"
    except Exception as exc:  # noqa: BLE001
        return "FAIL", f"FAIL: {type(exc).__name__}: {short(exc, 40)}"
    kind, text = outcome(check_target, entry, target)
    return kind, "ok" if kind == "ok" else f"FAIL: {text}"


def matches(expect: str, kind: str, text: str) -> bool:
    """Does the outcome agree with what the entry states for today (xfail: anything but ok)?"""
    if expect.startswith("xfail:"):
        return kind != "ok"
    if expect.startswith("refuse:"):  # "error": a SpikecError from the frontend (stages after it show "-")
        return kind in ("refused", "error") and re.search(expect[len("refuse:"):], text) is not None
    return kind == "ok"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-lava", action="store_true", help="skip the Lava runs (slow: 5-20 s each)")
    ap.add_argument("--only", default="", help="run entries whose id contains this")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    lava_ok, why = lava_available()
    use_lava = lava_ok and not args.no_lava
    entries = [e for e in corpus.all_entries() if args.only in e.id]
    columns = ["model", "frontend", "float"] + list(TARGET_COLUMNS) + (["lava"] if use_lava else [])
    rows, surprises = [], []
    counts = {c: 0 for c in columns[1:]}
    refused = {c: 0 for c in columns[1:]}
    offered = {c: 0 for c in columns[1:]}
    start = time.perf_counter()
    for entry in entries:
        row = [entry.id]
        cells: dict[str, tuple[str, str]] = {}
        cells["frontend"] = outcome(check_frontend, entry)
        if cells["frontend"][0] == "error":
            try:
                frontend_graph(entry)
            except Exception as exc:  # noqa: BLE001 - the whole message, for matching
                FULL[(entry.id, "frontend")] = str(exc)
        front_ok = cells["frontend"][0] == "ok"
        cells["float"] = outcome(check_float, entry) if front_ok else ("FAIL", "-")
        for target in TARGET_COLUMNS:
            if target not in entry.targets:
                continue
            cells[target] = target_outcome(entry, target) if front_ok else ("FAIL", "-")
        if use_lava:
            if cells.get("loihi2", ("", ""))[0] == "ok":
                kind, text = outcome(check_lava, entry)
                cells["lava"] = (kind, "ok" if kind == "ok" else f"FAIL: {text}")
            else:
                cells["lava"] = ("skip", "-")
        for col in columns[1:]:
            if col not in cells:
                row.append("")
                continue
            kind, text = cells[col]
            if kind != "skip":
                offered[col] += 1
            counts[col] += kind == "ok"
            refused[col] += kind == "refused"
            if col in ("frontend", "float") and kind != "ok" and text != "-":
                text = f"no: {text}"
            stage = col
            full = FULL.get((entry.id, col), text)
            flag = "" if kind == "skip" or text == "-" or matches(entry.expectation(stage), kind, full) else " !"
            if flag:
                surprises.append(f"{entry.id} {col}: expected {entry.expectation(stage)}, got {text}")
            row.append(text + flag)
        rows.append(row)
        print(f"  [{time.perf_counter() - start:6.1f} s] {entry.id}", file=sys.stderr)
    print_table(columns, rows, args.markdown)
    n = len(entries)
    print(f"\n{n} models. accepted by the frontend: {counts['frontend']}/{n}; exact in float: {counts['float']}/{n}")
    for col in columns[3:]:
        print(f"  end to end on {col}: {counts[col]}/{offered[col]} (refused with a named limit: {refused[col]}; "
              f"other: {offered[col] - counts[col] - refused[col]}, mostly frontend xfails)")
    if not use_lava:
        print(f"  lava: not run ({'--no-lava' if lava_ok else why})")
    print_reasons(entries)
    if surprises:
        print("\ndiffers from what the entries state for today:")
        for s in surprises:
            print("  " + s)
    return 1 if surprises else 0


def print_reasons(entries) -> None:
    """What the entries state as today's xfails, grouped by the feature (and engineer) they wait for."""
    groups: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        stages = ["frontend", "float", *e.targets, "lava"]
        front = e.expectation("frontend")
        for stage in stages:
            expect = e.expectation(stage)
            if not expect.startswith("xfail:") or (stage != "frontend" and expect == front):
                continue  # stages that only inherit the frontend's xfail are counted once, under it
            feature, who = xfail_parts(expect)
            groups.setdefault((who, feature), []).append(f"{e.id} [{stage}]")
    print("\nxfail today, by the feature they wait for:")
    for (who, feature), items in sorted(groups.items()):
        print(f"  {who}: {feature} ({len(items)})")
        for item in items:
            print(f"      {item}")


def print_table(columns: list[str], rows: list[list[str]], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for r in rows:
            print("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
        return
    widths = [max(len(str(r[i])) for r in rows + [columns]) for i in range(len(columns))]
    widths = [min(w, 64) for w in widths]
    for r in [columns] + rows:
        print("  ".join(str(c)[:w].ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    sys.exit(main())
