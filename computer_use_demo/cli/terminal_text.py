"""Text made safe to write to a terminal: the model's and the tools' text can
carry escape sequences (OSC 52 writes the clipboard, `ESC[2J` clears the
screen, `\\r` overwrites a line); none of them reaches the terminal. Pure."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and the C1 controls (8-bit CSI, OSC, ...).
# With ESC itself gone, no escape sequence can form, however it is split.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def printable(text: str) -> str:
    """`text` without control characters (a line ending `\\r\\n` becomes `\\n`)."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n"))
