"""B7: how long the computer tool takes from an action to its screenshot, and
whether that screenshot is right, settling vs the quickstart's fixed 2 s wait.

Real Xvfb with mutter and tint2, real apps (xterm, Firefox on a local server,
a small Tk app), driven through the computer tool itself, at 1024x768 and at a
scaled size (1280x960). A screenshot is right when it equals, up to a caret
(at most 4 cells of 16x16 pixels, or one caret-shaped box) and the endless
animation's canvas, a reference taken once the scene is known to be done.
Both policies run every scene from a fresh start in the same process. Prints
one JSON line, with the six slowest actions and what the settle loop saw in
each (when the effect came, the last motion); about twelve minutes: the
baseline alone waits 2 s on each of its 80 actions.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageChops

from computer_use_demo.tools import ComputerTool20250124
from computer_use_demo.tools.screen import ScalingSource
from tests.tools.desktop_scenes import Desktop, Firefox, TkScene, WebServer

CARET_CELLS = 4
CARET_BOX = (8, 48)  # pixels: the widest and tallest a caret's difference may be
CELL_PX = 16
FIXED_DELAY = 2.0  # the quickstart's policy
Places = dict[str, list[int]]


@dataclass(frozen=True)
class Step:
    """One action: its input (from the scene's places), and when the scene is
    known to be done (seconds after the call)."""

    name: str
    action: Callable[[Places], dict[str, Any]]
    done_after: float


@dataclass(frozen=True)
class Record:
    """One action: from the call to the screenshot, whether it was right, and
    what the settle loop saw (seconds from its start: the effect, the last
    motion, the end; None under the fixed policy)."""

    scene: str
    step: str
    seconds: float
    correct: bool
    cells_off: int
    wait: str | None
    settle_s: float | None = None
    changed_at: float | None = None
    moved_at: float | None = None

    def breakdown(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "scene": self.scene,
            "step": self.step,
            "s": round(self.seconds, 3),
            "settle_s": rounded(self.settle_s),
            "changed_at": rounded(self.changed_at),
            "moved_at": rounded(self.moved_at),
            "right": self.correct,
        }


def at(place: str) -> Callable[[Places], dict[str, Any]]:
    return lambda places: {"coordinate": places[place]}


def fixed(**action: Any) -> Callable[[Places], dict[str, Any]]:
    return lambda places: action


def click(place: str) -> Callable[[Places], dict[str, Any]]:
    return lambda places: {"action": "left_click", "coordinate": places[place]}


def move(place: str) -> Callable[[Places], dict[str, Any]]:
    return lambda places: {"action": "mouse_move", "coordinate": places[place]}


def scroll(direction: str, amount: int) -> Callable[[Places], dict[str, Any]]:
    return lambda places: {
        "action": "scroll",
        "coordinate": places["middle"],
        "scroll_direction": direction,
        "scroll_amount": amount,
    }


# A session's mix: mostly typing, clicks, keys and scrolling; a slow label and
# an endless animation once per size.
TYPED = (
    "echo hello from the benchmark",
    "ls -1 /usr | head -5",
    "printf 'a\\nb\\nc\\n'",
    "seq 3",
    "date +%Y",
    "uname -s",
)
TYPING = [
    step
    for text in TYPED
    for step in (
        Step("type", fixed(action="type", text=text), 0.6),
        Step("Return", fixed(action="key", text="Return"), 0.6),
    )
]
MENU = [
    Step("open menu", click("file"), 0.6),
    Step("Escape", fixed(action="key", text="Escape"), 0.6),
] * 3
NEW_WINDOW = [
    Step("ctrl+n", fixed(action="key", text="ctrl+n"), 1.2),
    Step("ctrl+w", fixed(action="key", text="ctrl+w"), 1.0),
] * 2
BUTTONS = [
    Step("click fast", click("fast"), 0.9),
    Step("click fast", click("fast"), 1.4),
    Step("click slow", click("slow"), 2.2),
]
FIREFOX_LINK = [
    Step("click link", click("middle"), 2.0),
    Step("alt+Left", fixed(action="key", text="alt+Left"), 1.5),
    Step("click link", click("middle"), 2.0),
]
SCROLL = [
    Step("scroll down", scroll("down", 5), 1.2),
    Step("scroll down", scroll("down", 5), 1.2),
    Step("scroll down", scroll("down", 3), 1.2),
    Step("scroll up", scroll("up", 3), 1.2),
    Step("scroll up", scroll("up", 5), 1.2),
    Step("scroll down", scroll("down", 2), 1.2),
]
IDLE = [
    Step("mouse_move", move(place), 0.4)
    for place in ("corner", "entry", "corner", "entry", "corner")
]
ANIMATION = [Step("mouse_move", move("corner"), 0.0)]


def png_image(base64_png: str | None) -> Image.Image:
    assert base64_png, "the tool returned no screenshot"
    with Image.open(io.BytesIO(base64.b64decode(base64_png))) as image:
        return image.convert("RGB")


def cells_off(shot: Image.Image, reference: Image.Image, mask: list[int] | None) -> int:
    """How many 16x16 cells of the screenshot differ from the reference; 0 when
    every difference lies in one caret-shaped box (a caret scaled down to the
    API's size blurs over more cells than it covers)."""
    if shot.size != reference.size:
        return 10**6
    diff = ImageChops.difference(shot, reference).convert("L")
    if mask is not None:
        x0, y0, x1, y1 = mask
        diff.paste(0, (x0, y0, x1, y1))
    marked = diff.point(lambda value: 255 if value else 0)
    box = marked.getbbox()
    if box is None:
        return 0
    if box[2] - box[0] <= CARET_BOX[0] and box[3] - box[1] <= CARET_BOX[1]:
        return 0
    return sum(marked.reduce(CELL_PX).histogram()[1:])


class Bench:
    def __init__(
        self,
        desktop: Desktop,
        web: WebServer,
        save: Path | None = None,
        only: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.desktop = desktop
        self.web = web
        self.save = save
        self.only = only
        self.verbose = verbose
        self.tool = ComputerTool20250124()
        self.records: dict[str, list[Record]] = {"settle": [], "fixed": []}
        self.scene = ""

    def api_point(self, point: list[int]) -> list[int]:
        x, y = self.tool.scale_coordinates(ScalingSource.COMPUTER, point[0], point[1])
        return [x, y]

    def api_box(self, box: list[int]) -> list[int]:
        x0, y0 = self.api_point(box[:2])
        x1, y1 = self.api_point(box[2:])
        return [x0 - 2, y0 - 2, x1 + 2, y1 + 2]

    async def reference(self, seconds: float) -> Image.Image:
        await asyncio.sleep(seconds)
        png = await self.tool.capture.screenshot(self.tool.scaling.api_size)
        with Image.open(io.BytesIO(png)) as image:
            return image.convert("RGB")

    async def wait_still(self, seconds: float = 1.0, limit: float = 30.0) -> None:
        """Until the screen has not changed for `seconds` (a scene's start)."""
        deadline = time.monotonic() + limit
        previous = await self.tool.capture.frame()
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            frame = await self.tool.capture.frame()
            if self.tool.capture.changed_cells(previous, frame) > CARET_CELLS:
                still_since = time.monotonic()
            previous = frame
            if time.monotonic() - still_since >= seconds:
                return

    async def run_steps(
        self, policy: str, steps: list[Step], places: Places,
        mask: list[int] | None = None,
    ) -> None:  # fmt: skip
        self.tool._screenshot_delay = FIXED_DELAY if policy == "fixed" else None
        api_places = {name: self.api_point(point) for name, point in places.items()}
        for step in steps:
            action = step.action(api_places)
            started = time.perf_counter()
            result = await self.tool(**action)
            seconds = time.perf_counter() - started
            shot = png_image(result.base64_image)
            remaining = step.done_after - (time.perf_counter() - started)
            reference = await self.reference(max(0.0, remaining))
            off = cells_off(shot, reference, mask)
            if self.save and off > CARET_CELLS:
                stem = (
                    f"{policy}-{self.desktop.width}-{len(self.records[policy])}-"
                    f"{step.name.replace(' ', '_')}"
                )
                shot.save(self.save / f"{stem}-returned.png")
                reference.save(self.save / f"{stem}-reference.png")
            waited = result.screen_wait
            record = Record(
                self.scene, step.name, seconds, off <= CARET_CELLS, off,
                waited.describe() if waited else None,
                waited.seconds if waited else None,
                waited.changed_at if waited else None,
                waited.moved_at if waited else None,
            )  # fmt: skip
            self.records[policy].append(record)
            if self.verbose:
                print(
                    policy, json.dumps(record.breakdown()), file=sys.stderr, flush=True
                )

    def corner(self) -> list[int]:
        return [self.desktop.width - 30, self.desktop.height // 2]

    async def typing(self, policy: str) -> None:
        xterm = self.desktop.spawn(
            "xterm", "-geometry", "90x26+20+20", "-fa", "DejaVu Sans Mono", "-fs", "11",
            "-e", "bash", "--norc", "--noprofile",
        )  # fmt: skip
        try:
            self.desktop.output(
                "xdotool", "search", "--sync", "--onlyvisible", "--class", "xterm"
            )
            await self.wait_still(0.8)
            await self.tool(action="left_click", coordinate=self.api_point([200, 200]))
            await self.run_steps(policy, TYPING, {})
        finally:
            xterm.terminate()
            xterm.wait(timeout=5)

    async def tk(self, mode: str, policy: str, steps: list[Step]) -> None:
        app = TkScene(self.desktop.env, mode)
        try:
            await self.wait_still(0.8)
            places = {**app.places, "corner": self.corner()}
            window = app.places["window"]
            await self.tool(action="left_click", coordinate=self.api_point(
                [window[0] + 400, window[1] + 330]))  # fmt: skip
            await self.wait_still(0.5)
            mask = None
            if "canvas_box" in places:
                mask = self.api_box(places.pop("canvas_box"))
            await self.run_steps(policy, steps, places, mask)
        finally:
            app.close()

    async def firefox(self, policy: str, page: str, steps: list[Step]) -> None:
        browser = Firefox(self.desktop, self.web.url(page))
        try:
            await self.wait_still(1.5, limit=60)
            middle = [self.desktop.width // 2, self.desktop.height // 2]
            await self.run_steps(policy, steps, {"middle": middle})
        finally:
            browser.close()
            await asyncio.sleep(0.5)

    async def run(self, policy: str) -> None:
        scenes: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("typing in xterm", lambda: self.typing(policy)),
            ("click opens a menu", lambda: self.tk("menu", policy, MENU)),
            ("key opens a window", lambda: self.tk("newwindow", policy, NEW_WINDOW)),
            ("label after 300 ms / 1.5 s", lambda: self.tk("buttons", policy, BUTTONS)),
            (
                "Firefox link, 0.5 s page",
                lambda: self.firefox(policy, "/links", FIREFOX_LINK),
            ),
            (
                "scrolling a long text",
                lambda: self.firefox(policy, "/long", SCROLL),
            ),
            ("idle with a blinking caret", lambda: self.tk("idle", policy, IDLE)),
            ("endless animation", lambda: self.tk("animation", policy, ANIMATION)),
        ]
        for name, scene in scenes:
            if not self.only or self.only in name:
                self.scene = name
                await scene()


def p95(values: list[float]) -> float:
    """Nearest rank: the smallest value at or above 95% of the others."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def figures(records: list[Record]) -> dict[str, Any]:
    seconds = [record.seconds for record in records]
    return {
        "median_s": round(statistics.median(seconds), 3),
        "p95_s": round(p95(seconds), 3),
        "max_s": round(max(seconds), 3),
        "correct_share": round(sum(r.correct for r in records) / len(records), 3),
    }


def per_scene(records: list[Record]) -> dict[str, dict[str, Any]]:
    scenes: dict[str, list[Record]] = {}
    for record in records:
        scenes.setdefault(record.scene, []).append(record)
    return {
        name: {
            "actions": len(group),
            "median_s": round(statistics.median(r.seconds for r in group), 3),
            "max_s": round(max(r.seconds for r in group), 3),
            "correct": f"{sum(r.correct for r in group)}/{len(group)}",
        }
        for name, group in scenes.items()
    }


@contextmanager
def display_env(desktop: Desktop) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in desktop.env}
    os.environ.update(desktop.env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def main(
    sizes: list[tuple[int, int]],
    verbose: bool = False,
    save: Path | None = None,
    only: str | None = None,
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    web = WebServer()
    records: dict[str, list[Record]] = {"settle": [], "fixed": []}
    animation: list[float] = []
    try:
        for width, height in sizes:
            desktop = Desktop(width, height).start()
            try:
                with display_env(desktop):
                    bench = Bench(desktop, web, save, only, verbose)
                    for policy in ("settle", "fixed"):
                        await bench.run(policy)
                for policy, found in bench.records.items():
                    records[policy].extend(found)
                animation += [
                    r.seconds
                    for r in bench.records["settle"]
                    if r.scene == "endless animation"
                ]
                max_wait = bench.tool.settle_policy.max_wait
            finally:
                desktop.close()
    finally:
        web.close()
    return {
        "bench": "B7",
        "actions": len(records["settle"]),
        **figures(records["settle"]),
        "sizes": [f"{width}x{height}" for width, height in sizes],
        "animation_s": [round(value, 3) for value in animation],
        "max_wait_s": max_wait,
        "scenes": per_scene(records["settle"]),
        "slowest": [
            record.breakdown()
            for record in sorted(records["settle"], key=lambda r: -r.seconds)[:6]
        ],
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "baseline": {
            **figures(records["fixed"]),
            "policy": f"fixed {FIXED_DELAY:g} s",
            "scenes": per_scene(records["fixed"]),
        },
    }


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", nargs="+", type=parse_size, default=[(1024, 768), (1280, 960)]
    )
    parser.add_argument("--verbose", action="store_true", help="every action on stderr")
    parser.add_argument(
        "--save", type=Path, help="keep the frames of wrong screenshots"
    )
    parser.add_argument("--only", help="run only the scenes whose name contains this")
    options = parser.parse_args()
    result = asyncio.run(
        main(options.sizes, options.verbose, options.save, options.only)
    )
    print(json.dumps(result))
