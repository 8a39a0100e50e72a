"""What `pip install .` ships: every package of the source tree, under the names the code imports.

An editable install finds any package on disk, so a package missing from pyproject.toml's explicit list only
breaks a real install (`auditor` then fails at import). This test reads the list the way setuptools does.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_tree_is_installed() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    remap = {folder: name for name, folder in setuptools["package-dir"].items()}
    on_disk = set()
    for init in [*ROOT.glob("auditor/**/__init__.py"), *(ROOT / top / "__init__.py" for top in remap)]:
        if not init.exists():
            continue
        parts = init.parent.relative_to(ROOT).parts
        on_disk.add(".".join((remap.get(parts[0], parts[0]), *parts[1:])))
    assert on_disk - set(setuptools["packages"]) == set(), "add these to [tool.setuptools] packages"
