"""The code map of the README holds: no import circle between the files of slt/ (imports inside
functions count), and each group of files imports only from the groups below it."""

from __future__ import annotations

import ast
from pathlib import Path

SLT = Path(__file__).resolve().parents[1] / "slt"

# The README's code map, bottom up: a group may import its own files and any group on a lower level.
LEVELS = [
    {"base": ("slt.files", "slt.choices", "slt.metrics")},
    {"keypoints": ("slt.keypoints",)},
    {"data": ("slt.data",), "preprocess": ("slt.preprocess",)},
    {"model": ("slt.model",), "synth": ("slt.synth",)},
    {"train/run": ("slt.config", "slt.train", "slt.run")},
    {"stages": ("slt.stage1", "slt.stage2")},
    {"translate": ("slt.translate", "slt.hub", "slt.serve", "slt.live")},
    {"package": ("slt",)},  # slt/__init__.py: `from slt import Translator`, imported on first use
    {"cli": ("slt.cli",)},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SLT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(modules: set[str]) -> dict[str, set[str]]:
    """Every module of slt/ and the slt modules it imports anywhere in its code."""
    graph = {}
    for path in sorted(SLT.rglob("*.py")):
        name, found = module_name(path), set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package up
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
                for alias in node.names:  # `from slt import run` imports the module slt.run
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def group_of(module: str) -> tuple[int, str]:
    for level, groups in enumerate(LEVELS):
        for group, prefixes in groups.items():
            if any(module == p or module.startswith(p + ".") and p != "slt" for p in prefixes):
                return level, group
    raise AssertionError(f"{module} is in no group of the code map; add it to the README and to LEVELS")


def test_no_import_circle():
    modules = {module_name(p) for p in SLT.rglob("*.py")}
    graph = imports(modules)
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target) :] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_groups_import_only_downwards():
    modules = {module_name(p) for p in SLT.rglob("*.py")}
    wrong = []
    for module, targets in imports(modules).items():
        level, group = group_of(module)
        for target in targets:
            target_level, target_group = group_of(target)
            if target_level > level or target_level == level and target_group != group:
                wrong.append(f"{module} ({group}) imports {target} ({target_group})")
    assert not wrong, "\n".join(sorted(wrong))
