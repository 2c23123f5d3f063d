"""The package structure: layers that only import downwards, so there is no package cycle.

    app (entry points)  >  evals  >  agents  >  compose (the composition root)  >  tools
        >  policies, memory, tools.sandbox  >  adpilot (config, errors, money, leases, …)

A unit is a top-level package with its subpackages (agents.nodes belongs to agents), except the
sandbox, which is a unit of its own: the governed tools must never know it exists — only the
composition root wires a client to it. Every import counts, also those inside functions and
under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "adpilot": 0,
    "adpilot.policies": 1,
    "adpilot.memory": 1,
    "adpilot.tools.sandbox": 1,
    "adpilot.tools": 2,
    "adpilot.compose": 3,
    "adpilot.agents": 4,
    "adpilot.evals": 5,
    "adpilot.app": 6,
}


def unit(module: str) -> str:
    """The layer unit a module belongs to: the longest LAYERS key that is a prefix of it."""
    matches = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    return max(matches, key=len)


def source_modules() -> dict[str, Path]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        package_dirs: dict[str, str] = tomllib.load(file)["tool"]["setuptools"]["package-dir"]
    modules = {}
    for package, directory in package_dirs.items():
        for path in (ROOT / directory).rglob("*.py"):
            relative = path.relative_to(ROOT / directory).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            name = ".".join([package, *parts])
            modules.setdefault(name, path)  # a subpackage's own package-dir entry names it the same
    return modules


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "adpilot" or name.startswith("adpilot.")}


def edges() -> list[tuple[str, str, str]]:
    found = []
    for module, path in source_modules().items():
        for imported in imports(path):
            found.append((unit(module), unit(imported), f"{path.relative_to(ROOT)} imports {imported}"))
    return found


def test_every_import_goes_down_the_layers_or_stays_in_its_unit():
    upward = [where for source, target, where in edges() if source != target and LAYERS[target] >= LAYERS[source]]
    assert upward == []


def test_the_tools_never_import_the_sandbox_and_evals_never_import_the_app():
    forbidden = {("adpilot.tools", "adpilot.tools.sandbox"), ("adpilot.evals", "adpilot.app")}
    assert [where for source, target, where in edges() if (source, target) in forbidden] == []


def test_the_check_sees_the_imports_it_judges():
    # A check that parsed nothing would pass vacuously.
    pairs = {(source, target) for source, target, _ in edges()}
    assert ("adpilot.compose", "adpilot.tools.sandbox") in pairs
    assert ("adpilot.agents", "adpilot.compose") in pairs
    assert ("adpilot.app", "adpilot.agents") in pairs
