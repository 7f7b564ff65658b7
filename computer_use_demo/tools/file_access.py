"""The editor's file reads and writes, safe on any path: the standard library only.

It never opens anything but a regular file (a named pipe or a device could
block or never end), never reads more than it is allowed, and checks the
opened descriptor, so a path swapped under it cannot slip by. Run as a script
(`python3 -I file_access.py OP` with a JSON request on stdin), it does the same
for the tools' own account, so the editor reads and writes only what that
account may.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from typing import Any

KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


class Refusal(Exception):
    """Why a file was not read or written: `reason` is missing, not_regular
    (`detail` the kind), too_large (`detail` the size) or os (`detail` the error)."""

    def __init__(self, reason: str, detail: str | int = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _os_refusal(error: OSError) -> Refusal:
    if isinstance(error, FileNotFoundError):
        return Refusal("missing")
    return Refusal("os", error.strerror or str(error))


def _check_regular(info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise Refusal(
            "not_regular", KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        )


def probe(path: str) -> dict[str, bool]:
    """Whether `path` exists and is a directory, as the caller's account sees it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"exists": False, "is_dir": False}
    except OSError as error:
        raise _os_refusal(error) from None
    return {"exists": True, "is_dir": stat.S_ISDIR(info.st_mode)}


def read_regular(path: str, max_bytes: int) -> bytes:
    """A regular file's bytes, at most `max_bytes`."""
    try:
        _check_regular(os.stat(path))  # a clear word for a socket
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        raise _os_refusal(error) from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        _check_regular(info)
        if info.st_size > max_bytes:
            raise Refusal("too_large", info.st_size)
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise _os_refusal(error) from None
    if len(data) > max_bytes:
        raise Refusal("too_large", len(data))
    return data


def write_regular(path: str, data: bytes) -> None:
    """Replace a regular file's content, or create the file; nothing else is opened."""
    try:
        if os.path.lexists(path):
            _check_regular(os.stat(path))
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY, 0o666
        )
    except OSError as error:
        raise _os_refusal(error) from None
    with os.fdopen(descriptor, "wb") as handle:
        _check_regular(os.fstat(handle.fileno()))
        try:
            os.set_blocking(handle.fileno(), True)
            handle.truncate(0)
            handle.write(data)
        except OSError as error:
            raise _os_refusal(error) from None


def serve(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """One request as the script answers it: a result, or the refusal's reason."""
    try:
        if operation == "probe":
            return probe(request["path"])
        if operation == "read":
            data = read_regular(request["path"], int(request["max_bytes"]))
            return {"data": base64.b64encode(data).decode("ascii")}
        if operation == "write":
            write_regular(request["path"], base64.b64decode(request["data"]))
            return {}
    except Refusal as refusal:
        return {"refused": refusal.reason, "detail": refusal.detail}
    return {"refused": "os", "detail": f"unknown operation {operation}"}


if __name__ == "__main__":
    print(json.dumps(serve(sys.argv[1], json.load(sys.stdin))))
