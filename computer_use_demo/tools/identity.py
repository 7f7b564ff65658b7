"""The account the tools run as: one that cannot read the app's secrets.

Computer use reads whatever is on screen, so a steered model will try to read
the API key; what no tool process can read, no tool can leak. With
COMPUTER_USE_TOOLS_USER set and the app running as root, every tool process
(the shell, xdotool, the editor's file access) starts as that account, with
its own home and an environment free of credentials. Never raises on a plain
lookup; a named account that cannot be used is a ToolError with what to fix.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import tools_user_from_env
from .base import ToolError

# Kept from the app's environment for the tools; the rest is the account's own.
_ACCOUNT_VARIABLES = ("HOME", "USER", "LOGNAME", "SHELL", "MAIL")


@dataclass(frozen=True)
class ToolsAccount:
    """An unprivileged account for tool processes, resolved from the passwd database."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str

    def spawn_options(self) -> dict[str, Any]:
        """What `asyncio.create_subprocess_exec` needs to start a process as this
        account: its uid, its gid and no supplementary group of ours, in its home."""
        return {
            "user": self.uid,
            "group": self.gid,
            "extra_groups": [],
            "cwd": self.home if os.path.isdir(self.home) else "/",
        }

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` (already free of credentials) as this account sees it."""
        environment = {
            name: value
            for name, value in base.items()
            if name not in _ACCOUNT_VARIABLES
        }
        environment.update(
            HOME=self.home, USER=self.name, LOGNAME=self.name, SHELL=self.shell
        )
        environment["PATH"] = _searchable_path(
            base.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
        )
        # Folders of ours that it may not read would only confuse its programs.
        for name in ("XAUTHORITY", "TMPDIR", "XDG_RUNTIME_DIR", "ANTHROPIC_CONFIG_DIR"):
            environment.pop(name, None)
        return environment

    def python(self) -> str:
        """An interpreter this account can run (ours may live in a folder it cannot read)."""
        for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
        raise ToolError("no python3 the tools' account can run was found")


def _searchable_path(path: str) -> str:
    """`path` less the folders another account cannot search (root's own tools,
    say, under a 0700 home), so its programs are found where it can run them."""
    return ":".join(folder for folder in path.split(":") if _open_to_others(folder))


def _open_to_others(folder: str) -> bool:
    current = Path(folder)
    if not current.is_absolute():
        return False
    for each in (current, *current.parents):
        try:
            if not each.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def tools_account(environ: Mapping[str, str] | None = None) -> ToolsAccount | None:
    """The account tool processes start as, or None for the app's own user.

    None also when the named account is the one we run as. Any other account
    needs the app to run as root (only root may start processes as another
    user); naming root itself is refused: it would give the tools everything.
    """
    name = tools_user_from_env(os.environ if environ is None else environ)
    if name is None:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ToolError(
            f"COMPUTER_USE_TOOLS_USER={name} names no account on this system: "
            "create it (useradd) or unset the variable"
        ) from None
    if entry.pw_uid == os.geteuid():
        return None
    if entry.pw_uid == 0:
        raise ToolError(
            "COMPUTER_USE_TOOLS_USER must name an unprivileged account, not root"
        )
    if os.geteuid() != 0:
        raise ToolError(
            f"COMPUTER_USE_TOOLS_USER={name}: only an app running as root can start "
            f"the tools as another account; run the app as root or as {name}"
        )
    return ToolsAccount(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        home=entry.pw_dir,
        shell=entry.pw_shell or "/bin/bash",
    )
