"""The computer tool: screenshots, mouse and keyboard on the X display, via xdotool.

Every bad argument (unknown action, off-screen coordinate) is a ToolError the
model can read; screenshots are scaled to the resolutions the API recommends
(the arithmetic lives in `screen.py`). After an action the tool returns the
screen once it is still (`settle.py`), never after a fixed sleep unless
`_screenshot_delay` asks for one. Each version of the tool is a table from
action to handler.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shlex
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypedDict, cast, get_args

from anthropic.types.beta import BetaToolUnionParam

from ..settings import screen_from_env, settle_from_env
from .base import BaseAnthropicTool, ScreenWait, ToolError, ToolResult
from .run import run
from .screen import ScalingSource, ScreenScaling
from .screen_capture import CellFrame, ScreenCapture, capture_for
from .settle import SettlePolicy, settle

OUTPUT_DIR = "/tmp/outputs"
TYPING_DELAY_MS = 12
TYPING_GROUP_SIZE = 50

Action_20241022 = Literal[
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "screenshot", "cursor_position"
]  # fmt: skip
Action_20250124 = Action_20241022 | Literal[
    "left_mouse_down", "left_mouse_up", "scroll", "hold_key", "wait", "triple_click"
]  # fmt: skip
Action_20251124 = Action_20250124 | Literal["zoom"]
ScrollDirection = Literal["up", "down", "left", "right"]
Coordinate = list[int] | tuple[int, int]  # JSON gives the model's pairs as lists

# xdotool sleeps its click `--delay` (100 ms unless given) after every click,
# the last one too: a single click has no next click to wait for.
CLICK_BUTTONS: dict[str, str] = {
    "left_click": "--delay 0 1",
    "right_click": "--delay 0 3",
    "middle_click": "--delay 0 2",
    "double_click": "--repeat 2 --delay 10 1",
    "triple_click": "--repeat 3 --delay 10 1",
}
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
MAX_HOLD_SECONDS = 100
HOVER_DRAW_SECONDS = 0.05  # an app redraws what lies under the pointer by then


class ComputerToolOptions(TypedDict):
    display_height_px: int
    display_width_px: int
    display_number: int | None


@dataclass(frozen=True)
class ActionInput:
    """The model's arguments for one action; the ones an action ignores are unused."""

    text: str | None = None
    coordinate: Coordinate | None = None
    start_coordinate: Coordinate | None = None
    scroll_direction: ScrollDirection | None = None
    scroll_amount: int | None = None
    duration: int | float | None = None
    key: str | None = None
    region: Any = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ActionInput:
        """Known arguments only: unknown ones are ignored, as the quickstart does."""
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in params.items() if name in known})


Handler = Callable[[Any, str, ActionInput], Awaitable[ToolResult]]


