"""Head and tail of a long text, with one note saying what was left out between.

The one way this project shortens text: tool output, old tool results in a
request view, and tool results over the context budget. Pure: no I/O.
"""

from __future__ import annotations

from pathlib import Path

# The start of an output says what ran; its end (the error, the summary line)
# usually matters as much, so a third of the room goes to the end.
HEAD_SHARE = 2 / 3
# How many of the left-out lines the suggested `sed` command prints at once.
LINES_TO_READ = 200


def omission_note(
    omitted: int,
    unit: str = "characters",
    *,
    saved_to: Path | None = None,
    hidden_lines: tuple[int, int] | None = None,
) -> str:
    """The note that stands where `omitted` units were left out, and how to get them."""
    if saved_to is not None and hidden_lines is not None:
        first, last = hidden_lines
        where = (
            f" The whole text is saved in {saved_to}: read lines {first}-{last} with "
            f"`sed -n '{first},{min(last, first + LINES_TO_READ)}p' {saved_to}`, "
            f"`grep -n PATTERN {saved_to}`, or str_replace_based_edit_tool view "
            "with a view_range."
        )
    else:
        where = (
            " Redirect long output to a file and read it in parts (grep -n, sed -n)."
        )
    return f"\n\n[... {omitted:,} {unit} omitted.{where} ...]\n\n"


def keep_head_and_tail(
    text: str, max_chars: int | None, *, saved_to: Path | None = None
) -> str:
    """`text` if it is at most `max_chars` long; else its head and tail with the
    note between (naming `saved_to` and the hidden lines, when the whole is
    saved), all of it within `max_chars` where the note leaves room."""
    if not max_chars or len(text) <= max_chars:
        return text
    longest_note = omission_note(
        len(text), saved_to=saved_to, hidden_lines=(len(text), len(text))
    )
    room = max_chars - len(longest_note)
    if room < max_chars // 3:  # a note longer than the text it frames: keep text
        room = max_chars
    head_chars = int(room * HEAD_SHARE)
    tail_chars = room - head_chars
    head = text[:head_chars]
    tail = text[len(text) - tail_chars :] if tail_chars else ""
    hidden_lines = (
        head.count("\n") + 1,
        text.count("\n") + 1 - tail.count("\n"),
    )
    note = omission_note(
        len(text) - head_chars - tail_chars,
        saved_to=saved_to,
        hidden_lines=hidden_lines,
    )
    return head + note + tail
