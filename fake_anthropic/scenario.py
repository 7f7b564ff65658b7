"""What the fake model says, turn by turn, and which faults it injects.

A scenario is plain data (a JSON or YAML file, or Python dicts):

    {"turns": [
      {"content": [{"type": "text", "text": "Let me look."},
                   {"type": "tool_use", "name": "bash", "input": {"command": "ls"}}]},
      {"fault": {"status": 429, "retry_after": 1, "times": 1},
       "content": [{"type": "text", "tokens": 400}]}
    ]}

Blocks: text (`text` or a `tokens` count of filler words), thinking (`thinking`,
`signature`), tool_use (`name`, `input`, optional `id`, `malformed_json`,
`truncate` to cut its JSON mid-way with stop_reason max_tokens), or any other
block, sent as given. `raw_sse` replays a recorded stream byte for byte.

A turn may set `latency` (seconds before its response starts, after the request
was counted), overriding the server's `latency` option.

The scenario may also set `stop_when` (a text) and `final` (a turn, default a
short "Done."): a request whose last message holds a tool_result containing that
text is answered with `final`, and no scripted turn is used up. Concurrent
conversations each stop on their own this way (B6 ends its sessions so).

Faults fire on the first `times` requests (default 1) that reach the turn, then
the turn is answered; a turn is used up only when its answer was fully sent.
    {"status": 429|529|500|..., "retry_after": s}    refused before any stream
    {"drop_after_events": n}                            connection cut mid-stream
    {"sse_error_after_events": n, "error_type": t}      `error` event after a 200
    {"stall_seconds": s, "stall_after_events": n}       stream pauses, then goes on
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Turn:
    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    fault: dict[str, Any] | None = None
    raw_sse: str | None = None
    latency: float | None = None
    faults_fired: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            content=list(data.get("content") or []),
            stop_reason=data.get("stop_reason"),
            fault=data.get("fault"),
            raw_sse=data.get("raw_sse"),
            latency=None if data.get("latency") is None else float(data["latency"]),
        )

    def pending_fault(self) -> dict[str, Any] | None:
        if self.fault and self.faults_fired < int(self.fault.get("times", 1)):
            return self.fault
        return None

    def resolved_stop_reason(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        if any(block.get("truncate") for block in self.content):
            return "max_tokens"
        if any(block.get("type") == "tool_use" for block in self.content):
            return "tool_use"
        return "end_turn"


DEFAULT_TURN = {"content": [{"type": "text", "text": "Done."}]}


@dataclass
class Scenario:
    turns: list[Turn] = field(default_factory=list)
    default: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_TURN))
    position: int = 0
    stop_when: str | None = None
    final: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_TURN))

    @classmethod
    def from_data(cls, data: Any) -> Scenario:
        if isinstance(data, list):
            data = {"turns": data}
        return cls(
            turns=[Turn.from_dict(turn) for turn in data.get("turns", [])],
            default=data.get("default") or dict(DEFAULT_TURN),
            stop_when=data.get("stop_when"),
            final=data.get("final") or dict(DEFAULT_TURN),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        text = Path(path).read_text()
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            return cls.from_data(yaml.safe_load(text))
        return cls.from_data(json.loads(text))

    def current(self) -> tuple[int, Turn]:
        if self.position < len(self.turns):
            return self.position, self.turns[self.position]
        return self.position, Turn.from_dict(self.default)

    def turn_for(self, body: dict[str, Any]) -> tuple[int, Turn]:
        """The turn that answers this request: `final` once its conversation says
        `stop_when`, else the current scripted turn."""
        if self.stop_when and _last_tool_results_say(body, self.stop_when):
            return -1, Turn.from_dict(self.final)
        return self.current()

    def consume(self, index: int) -> None:
        if index == self.position:
            self.position += 1


def _last_tool_results_say(body: dict[str, Any], text: str) -> bool:
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1].get("content"), list):
        return False
    return any(
        isinstance(block, dict)
        and block.get("type") == "tool_result"
        and text in json.dumps(block.get("content"))
        for block in messages[-1]["content"]
    )
