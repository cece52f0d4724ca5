"""Architecture metrics of ``src/texsynth``, read from the imports (for docs/architecture.md).

Counts the modules, the import arrows between them (every ``import``/``from ... import`` of a
texsynth module, at the top or inside a function), the import cycles (strongly connected
components of more than one module), the imports of private names (``from .x import _y``)
across modules, and the largest modules by lines. Run::

    .venv/bin/python benchmarks/arch_metrics.py [--dot graph.dot]

Standard library only (``ast``); it imports nothing from texsynth.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "texsynth"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute module of a relative import ``from (level dots)(target) import ...``."""
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def scan() -> tuple[dict[str, set[str]], list[tuple[str, str, str]], dict[str, int]]:
    """Import arrows, private-name imports ``(importer, module, name)`` and line counts."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    arrows: dict[str, set[str]] = defaultdict(set)
    private: list[tuple[str, str, str]] = []
    lines: dict[str, int] = {}
    for name, path in modules.items():
        text = path.read_text()
        lines[name] = len(text.splitlines())
        tree = ast.parse(text)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    mod = resolve(name, is_package, node.level, node.module)
                elif node.module and node.module.startswith("texsynth"):
                    mod = node.module
                else:
                    continue
                for alias in node.names:
                    sub = f"{mod}.{alias.name}"
                    target = sub if sub in modules else mod
                    if target in modules and target != name:
                        arrows[name].add(target)
                    dunder = alias.name.startswith("__") and alias.name.endswith("__")
                    if alias.name.startswith("_") and not dunder and sub not in modules:
                        private.append((name, target, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.name != name:
                        arrows[name].add(alias.name)
    return arrows, private, lines


def cycles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in arrows.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(arrows):
        if v not in index:
            visit(v)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dot", type=Path, help="write the import graph as Graphviz dot")
    args = p.parse_args()
    arrows, private, lines = scan()
    # package __init__ re-exports are not dependencies of the package's own modules
    n_arrows = sum(len(v) for v in arrows.values())
    found = cycles(arrows)
    print(f"modules: {len(lines)}  import arrows: {n_arrows}  cycles: {len(found)}")
    for c in found:
        print("  cycle:", " <-> ".join(c))
    print(f"private names imported across modules: {len(private)}")
    for importer, mod, name in sorted(private):
        print(f"  {importer} <- {mod}.{name}")
    big = sorted(lines.items(), key=lambda kv: -kv[1])
    print("largest modules (lines):", ", ".join(f"{m} {n}" for m, n in big[:8]))
    print(f"modules over 500 lines: {sum(n > 500 for n in lines.values())}")
    if args.dot:
        edges = "".join(f'  "{a}" -> "{b}";\n' for a, bs in sorted(arrows.items()) for b in bs)
        args.dot.write_text(f"digraph texsynth {{\n{edges}}}\n")


if __name__ == "__main__":
    main()
