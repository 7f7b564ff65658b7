"""Draws received spans as a timeline PNG: one row per span, indented under its
parent, bars on a shared time axis. The README's picture of a trace is made so
from the CLI's test run."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.plugins.otlp_receiver import ReceivedSpan

WIDTH = 1400
LABELS = 560  # the left part, for names
ROW = 30
TOP = 70
COLOURS = {
    "invoke_agent": (110, 110, 120),
    "chat": (52, 110, 200),
    "anthropic.": (140, 180, 230),
    "rate_limit.wait": (235, 150, 40),
    "execute_tool": (60, 160, 90),
}
ERROR = (205, 60, 60)


def in_tree_order(spans: list[ReceivedSpan]) -> list[tuple[int, ReceivedSpan]]:
    """Depth-first from the roots, children by start time, with their depths."""
    children: dict[str, list[ReceivedSpan]] = {}
    ids = {span.span_id for span in spans}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else ""
        children.setdefault(parent, []).append(span)
    ordered: list[tuple[int, ReceivedSpan]] = []

    def visit(parent: str, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_ns):
            ordered.append((depth, span))
            visit(span.span_id, depth + 1)

    visit("", 0)
    return ordered


def caption(span: ReceivedSpan) -> str:
    """What a row says beside the name: the facts one reads a trace for."""
    a = span.attributes
    parts: list[str] = []
    if "http.response.status_code" in a:
        parts.append(f"HTTP {a['http.response.status_code']}")
    if "error.type" in a:
        parts.append(str(a["error.type"]))
    if "computer_use.request.attempt" in a and a["computer_use.request.attempt"] > 1:
        parts.append(f"attempt {a['computer_use.request.attempt']}")
    if "gen_ai.usage.output_tokens" in a and span.name.startswith("chat"):
        parts.append(
            f"in {a['gen_ai.usage.input_tokens']} / out {a['gen_ai.usage.output_tokens']}"
        )
    if "gen_ai.response.finish_reasons" in a:
        parts.append(",".join(a["gen_ai.response.finish_reasons"]))
    if "computer_use.rate_limit.budget" in a:
        parts.append(str(a["computer_use.rate_limit.budget"]))
    return " · ".join(parts)


def render(spans: list[ReceivedSpan], path: Path, title: str) -> None:
    rows = in_tree_order(spans)
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    total = max(end - start, 1)
    height = TOP + ROW * len(rows) + 30
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    draw.text((12, 10), title, fill="black", font=ImageFont.load_default(size=18))
    scale = (WIDTH - LABELS - 20) / total
    seconds = total / 1e9
    step = next(s for s in (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60) if seconds / s <= 12)
    tick = 0.0
    while tick <= seconds:
        x = LABELS + tick * 1e9 * scale
        draw.line([(x, TOP - 8), (x, height - 24)], fill=(225, 225, 225))
        draw.text((x - 8, TOP - 28), f"{tick:g} s", fill=(90, 90, 90), font=small)
        tick += step
    for row, (depth, span) in enumerate(rows):
        y = TOP + row * ROW
        colour = next(
            (c for prefix, c in COLOURS.items() if span.name.startswith(prefix)),
            (150, 150, 150),
        )
        if span.status_code == 2:
            colour = ERROR
        label = span.name if len(span.name) <= 40 else span.name[:39] + "…"
        draw.text((12 + 18 * depth, y + 6), label, fill="black", font=font)
        left = LABELS + (span.start_ns - start) * scale
        right = max(left + 2, LABELS + (span.end_ns - start) * scale)
        draw.rectangle([(left, y + 4), (right, y + ROW - 6)], fill=colour)
        took = (span.end_ns - span.start_ns) / 1e6
        note = f"{took:.0f} ms" + (f"  {caption(span)}" if caption(span) else "")
        text_x = right + 6 if right < WIDTH - 330 else max(LABELS, left - 330)
        draw.text((text_x, y + 7), note, fill=(40, 40, 40), font=small)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
