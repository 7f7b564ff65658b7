"""Private per-user folders for what the app writes under /tmp: saved tool
outputs, screenshots in passing, the desktop's logs.

Never follows a planted link and never writes into a folder another user owns
or can write to; stdlib only. `start_all.sh` calls `main(["logs"])`, which
prints the folder's path (exit 1 if none is safe).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# Where the budget saved tool outputs before: shared by every user of /tmp.
LEGACY_TOOL_OUTPUT_DIR = Path("/tmp/outputs/tool_results")


class UnsafeDirectoryError(OSError):
    """A folder that another user could read, replace or fill."""


_fallback: Path | None = None
_lock = threading.Lock()


def user_root() -> Path:
    """This user's folder under the system's temporary directory."""
    return Path(tempfile.gettempdir()) / f"computer-use-{os.getuid()}"


def _check_ancestor(path: Path, uid: int) -> None:
    """A folder above ours must be owned by us or root, and if others may write
    in it, sticky (as /tmp is): else they could swap our folder for theirs."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        if info.st_uid not in (uid, 0):  # a link someone planted
            raise UnsafeDirectoryError(f"{path} is a link made by another user")
        info = os.stat(path)  # a system link such as /tmp -> /private/tmp
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(f"{path} is not a directory")
    if info.st_uid not in (uid, 0):
        raise UnsafeDirectoryError(f"{path} belongs to another user")
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise UnsafeDirectoryError(f"{path} is writable by others and not sticky")


def _make_or_check(path: Path, uid: int) -> None:
    """Create `path` 0700, or accept it only if it is our own private folder
    (never a link, whoever planted it)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(f"{path} is a link or not a directory")
    if info.st_uid != uid:
        raise UnsafeDirectoryError(f"{path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise UnsafeDirectoryError(
            f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
        )


def secure_directory(path: Path, private_from: Path | None = None) -> Path:
    """`path`, created as needed, checked private: raises UnsafeDirectoryError.

    `path` and every folder between it and `private_from` (default: `path`
    alone) must be ours, 0700-like and not links (missing ones are created
    0700); the folders above must be safe ancestors.
    """
    uid = os.getuid()
    path = Path(os.path.abspath(path))
    top = Path(os.path.abspath(private_from)) if private_from is not None else path
    if top != path and top not in path.parents:
        raise ValueError(f"{top} does not contain {path}")
    for ancestor in reversed(top.parents):
        _check_ancestor(ancestor, uid)
    between = reversed(path.relative_to(top).parents[:-1])
    for part in [top, *(top / folder for folder in between), path]:
        _make_or_check(part, uid)
    return path


def private_directory(requested: Path | str | None = None, name: str = "") -> Path:
    """A private folder to write in: `requested` if it is safe, else (and by
    default) this user's folder `user_root()/name`, else a fresh random one.

    The old shared default /tmp/outputs/tool_results means "the default".
    """
    wanted = Path(os.path.abspath(requested)) if requested is not None else None
    private_from = wanted
    while private_from is not None and not os.path.lexists(private_from.parent):
        private_from = private_from.parent  # missing folders are created private
    if wanted is None or wanted == LEGACY_TOOL_OUTPUT_DIR:
        wanted = user_root() / (name or "tool_results")
        private_from = user_root()
    try:
        return secure_directory(wanted, private_from)
    except OSError as error:
        logger.warning(
            "not writing into %s (%s): using a private folder", wanted, error
        )
    root = _random_root()
    return secure_directory(root / (name or "files"), root)


def _random_root() -> Path:
    """A fresh folder only we can use (mkdtemp is 0700 with a random name)."""
    global _fallback
    with _lock:
        if _fallback is None or not os.path.isdir(_fallback):
            _fallback = Path(tempfile.mkdtemp(prefix=f"computer-use-{os.getuid()}-"))
        return _fallback


def main(argv: list[str]) -> int:
    """`NAME [REQUESTED]`: print the folder to use (start_all.sh's logs and pids)."""
    logging.basicConfig(format="private_files: %(message)s")
    name = argv[0] if argv else "files"
    requested = argv[1] if len(argv) > 1 and argv[1] else None
    try:
        print(private_directory(requested, name))
    except OSError as failure:
        print(f"private_files: no safe folder: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def open_directory_of(
    uid: int, gid: int, name: str = "tool_results"
) -> tuple[int, Path]:
    """A folder of account `uid`'s own under the temporary directory (made 0700
    and handed to it by root if missing), opened: its descriptor and path.

    For files the app writes for that account to read (its tools run as it).
    Every step is opened without following links and checked by its open
    descriptor, so the account cannot redirect a write by swapping a folder.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    path = Path(tempfile.gettempdir())
    parent = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in (f"computer-use-{uid}", name):
            path = path / part
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=parent)
                os.chown(part, uid, gid, dir_fd=parent, follow_symlinks=False)
            child = os.open(part, flags, dir_fd=parent)
            info = os.fstat(child)
            if info.st_uid != uid or stat.S_IMODE(info.st_mode) & 0o077:
                os.close(child)
                raise UnsafeDirectoryError(
                    f"{path} is not a private folder of uid {uid}"
                )
            os.close(parent)
            parent = child
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(parent)
        raise
    return parent, path
