"""A real unprivileged account for the tools, for the privilege-separation tests.

Created with useradd for the session (the suite runs as root in CI) and removed
after; without root there is no way to start a process as another account.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ACCOUNT = "cu-tools-test"


@pytest.fixture(scope="session")
def tools_account_name() -> Iterator[str]:
    """The name of an unprivileged account with a home of its own."""
    if os.geteuid() != 0:
        pytest.skip("only root can start processes as another account")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    home_parent = Path(tempfile.mkdtemp(prefix="tools-account-"))
    home_parent.chmod(0o755)
    home = home_parent / ACCOUNT
    try:
        pwd.getpwnam(ACCOUNT)
        existed = True
    except KeyError:
        existed = False
        subprocess.run(
            [
                "useradd",
                "--create-home",
                "--home-dir",
                str(home),
                "--shell",
                "/bin/bash",
                "--user-group",
                ACCOUNT,
            ],
            check=True,
        )
    try:
        yield ACCOUNT
    finally:
        # Shells the tests left running would keep the account in use.
        subprocess.run(["pkill", "-KILL", "-u", ACCOUNT], check=False)
        if not existed:
            subprocess.run(["userdel", ACCOUNT], check=False)
        shutil.rmtree(home_parent, ignore_errors=True)


@pytest.fixture
def tools_as_account(
    tools_account_name: str, monkeypatch: pytest.MonkeyPatch
) -> pwd.struct_passwd:
    """The tools of this test run as the unprivileged account."""
    monkeypatch.setenv("COMPUTER_USE_TOOLS_USER", tools_account_name)
    return pwd.getpwnam(tools_account_name)
