"""Type-check the adpilot sources with mypy, although the repository is not laid out like the package.

setuptools installs ``agents/`` as ``adpilot.agents``, ``tools/`` as ``adpilot.tools`` and so on
(``[tool.setuptools.package-dir]`` in pyproject.toml). The editable install resolves that with an
import hook, which mypy never runs, and mypy names a module after its directories, so ``mypy agents``
would check a package called ``agents``. This script therefore:

1. builds ``build/typecheck/`` anew (the ``mypy_path`` of ``[tool.mypy]``): a tree laid out like the
   installed package, one directory per package-dir entry, holding a relative symlink to every entry
   of that package's source directory (subdirectories such as tools/sandbox/ included)::

       build/typecheck/adpilot/config.py        -> ../../../adpilot/config.py
       build/typecheck/adpilot/agents/graph.py  -> ../../../../agents/graph.py
       build/typecheck/adpilot/tools/sandbox    -> ../../../../tools/sandbox
       ...

2. runs ``mypy -p adpilot``: mypy reads the source files themselves through the links (an edit is
   seen at once, no reinstall) and resolves ``adpilot.agents.x`` to ``agents/x.py``;
3. prints every message with the source path (``agents/x.py``), not the path inside the tree.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# mypy message lines: "path:line: error: ..." (a column may follow the line, a note may follow an error).
_MESSAGE = re.compile(r"^(?P<path>[^:\s][^:]*):\d+:(?:\d+:)? (?P<severity>error|note|warning): ")


def _config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def link_tree(package_dirs: dict[str, str], tree: Path) -> dict[str, str]:
    """Build ``tree`` from ``package_dirs`` (package → source dir); return tree prefix → source prefix."""
    shutil.rmtree(tree, ignore_errors=True)
    prefixes: dict[str, str] = {}
    for package, source in sorted(package_dirs.items(), key=lambda item: item[0].count(".")):
        if not package:
            raise SystemExit('typecheck: a package-dir entry for the root ("") is not supported')
        target = tree / package.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        # A subpackage that package-dir maps elsewhere is linked by its own entry, not from here.
        mapped_children = {name.rpartition(".")[2] for name in package_dirs if name.rpartition(".")[0] == package}
        for entry in sorted((ROOT / source).iterdir()):
            if entry.name == "__pycache__" or entry.name in mapped_children:
                continue
            (target / entry.name).symlink_to(os.path.relpath(entry, target))
        prefixes[f"{target.relative_to(ROOT).as_posix()}/"] = f"{Path(source).as_posix()}/"
    return prefixes


def to_source(path: str, prefixes: dict[str, str]) -> str:
    """The source path of a path mypy printed: the longest matching tree prefix wins."""
    if os.path.isabs(path) and Path(path).is_relative_to(ROOT):  # mypy prints paths below cwd relative
        path = Path(path).relative_to(ROOT).as_posix()
    for tree_prefix in sorted(prefixes, key=len, reverse=True):
        if path.startswith(tree_prefix):
            return prefixes[tree_prefix] + path[len(tree_prefix) :]
    return path


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    config = _config()
    package_dirs: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    mypy_path = str(config["tool"]["mypy"]["mypy_path"]).replace("$MYPY_CONFIG_FILE_DIR", str(ROOT))
    prefixes = link_tree(package_dirs, ROOT / mypy_path)
    packages = sorted(name for name in package_dirs if "." not in name)

    command = [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty", "--no-color-output"]
    for package in packages:
        command += ["-p", package]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)

    failing: list[str] = []  # every message, with its source path; anything unexpected as it came
    errors = 0
    for line in done.stdout.splitlines():
        match = _MESSAGE.match(line)
        if match is None:
            failing.append(line)
            continue
        failing.append(to_source(match["path"], prefixes) + line[len(match["path"]) :])
        errors += match["severity"] == "error"

    if failing:
        print("\n".join(failing))
    names = ", ".join(packages)
    if done.returncode not in (0, 1):  # 1: type errors were found; 2: mypy could not run or check
        print(f"typecheck: mypy exited {done.returncode}", file=sys.stderr)
        return 1
    if failing:
        print(f"typecheck: {errors} error(s) in {names}", file=sys.stderr)
        return 1
    print(f"typecheck: no type error in {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
