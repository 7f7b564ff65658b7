"""The dependencies: every third-party import is declared, and the lock files
pin every declared range (with hashes) so a fresh install is reproducible."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SOURCES = [
    *(ROOT / "computer_use_demo").rglob("*.py"),
    *(ROOT / "token_manager").rglob("*.py"),
]


def _declared(extra: str | None = None) -> dict[str, Requirement]:
    lines = PROJECT["dependencies"] + (
        PROJECT["optional-dependencies"][extra] if extra else []
    )
    return {canonicalize_name(req.name): req for req in map(Requirement, lines)}


def _locked(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {
        canonicalize_name(match[1]): match[2]
        for match in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, re.M)
    }


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    ours = {"computer_use_demo", "token_manager", "tests"}
    distributions = metadata.packages_distributions()
    declared = _declared()
    undeclared = []
    for module in sorted(_imported_top_level_modules() - ours):
        if module in sys.stdlib_module_names:
            continue
        names = {canonicalize_name(name) for name in distributions.get(module, [])}
        if not names & declared.keys():
            undeclared.append(f"{module} (from {sorted(names) or '?'})")
    assert undeclared == [], "imported but not in pyproject.toml's dependencies"


def test_the_locks_pin_every_declared_range_with_hashes() -> None:
    for lock, extra in [("requirements.lock", None), ("requirements-dev.lock", "dev")]:
        locked = _locked(lock)
        for name, requirement in _declared(extra).items():
            assert name in locked, f"{name} is not in {lock}"
            assert requirement.specifier.contains(locked[name], prereleases=True), (
                f"{lock} pins {name}=={locked[name]}, outside {requirement.specifier}"
            )
        text = (ROOT / lock).read_text()
        assert text.count("==") <= text.count("--hash=sha256:"), "every pin has a hash"


def test_the_app_and_dev_locks_agree() -> None:
    app, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    assert {name: dev.get(name) for name in app} == app


def test_the_image_and_the_scripts_install_from_the_lock() -> None:
    provision = (ROOT / "image" / "provision.sh").read_text()
    assert provision.count("--require-hashes -r") == 2, "native and image installs"
    assert re.search(r"^PIP_VERSION=\d+\.\d+", provision, re.M), "pip is pinned"
    assert '"pip==$PIP_VERSION"' in provision and "--upgrade pip" not in provision
    assert "requirements.lock" in (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements-dev.lock" in (ROOT / "test.sh").read_text()