def chunks(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def _quoted_keys(keys: str) -> str:
    """xdotool key names, each shell-quoted (the model's text never reaches a shell raw)."""
    return " ".join(shlex.quote(key) for key in keys.split())


def _refuse(action: str, args: ActionInput, *names: str) -> None:
    """A ToolError when the model passed an argument `action` does not take."""
    for name in names:
        if getattr(args, name) is not None:
            raise ToolError(f"{name} is not accepted for {action}")


class BaseComputerTool:
    """Drives the screen, keyboard and mouse of display `DISPLAY_NUM`.

    `actions` maps each action of the tool's version to its handler; a subclass
    (a later version) extends or overrides entries.
    """

    name: Literal["computer"] = "computer"
    api_type: str
    width: int
    height: int
    display_num: int | None
    actions: ClassVar[Mapping[str, Handler]]

    # A fixed wait before each screenshot instead of settling, when set (the
    # quickstart's 2.0; the benchmark's baseline and a few tests use it).
    _screenshot_delay: float | None = None
    _scaling_enabled = True
    settle_policy: SettlePolicy
    capture: ScreenCapture

    def __init__(self) -> None:
        super().__init__()
        # Read when constructed, as the quickstart's tools (and tests) expect.
        screen = screen_from_env(os.environ)
        self.width = screen.width
        self.height = screen.height
        if not (self.width and self.height):
            raise ToolError("WIDTH and HEIGHT must be set to the display's size")
        if screen.display_num is not None:
            self.display_num = screen.display_num
            self._display_prefix = f"DISPLAY=:{self.display_num} "
        else:
            self.display_num = None
            self._display_prefix = ""
        self.xdotool = f"{self._display_prefix}xdotool"
        wait = settle_from_env(os.environ)
        self.settle_policy = SettlePolicy(
            min_wait=min(wait.min_wait, wait.max_wait),
            quiet=wait.quiet,
            first_change=wait.first_change,
            max_wait=wait.max_wait,
        )
        display = None if self.display_num is None else f":{self.display_num}"
        self.capture = capture_for(display)

    @property
    def scaling(self) -> ScreenScaling:
        # Built on demand: tests (the quickstart's too) change width and height.
        return ScreenScaling(self.width, self.height, self._scaling_enabled)

    @property
    def options(self) -> ComputerToolOptions:
        width, height = self.scaling.api_size
        return {
            "display_width_px": width,
            "display_height_px": height,
            "display_number": self.display_num,
        }

    def to_params(self) -> BetaToolUnionParam:
        return cast(
            BetaToolUnionParam,
            {"name": self.name, "type": self.api_type, **self.options},
        )

    async def __call__(self, *, action: str, **params: Any) -> ToolResult:
        handler = self.actions.get(action)
        if handler is None:
            raise ToolError(f"Invalid action: {action}")
        return await handler(self, action, ActionInput.from_params(params))

    # ---- the actions of computer_20241022 --------------------------------------

    async def _mouse_move_or_drag(self, action: str, args: ActionInput) -> ToolResult:
        if args.coordinate is None:
            raise ToolError(f"coordinate is required for {action}")
        _refuse(action, args, "text")
        x, y = self.validate_and_get_coordinates(args.coordinate)
        if action == "mouse_move":
            if await self._pointer_is_at(x, y):
                # `mousemove --sync` to where the pointer already is waits
                # for a motion event that never comes.
                return await self.screenshot()
            return await self.shell(f"{self.xdotool} mousemove --sync {x} {y}")
        if args.start_coordinate is None:
            raise ToolError(f"start_coordinate is required for {action}")
        start_x, start_y = self.validate_and_get_coordinates(args.start_coordinate)
        return await self.shell(
            f"{self.xdotool} mousemove --sync {start_x} {start_y} mousedown 1 "
            f"mousemove --sync {x} {y} mouseup 1",
            expect_change=True,
        )

    async def _key_or_type(self, action: str, args: ActionInput) -> ToolResult:
        text = args.text
        if text is None:
            raise ToolError(f"text is required for {action}")
        _refuse(action, args, "coordinate")
        if not isinstance(text, str):
            raise ToolError(f"{text!r} must be a string")
        if action == "key":
            return await self.shell(
                f"{self.xdotool} key -- {_quoted_keys(text)}", expect_change=True
            )
        # Typed text is echoed as it arrives: no later effect to wait for.
        before = await self._before_action()
        results = [
            await self.shell(
                f"{self.xdotool} type --delay {TYPING_DELAY_MS} -- {shlex.quote(part)}",
                take_screenshot=False,
            )
            for part in chunks(text, TYPING_GROUP_SIZE)
        ]
        wait, screenshot = await self._settled_screenshot(before, expect_change=False)
        return ToolResult(
            output="".join(result.output or "" for result in results),
            error="".join(result.error or "" for result in results),
            base64_image=screenshot.base64_image,
            screen_wait=wait,
        )

    async def _screenshot_action(self, action: str, args: ActionInput) -> ToolResult:
        _refuse(action, args, "text", "coordinate")
        return await self.screenshot()

    async def _cursor_position(self, action: str, args: ActionInput) -> ToolResult:
        _refuse(action, args, "text", "coordinate")
        result = await self.shell(
            f"{self.xdotool} getmouselocation --shell", take_screenshot=False
        )
        position = dict(
            line.split("=", 1)
            for line in (result.output or "").splitlines()
            if "=" in line
        )
        try:
            x, y = self.scale_coordinates(
                ScalingSource.COMPUTER, int(position["X"]), int(position["Y"])
            )
        except (KeyError, ValueError):
            raise ToolError(
                f"could not read the cursor position: {result.error or result.output}"
            ) from None
        return result.replace(output=f"X={x},Y={y}")

    async def _click_in_place(self, action: str, args: ActionInput) -> ToolResult:
        _refuse(action, args, "text", "coordinate")
        return await self.shell(
            f"{self.xdotool} click {CLICK_BUTTONS[action]}", expect_change=True
        )

    # ---- the actions computer_20250124 adds or changes -----------------------

    async def _mouse_button(self, action: str, args: ActionInput) -> ToolResult:
        if args.coordinate is not None:
            raise ToolError(f"coordinate is not accepted for {action=}.")
        verb = "mousedown" if action == "left_mouse_down" else "mouseup"
        return await self.shell(f"{self.xdotool} {verb} 1")

    async def _scroll(self, action: str, args: ActionInput) -> ToolResult:
        scroll_direction, scroll_amount = args.scroll_direction, args.scroll_amount
        if scroll_direction not in get_args(ScrollDirection):
            raise ToolError(
                f"{scroll_direction=} must be 'up', 'down', 'left', or 'right'"
            )
        if not isinstance(scroll_amount, int) or scroll_amount < 0:
            raise ToolError(f"{scroll_amount=} must be a non-negative int")
        button = SCROLL_BUTTONS[str(scroll_direction)]
        return await self._with_modifiers(
            args.coordinate, args.text, f"click --repeat {scroll_amount} {button}"
        )

    async def _hold_key_or_wait(self, action: str, args: ActionInput) -> ToolResult:
        duration = args.duration
        if duration is None or not isinstance(duration, int | float):
            raise ToolError(f"{duration=} must be a number")
        if duration < 0:
            raise ToolError(f"{duration=} must be non-negative")
        if duration > MAX_HOLD_SECONDS:
            raise ToolError(f"{duration=} is too long.")
        if action == "wait":
            await asyncio.sleep(duration)
            return await self.screenshot()
        if args.text is None:
            raise ToolError(f"text is required for {action}")
        keys = _quoted_keys(args.text)
        return await self.shell(
            f"{self.xdotool} keydown {keys} sleep {duration} keyup {keys}"
        )

    async def _click(self, action: str, args: ActionInput) -> ToolResult:
        _refuse(action, args, "text")
        return await self._with_modifiers(
            args.coordinate, args.key, f"click {CLICK_BUTTONS[action]}"
        )

    async def _with_modifiers(
        self, coordinate: Coordinate | None, keys: str | None, command: str
    ) -> ToolResult:
        """Move first (if asked), hold `keys` (if any) around `command`.

        When settling, the pointer moves on its own and the hover feedback is
        drawn before the screen is seen "before" the click: a button that lights
        up under the pointer is not taken for the click's effect.
        """
        parts = [self.xdotool]
        if coordinate is not None:
            move = await self._move_part(coordinate)
            if move and self._screenshot_delay is None:
                await run(f"{self.xdotool} {move[0]}")
                await asyncio.sleep(HOVER_DRAW_SECONDS)
            else:
                parts.extend(move)
        if keys:
            parts.append(f"keydown {_quoted_keys(keys)}")
        parts.append(command)
        if keys:
            parts.append(f"keyup {_quoted_keys(keys)}")
        return await self.shell(" ".join(parts), expect_change=True)

    # ---- computer_20251124 ----------------------------------------------------

    async def _zoom(self, action: str, args: ActionInput) -> ToolResult:
        return await self.zoom(args.region)

    async def zoom(self, region: Any) -> ToolResult:
        """A region of the screen at full resolution (the model asks in API space)."""
        box = self.scaling.screen_region(region)
        png = await self.capture.region(box, self.scaling.api_size)
        return ToolResult(base64_image=base64.b64encode(png).decode())

    # ---- the screen -------------------------------------------------------------

    async def _move_part(self, coordinate: Any) -> list[str]:
        """The xdotool words that move the pointer first, unless it is already there."""
        x, y = self.validate_and_get_coordinates(coordinate)
        return [] if await self._pointer_is_at(x, y) else [f"mousemove --sync {x} {y}"]

    async def _pointer_is_at(self, x: int, y: int) -> bool:
        try:
            _, stdout, _ = await run(
                f"{self.xdotool} getmouselocation --shell", timeout=5
            )
        except TimeoutError:
            return False
        return f"X={x}\nY={y}\n" in stdout

    def validate_and_get_coordinates(self, coordinate: Any) -> tuple[int, int]:
        """Screen coordinates for an API coordinate; off-screen ones are refused."""
        return self.scaling.screen_point(coordinate)

    def scale_coordinates(
        self, source: ScalingSource, x: int, y: int
    ) -> tuple[int, int]:
        """Map between screen pixels and the scaled space the API works in."""
        return self.scaling.scale(source, x, y)

    async def screenshot(self) -> ToolResult:
        """A PNG of the whole screen, scaled to the size the API sees: grabbed,
        scaled and encoded once, in memory."""
        png = await self.capture.screenshot(self.scaling.api_size)
        return ToolResult(base64_image=base64.b64encode(png).decode())

    async def shell(
        self, command: str, take_screenshot: bool = True, *, expect_change: bool = False
    ) -> ToolResult:
        """Run a command; with `take_screenshot`, then the screen once it is still.

        `expect_change`: the action usually shows an effect (a click, a key), so
        a screen that has not changed yet is waited for, up to `first_change`.
        """
        if not take_screenshot:
            _, stdout, stderr = await run(command)
            return ToolResult(output=stdout, error=stderr)
        before = await self._before_action()
        _, stdout, stderr = await run(command)
        wait, screenshot = await self._settled_screenshot(before, expect_change)
        return ToolResult(
            output=stdout,
            error=stderr,
            base64_image=screenshot.base64_image,
            screen_wait=wait,
        )

    async def _before_action(self) -> CellFrame | None:
        """The screen as it was before the action (None if it cannot be seen)."""
        if self._screenshot_delay is not None:
            return None
        try:
            return await self.capture.frame()
        except ToolError:
            return None  # the screenshot after the action says why

    async def _settled_screenshot(
        self, before: CellFrame | None, expect_change: bool
    ) -> tuple[ScreenWait | None, ToolResult]:
        """The screenshot once the screen is still (or after the fixed delay).

        The screenshot is started while the quiet period runs out (`prepare`);
        it is used when no frame changed after it was started, and taken
        again otherwise.
        """
        if self._screenshot_delay is not None:
            await asyncio.sleep(self._screenshot_delay)
            return None, await self.screenshot()
        size = self.scaling.api_size
        started: list[asyncio.Future[bytes]] = []

        def prepare() -> None:
            early = asyncio.ensure_future(self.capture.screenshot(size))
            early.add_done_callback(_forget_failure)
            started.append(early)

        try:
            settled = await settle(
                self.capture,
                before,
                policy=self.settle_policy,
                expect_change=expect_change,
                clock=time.monotonic,
                sleep=asyncio.sleep,
                prepare=prepare,
            )
        except ToolError:
            return None, await self.screenshot()  # says why no frame came
        wait = ScreenWait(
            settled.seconds, settled.still, settled.changed_at, settled.moved_at
        )
        if settled.prepared and started:
            try:
                png = await started[-1]
            except ToolError:
                pass
            else:
                return wait, ToolResult(base64_image=base64.b64encode(png).decode())
        return wait, await self.screenshot()


def _forget_failure(future: asyncio.Future[bytes]) -> None:
    """An early screenshot's failure counts as seen (asyncio warns of one never
    retrieved): the screenshot taken in its place reports it."""
    if not future.cancelled():
        future.exception()


_Tool = BaseComputerTool
ACTIONS_20241022: dict[str, Handler] = {
    "mouse_move": _Tool._mouse_move_or_drag,
    "left_click_drag": _Tool._mouse_move_or_drag,
    "key": _Tool._key_or_type,
    "type": _Tool._key_or_type,
    "screenshot": _Tool._screenshot_action,
    "cursor_position": _Tool._cursor_position,
    "left_click": _Tool._click_in_place,
    "right_click": _Tool._click_in_place,
    "middle_click": _Tool._click_in_place,
    "double_click": _Tool._click_in_place,
}
ACTIONS_20250124: dict[str, Handler] = {
    **ACTIONS_20241022,
    "left_mouse_down": _Tool._mouse_button,
    "left_mouse_up": _Tool._mouse_button,
    "scroll": _Tool._scroll,
    "hold_key": _Tool._hold_key_or_wait,
    "wait": _Tool._hold_key_or_wait,
    # Clicks now move first and hold modifier keys.
    **dict.fromkeys(
        ("left_click", "right_click", "middle_click", "double_click", "triple_click"),
        _Tool._click,
    ),
}
ACTIONS_20251124: dict[str, Handler] = {**ACTIONS_20250124, "zoom": _Tool._zoom}


class ComputerTool20241022(BaseComputerTool, BaseAnthropicTool):
    api_type: Literal["computer_20241022"] = "computer_20241022"
    actions = ACTIONS_20241022


class ComputerTool20250124(BaseComputerTool, BaseAnthropicTool):
    api_type: Literal["computer_20250124"] = "computer_20250124"
    actions = ACTIONS_20250124


class ComputerTool20251124(ComputerTool20250124):
    api_type: Literal["computer_20251124"] = "computer_20251124"  # type: ignore[assignment]
    actions = ACTIONS_20251124

    @property
    def options(self) -> ComputerToolOptions:
        return cast(ComputerToolOptions, {**super().options, "enable_zoom": True})
