"""Which folder imports which: the package's import graph, its cycles and its upward imports.

Parses every module of the package (the repository root is ``spikec``) with
``ast`` and collects each ``import`` / ``from ... import`` of a spikec module,
at module level and inside functions alike (a lazy import is still a
dependency). Prints:

- the folder -> folder graph (``compiler/loihi -> compiler``, with counts);
- every cycle between modules (strongly connected components of more than one
  module, or a module importing itself);
- every upward import: a folder importing a folder of a higher layer, where
  the layers are ir < frontends, compiler < compiler/<family> < backends/* <
  verification < the root package (``spikec.api``, ``spikec/__init__.py``) < cli;
- every import between two backends or between two compiler families.

The shared compiler modules allowed to import a family are the per-family
tables in ``ASSEMBLERS`` (``compiler/api.py``'s pipelines, ``delay_limits``). ``python scripts/import_graph.py``
exits 1 when it finds a cycle or a forbidden import; ``tests/test_import_graph.py``
runs ``check()``.
"""
from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "spikec"
#: folders that are not part of the library (their imports are not checked)
SKIP = {"tests", "bench", "scripts", "examples", "docs", "hw_configs", ".git", "__pycache__", ".venv", "build", "dist"}
FAMILIES = ("loihi", "spinnaker", "rram")
#: shared compiler modules that may import a family subpackage: tables with one entry per family
ASSEMBLERS = {
    "spikec.compiler.api",  # PIPELINES: each family's passes
    "spikec.compiler.quantise_delays",  # delay_limits: each family's delay field (SpiNNaker's is its row word format)
}


def layer(folder: str) -> int:
    """The rank of a folder: imports may only go to an equal or lower rank."""
    top = folder.split("/")[0]
    if folder == ".":
        return 6
    if top == "cli":
        return 7
    if top == "verification":
        return 5
    if top == "backends":
        return 4
    if top == "compiler":
        return 3 if "/" in folder else 2
    if top == "frontends":
        return 1
    return 0  # ir


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every library module."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP & set(rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([PACKAGE, *parts])] = path
    return found


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The spikec modules ``name`` imports anywhere in its body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = _package_of(name, path)
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:  # ``from x import f``: f is not a module, x is
            target = target.rpartition(".")[0]
        if target:
            out.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                mod = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                add(sub if sub in known else mod)
    out.discard(name)
    return out


def folder_of(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).parent.as_posix()
    return rel if rel else "."


@dataclass
class Report:
    edges: dict[str, set[str]]
    folders: Counter
    cycles: list[list[str]] = field(default_factory=list)
    upward: list[str] = field(default_factory=list)
    sideways: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.cycles or self.upward or self.sideways)


def analyse(root: Path = ROOT) -> Report:
    mods = modules(root)
    known = set(mods)
    edges = {m: imports_of(m, p, known) for m, p in mods.items()}
    folder = {m: folder_of(p, root) for m, p in mods.items()}
    graph = nx.DiGraph()
    graph.add_nodes_from(mods)
    graph.add_edges_from((a, b) for a, bs in edges.items() for b in bs)
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)
    folders: Counter = Counter()
    upward, sideways = [], []
    for a, bs in sorted(edges.items()):
        for b in sorted(bs):
            fa, fb = folder[a], folder[b]
            if b == PACKAGE and layer(fa) < layer("."):  # ``from .. import x`` reaches the root package's __init__
                upward.append(f"{a} -> {b} (the root package)")
            if fa == fb:
                continue
            folders[(fa, fb)] += 1
            if layer(fa) < layer(fb) and a not in ASSEMBLERS:
                upward.append(f"{a} ({fa}) -> {b} ({fb})")
            ta, tb = fa.split("/"), fb.split("/")
            if ta[0] == tb[0] == "backends" and len(ta) > 1 and len(tb) > 1 and ta[1] != tb[1]:
                sideways.append(f"backend {a} -> backend {b}")
            if ta[0] == tb[0] == "compiler" and len(ta) > 1 and len(tb) > 1 and ta[1] != tb[1]:
                sideways.append(f"family {a} -> family {b}")
    return Report(edges, folders, cycles, upward, sideways)


def format_report(report: Report) -> str:
    lines = ["folder -> folder imports (module pairs):"]
    for (a, b), n in sorted(report.folders.items(), key=lambda kv: (layer(kv[0][0]), kv[0])):
        lines.append(f"  {a:<22} -> {b:<22} {n:>3}")
    lines.append(f"module cycles: {len(report.cycles)}")
    lines += [f"  {' <-> '.join(c)}" for c in report.cycles]
    lines.append(f"upward imports: {len(report.upward)}")
    lines += [f"  {u}" for u in report.upward]
    lines.append(f"backend->backend / family->family imports: {len(report.sideways)}")
    lines += [f"  {s}" for s in report.sideways]
    return "\n".join(lines)


def check(root: Path = ROOT) -> Report:
    """The report (``report.ok`` says whether the rules hold)."""
    return analyse(root)


if __name__ == "__main__":
    result = analyse()
    print(format_report(result))
    sys.exit(0 if result.ok else 1)
