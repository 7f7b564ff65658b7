"""The Dockerfiles pass hadolint; every script passes shellcheck and is executable."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(
    [
        *ROOT.glob("image/*.sh"),
        ROOT / "run.sh",
        ROOT / "test.sh",
        ROOT / ".ci" / "run",
        *ROOT.glob("scripts/*.sh"),
    ]
)
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"


def tool(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "image/redis.Dockerfile"])
def test_dockerfile_is_hadolint_clean(dockerfile: str) -> None:
    result = subprocess.run(
        [tool("hadolint"), str(ROOT / dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "script", SCRIPTS, ids=lambda path: str(path.relative_to(ROOT))
)
def test_scripts_pass_shellcheck_and_are_executable(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script} is not executable"
    result = subprocess.run(
        [tool("shellcheck"), str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
