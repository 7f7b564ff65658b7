"""Live rendering of a turn into a recording stand-in for Streamlit's elements:
thinking apart from the answer, tool calls as they form, bounded redraws."""

from __future__ import annotations

from dataclasses import dataclass, field

from computer_use_demo.streaming import (
    BlockFinished,
    BlockStarted,
    MessageFinished,
    MessageStarted,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    Usage,
)
from computer_use_demo.ui.coalesce import FREEZE_AFTER_CHARS
from computer_use_demo.ui.live import LiveTurns


@dataclass
class Element:
    """Records what is drawn where, like a DeltaGenerator tree."""

    kind: str
    label: str = ""
    children: list[Element] = field(default_factory=list)
    drawn: str | None = None
    draws: int = 0
    drawn_chars: int = 0  # the cost of every redraw, summed

    def _child(self, kind: str, label: str = "") -> Element:
        child = Element(kind, label)
        self.children.append(child)
        return child

    def chat_message(self, name: str) -> Element:
        return self._child("chat_message", name)

    def expander(self, label: str, expanded: bool = False) -> Element:
        return self._child("expander" if not expanded else "open-expander", label)

    def container(self) -> Element:
        return self._child("container")

    def empty(self) -> Element:
        return self._child("empty")

    def _draw(self, text: str) -> None:
        self.drawn, self.draws = text, self.draws + 1
        self.drawn_chars += len(text)

    def markdown(self, text: str) -> None:
        if self.kind == "empty":
            self._draw(text)
        else:
            self._child("markdown").drawn = text

    def code(self, text: str, language: str = "") -> None:
        self._draw(text)

    caption = warning = info = error = markdown

    def walk(self) -> list[Element]:
        return [self, *(e for child in self.children for e in child.walk())]

    def text(self) -> str:
        return "".join(element.drawn or "" for element in self.walk())


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def live_turn() -> tuple[Element, LiveTurns, Clock, list[Usage]]:
    parent, clock, usages = Element("chat"), Clock(), list[Usage]()
    live = LiveTurns(parent=parent, on_usage=usages.append, clock=clock)  # type: ignore[arg-type]
    live(MessageStarted("msg_1", "claude-opus-4-8", Usage(10, 0, 0, 0)))
    return parent, live, clock, usages


def test_thinking_streams_into_a_collapsed_expander_apart_from_the_answer() -> None:
    parent, live, _, usages = live_turn()
    live(BlockStarted(0, "thinking"))
    live(ThinkingDelta(0, "secret plan"))
    live(BlockFinished(0, {"type": "thinking", "thinking": "secret plan"}))
    live(BlockStarted(1, "text"))
    live(TextDelta(1, "The answer."))
    live(BlockFinished(1, {"type": "text", "text": "The answer."}))
    live(MessageFinished("end_turn", Usage(10, 7, 0, 0)))
    expanders = [e for e in parent.walk() if e.kind.endswith("expander")]
    assert [(e.kind, e.label) for e in expanders] == [("expander", "Thinking")]
    assert "secret plan" in expanders[0].text()
    answer = [e for e in parent.walk() if e.drawn == "The answer."]
    assert answer and all(e not in expanders[0].walk() for e in answer)
    assert usages == [Usage(10, 7, 0, 0)]


def test_a_tool_call_shows_its_name_then_its_input_as_it_forms() -> None:
    parent, live, clock, _ = live_turn()
    live(BlockStarted(0, "tool_use", "toolu_1", "bash"))
    assert "`bash`" in parent.text()
    live(ToolInputDelta(0, "toolu_1", "bash", '{"comm'))
    assert '{"comm' in parent.text(), "partial input is drawn while it forms"
    clock.now = 1
    live(ToolInputDelta(0, "toolu_1", "bash", 'and": "ls"}'))
    live(BlockFinished(0, {"type": "tool_use", "input": {"command": "ls"}}))
    assert '"command": "ls"' in parent.text()


def test_redraws_are_bounded_and_nothing_is_lost_on_a_long_answer() -> None:
    parent, live, clock, _ = live_turn()
    live(BlockStarted(0, "text"))
    words = [
        f"word{index} " + ("\n\n" if index % 40 == 39 else "")
        for index in range(20_000)
    ]
    for word in words:  # 20,000 deltas over 20 s
        clock.now += 0.001
        live(TextDelta(0, word))
    live(BlockFinished(0, {"type": "text", "text": "".join(words)}))
    text_length = len("".join(words))
    draws = sum(element.draws for element in parent.walk())
    timed, frozen_parts = 20 * 20, text_length // FREEZE_AFTER_CHARS
    assert draws <= timed + frozen_parts + 5, f"{draws} redraws for 20 s"
    cost = sum(element.drawn_chars for element in parent.walk())
    assert cost <= text_length + (timed + 5) * 2 * FREEZE_AFTER_CHARS, (
        "each redraw costs at most the unfinished tail, never the whole answer"
    )
    frozen = "".join(e.drawn or "" for e in parent.walk() if e.kind == "empty")
    assert frozen.replace(" ▌", "") == "".join(words)


def test_held_back_deltas_are_drawn_by_the_trailing_redraw() -> None:
    parent, live, clock, _ = live_turn()
    live(BlockStarted(0, "text"))
    live(TextDelta(0, "Hello"))  # drawn at once
    clock.now = 0.01
    live(TextDelta(0, " world"))  # within the interval: held back
    assert "Hello world" not in parent.text()
    clock.now = 0.03
    live.flush_stale()
    assert "Hello world" not in parent.text(), "not before the interval has passed"
    clock.now = 0.06
    live.flush_stale()
    assert "Hello world" in parent.text()
    draws = sum(element.draws for element in parent.walk())
    clock.now = 1.0
    live.flush_stale()
    assert sum(element.draws for element in parent.walk()) == draws, "idle: no redraw"


def test_a_secret_the_model_writes_is_drawn_redacted() -> None:
    from computer_use_demo.redaction import REDACTED, register_secret

    secret = "ui-live-secret-" + "Zx9" * 10
    register_secret(secret)
    parent, live, clock, _ = live_turn()
    live(BlockStarted(0, "text"))
    for start in range(0, len(secret), 7):  # streamed in pieces
        live(
            TextDelta(
                0, ("The key is " if start == 0 else "") + secret[start : start + 7]
            )
        )
        clock.now += 1.0
    live.flush_stale()
    drawn_while_streaming = parent.text()
    live(BlockFinished(0, {"type": "text", "text": "The key is " + secret}))
    assert secret not in drawn_while_streaming
    assert secret not in parent.text() and REDACTED in parent.text()
