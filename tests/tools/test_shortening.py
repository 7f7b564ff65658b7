"""Head and tail with one note between: the one way any text is shortened."""

from __future__ import annotations

import re
from pathlib import Path

from computer_use_demo.tool_output.shortening import keep_head_and_tail, omission_note


def test_a_text_that_fits_is_returned_as_it_is() -> None:
    assert keep_head_and_tail("short", 150) == "short"
    assert keep_head_and_tail("x" * 500, None) == "x" * 500


def test_head_and_tail_stay_and_the_note_says_exactly_how_much_went() -> None:
    text = "a" * 400 + "b" * 5_000 + "c" * 400
    short = keep_head_and_tail(text, 600)
    assert len(short) <= 600, "the note fits inside the limit"
    head = len(short) - len(short.lstrip("a"))
    tail = len(short) - len(short.rstrip("c"))
    assert head > 1.5 * tail > 0, "two thirds of the room go to the start"
    counted = re.search(r"\[\.\.\. ([\d,]+) characters omitted", short)
    assert counted is not None
    assert int(counted[1].replace(",", "")) == len(text) - head - tail
    assert "Redirect long output to a file" in short


def test_a_saved_text_names_its_file_and_the_lines_left_out() -> None:
    text = "\n".join(f"line {number}" for number in range(1, 1_001))
    path = Path("/tmp/x/tool-output-1.txt")
    short = keep_head_and_tail(text, 2_000, saved_to=path)
    assert len(short) <= 2_000
    note = re.search(
        r"\n\n\[\.\.\. .*? read lines (\d+)-(\d+) with "
        r"`sed -n '(\d+),(\d+)p' (\S+)`.*?\]\n\n",
        short,
    )
    assert note is not None, short
    first, last = int(note[1]), int(note[2])
    head, tail = short[: note.start()], short[note.end() :]
    assert f"line {first}".startswith(head.rsplit("\n", 1)[-1]), "cut inside line a"
    assert f"line {last}".endswith(tail.split("\n", 1)[0]), "resumes inside line b"
    assert note[5] == str(path) and int(note[3]) == first
    assert 0 < int(note[4]) - first <= 200


def test_bytes_dropped_from_a_stream_get_the_same_note() -> None:
    note = omission_note(5_000, "bytes of output")
    assert "[... 5,000 bytes of output omitted." in note
