"""The computer tool: screenshots, mouse and keyboard on the X display, via xdotool.

Every bad argument (unknown action, off-screen coordinate) is a ToolError the
model can read; screenshots are scaled to the resolutions the API recommends.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shlex
from enum import StrEnum
from typing import Any, Literal, TypedDict, cast, get_args
from uuid import uuid4

from anthropic.types.beta import BetaToolUnionParam
from PIL import Image

from .base import BaseAnthropicTool, ToolError, ToolResult
from .private_files import private_directory
from .run import run

OUTPUT_DIR = "/tmp/outputs"
TYPING_DELAY_MS = 12
TYPING_GROUP_SIZE = 50

Action_20241022 = Literal[
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "screenshot",
    "cursor_position",
]
Action_20250124 = (
    Action_20241022
    | Literal[
        "left_mouse_down",
        "left_mouse_up",
        "scroll",
        "hold_key",
        "wait",
        "triple_click",
    ]
)
Action_20251124 = Action_20250124 | Literal["zoom"]
ScrollDirection = Literal["up", "down", "left", "right"]
Coordinate = list[int] | tuple[int, int]  # JSON gives the model's pairs as lists


class Resolution(TypedDict):
    width: int
    height: int


# Larger screenshots cost more tokens and are scaled down to one of these.
MAX_SCALING_TARGETS: dict[str, Resolution] = {
    "XGA": Resolution(width=1024, height=768),  # 4:3
    "WXGA": Resolution(width=1280, height=800),  # 16:10
    "FWXGA": Resolution(width=1366, height=768),  # ~16:9
}

CLICK_BUTTONS: dict[str, str | int] = {
    "left_click": 1,
    "right_click": 3,
    "middle_click": 2,
    "double_click": "--repeat 2 --delay 10 1",
    "triple_click": "--repeat 3 --delay 10 1",
}
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
MAX_HOLD_SECONDS = 100


class ScalingSource(StrEnum):
    COMPUTER = "computer"
    API = "api"


class ComputerToolOptions(TypedDict):
    display_height_px: int
    display_width_px: int
    display_number: int | None


def chunks(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def _quoted_keys(keys: str) -> str:
    """xdotool key names, each shell-quoted (the model's text never reaches a shell raw)."""
    return " ".join(shlex.quote(key) for key in keys.split())


class BaseComputerTool:
    """Drives the screen, keyboard and mouse of display `DISPLAY_NUM`."""

    name: Literal["computer"] = "computer"
    width: int
    height: int
    display_num: int | None

    _screenshot_delay = 2.0
    _scaling_enabled = True

    def __init__(self) -> None:
        super().__init__()
        self.width = int(os.getenv("WIDTH") or 0)
        self.height = int(os.getenv("HEIGHT") or 0)
        if not (self.width and self.height):
            raise ToolError("WIDTH and HEIGHT must be set to the display's size")
        display_num = os.getenv("DISPLAY_NUM")
        if display_num is not None:
            self.display_num = int(display_num)
            self._display_prefix = f"DISPLAY=:{self.display_num} "
        else:
            self.display_num = None
            self._display_prefix = ""
        self.xdotool = f"{self._display_prefix}xdotool"

    @property
    def options(self) -> ComputerToolOptions:
        width, height = self.scale_coordinates(
            ScalingSource.COMPUTER, self.width, self.height
        )
        return {
            "display_width_px": width,
            "display_height_px": height,
            "display_number": self.display_num,
        }

    async def __call__(
        self,
        *,
        action: Action_20241022,
        text: str | None = None,
        coordinate: Coordinate | None = None,
        start_coordinate: Coordinate | None = None,
        **kwargs: Any,
    ) -> ToolResult:
        if action in ("mouse_move", "left_click_drag"):
            if coordinate is None:
                raise ToolError(f"coordinate is required for {action}")
            if text is not None:
                raise ToolError(f"text is not accepted for {action}")
            x, y = self.validate_and_get_coordinates(coordinate)
            if action == "mouse_move":
                if await self._pointer_is_at(x, y):
                    # `mousemove --sync` to where the pointer already is waits
                    # for a motion event that never comes.
                    return await self.screenshot()
                return await self.shell(f"{self.xdotool} mousemove --sync {x} {y}")
            if start_coordinate is None:
                raise ToolError(f"start_coordinate is required for {action}")
            start_x, start_y = self.validate_and_get_coordinates(start_coordinate)
            return await self.shell(
                f"{self.xdotool} mousemove --sync {start_x} {start_y} mousedown 1 "
                f"mousemove --sync {x} {y} mouseup 1"
            )

        if action in ("key", "type"):
            if text is None:
                raise ToolError(f"text is required for {action}")
            if coordinate is not None:
                raise ToolError(f"coordinate is not accepted for {action}")
            if not isinstance(text, str):
                raise ToolError(f"{text!r} must be a string")
            if action == "key":
                return await self.shell(f"{self.xdotool} key -- {_quoted_keys(text)}")
            results = [
                await self.shell(
                    f"{self.xdotool} type --delay {TYPING_DELAY_MS} -- {shlex.quote(part)}",
                    take_screenshot=False,
                )
                for part in chunks(text, TYPING_GROUP_SIZE)
            ]
            screenshot = await self.screenshot()
            return ToolResult(
                output="".join(result.output or "" for result in results),
                error="".join(result.error or "" for result in results),
                base64_image=screenshot.base64_image,
            )

        if action in (
            "left_click",
            "right_click",
            "double_click",
            "middle_click",
            "screenshot",
            "cursor_position",
        ):
            if text is not None:
                raise ToolError(f"text is not accepted for {action}")
            if coordinate is not None:
                raise ToolError(f"coordinate is not accepted for {action}")
            if action == "screenshot":
                return await self.screenshot()
            if action == "cursor_position":
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
            return await self.shell(f"{self.xdotool} click {CLICK_BUTTONS[action]}")

        raise ToolError(f"Invalid action: {action}")

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
        if not isinstance(coordinate, list | tuple) or len(coordinate) != 2:
            raise ToolError(f"{coordinate} must be a tuple of length 2")
        if not all(isinstance(value, int) and value >= 0 for value in coordinate):
            raise ToolError(f"{coordinate} must be a tuple of non-negative ints")
        x, y = self.scale_coordinates(ScalingSource.API, coordinate[0], coordinate[1])
        if x >= self.width or y >= self.height:
            limit_x, limit_y = self.scale_coordinates(
                ScalingSource.COMPUTER, self.width, self.height
            )
            raise ToolError(
                f"Coordinates {coordinate[0]}, {coordinate[1]} are out of bounds: the "
                f"screen is {limit_x}x{limit_y}"
            )
        return x, y

    async def screenshot(self) -> ToolResult:
        """A PNG of the whole screen, scaled to the size the API sees."""
        png = await self._capture_png()
        if self._scaling_enabled:
            width, height = self.scale_coordinates(
                ScalingSource.COMPUTER, self.width, self.height
            )
            if (width, height) != (self.width, self.height):
                png = await asyncio.to_thread(_resize_png, png, width, height)
        return ToolResult(base64_image=base64.b64encode(png).decode())

    async def _capture_png(self) -> bytes:
        # Not the shared OUTPUT_DIR: a private per-user folder no one can plant in.
        output_dir = await asyncio.to_thread(private_directory, None, "screenshots")
        path = output_dir / f"screenshot_{uuid4().hex}.png"
        result = await self.shell(
            f"{self._display_prefix}scrot -p -o {path}", take_screenshot=False
        )
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ToolError(
                f"Failed to take screenshot: {result.error or 'scrot wrote nothing'}"
            ) from None
        finally:
            path.unlink(missing_ok=True)

    async def shell(self, command: str, take_screenshot: bool = True) -> ToolResult:
        """Run a command; then, after letting the screen settle, take a screenshot."""
        _, stdout, stderr = await run(command)
        base64_image = None
        if take_screenshot:
            await asyncio.sleep(self._screenshot_delay)
            base64_image = (await self.screenshot()).base64_image
        return ToolResult(output=stdout, error=stderr, base64_image=base64_image)

    def scale_coordinates(
        self, source: ScalingSource, x: int, y: int
    ) -> tuple[int, int]:
        """Map between screen pixels and the scaled space the API works in."""
        if not self._scaling_enabled:
            return x, y
        ratio = self.width / self.height
        target: Resolution | None = None
        for dimension in MAX_SCALING_TARGETS.values():
            # Aspect ratios are only roughly 16:9 and the like.
            if abs(dimension["width"] / dimension["height"] - ratio) < 0.02:
                if dimension["width"] < self.width:
                    target = dimension
                break
        if target is None:
            return x, y
        x_factor = target["width"] / self.width
        y_factor = target["height"] / self.height
        if source == ScalingSource.API:
            if x > self.width or y > self.height:
                raise ToolError(f"Coordinates {x}, {y} are out of bounds")
            return round(x / x_factor), round(y / y_factor)
        return round(x * x_factor), round(y * y_factor)


def _resize_png(png: bytes, width: int, height: int) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        resized = image.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        resized.save(out, format="PNG", optimize=True)
        return out.getvalue()


def _crop_png(
    png: bytes, box: tuple[int, int, int, int], max_size: tuple[int, int]
) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        region = image.crop(box)
        region.thumbnail(max_size, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        region.save(out, format="PNG", optimize=True)
        return out.getvalue()


class ComputerTool20241022(BaseComputerTool, BaseAnthropicTool):
    api_type: Literal["computer_20241022"] = "computer_20241022"

    def to_params(self) -> BetaToolUnionParam:
        return cast(
            BetaToolUnionParam,
            {"name": self.name, "type": self.api_type, **self.options},
        )


class ComputerTool20250124(BaseComputerTool, BaseAnthropicTool):
    api_type: Literal["computer_20250124"] = "computer_20250124"

    def to_params(self) -> BetaToolUnionParam:
        return cast(
            BetaToolUnionParam,
            {"name": self.name, "type": self.api_type, **self.options},
        )

    async def __call__(
        self,
        *,
        action: Action_20250124,
        text: str | None = None,
        coordinate: Coordinate | None = None,
        start_coordinate: Coordinate | None = None,
        scroll_direction: ScrollDirection | None = None,
        scroll_amount: int | None = None,
        duration: int | float | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> ToolResult:
        if action in ("left_mouse_down", "left_mouse_up"):
            if coordinate is not None:
                raise ToolError(f"coordinate is not accepted for {action=}.")
            verb = "mousedown" if action == "left_mouse_down" else "mouseup"
            return await self.shell(f"{self.xdotool} {verb} 1")

        if action == "scroll":
            if scroll_direction not in get_args(ScrollDirection):
                raise ToolError(
                    f"{scroll_direction=} must be 'up', 'down', 'left', or 'right'"
                )
            if not isinstance(scroll_amount, int) or scroll_amount < 0:
                raise ToolError(f"{scroll_amount=} must be a non-negative int")
            parts = [self.xdotool]
            if coordinate is not None:
                parts.extend(await self._move_part(coordinate))
            if text:
                parts.append(f"keydown {_quoted_keys(text)}")
            parts.append(
                f"click --repeat {scroll_amount} {SCROLL_BUTTONS[str(scroll_direction)]}"
            )
            if text:
                parts.append(f"keyup {_quoted_keys(text)}")
            return await self.shell(" ".join(parts))

        if action in ("hold_key", "wait"):
            if duration is None or not isinstance(duration, int | float):
                raise ToolError(f"{duration=} must be a number")
            if duration < 0:
                raise ToolError(f"{duration=} must be non-negative")
            if duration > MAX_HOLD_SECONDS:
                raise ToolError(f"{duration=} is too long.")
            if action == "wait":
                await asyncio.sleep(duration)
                return await self.screenshot()
            if text is None:
                raise ToolError(f"text is required for {action}")
            keys = _quoted_keys(text)
            return await self.shell(
                f"{self.xdotool} keydown {keys} sleep {duration} keyup {keys}"
            )

        if action in (
            "left_click",
            "right_click",
            "double_click",
            "triple_click",
            "middle_click",
        ):
            if text is not None:
                raise ToolError(f"text is not accepted for {action}")
            parts = [self.xdotool]
            if coordinate is not None:
                parts.extend(await self._move_part(coordinate))
            if key:
                parts.append(f"keydown {_quoted_keys(key)}")
            parts.append(f"click {CLICK_BUTTONS[action]}")
            if key:
                parts.append(f"keyup {_quoted_keys(key)}")
            return await self.shell(" ".join(parts))

        return await super().__call__(
            action=cast(Action_20241022, action),
            text=text,
            coordinate=coordinate,
            start_coordinate=start_coordinate,
            **kwargs,
        )


class ComputerTool20251124(ComputerTool20250124):
    api_type: Literal["computer_20251124"] = "computer_20251124"  # type: ignore[assignment]

    @property
    def options(self) -> ComputerToolOptions:
        return cast(ComputerToolOptions, {**super().options, "enable_zoom": True})

    async def __call__(
        self,
        *,
        action: Action_20251124,
        region: Any = None,
        **kwargs: Any,
    ) -> ToolResult:
        if action == "zoom":
            return await self.zoom(region)
        return await super().__call__(action=cast(Action_20250124, action), **kwargs)

    async def zoom(self, region: Any) -> ToolResult:
        """A region of the screen at full resolution (the model asks in API space)."""
        if not isinstance(region, list | tuple) or len(region) != 4:
            raise ToolError(
                f"{region=} must be a tuple of 4 coordinates (x0, y0, x1, y1)"
            )
        if not all(isinstance(value, int) and value >= 0 for value in region):
            raise ToolError(f"{region=} must contain non-negative integers")
        x0, y0 = self.scale_coordinates(ScalingSource.API, region[0], region[1])
        x1, y1 = self.scale_coordinates(ScalingSource.API, region[2], region[3])
        x1, y1 = min(x1, self.width), min(y1, self.height)
        if x1 <= x0 or y1 <= y0:
            raise ToolError(
                f"{region=} must have x1 > x0 and y1 > y0 inside the screen"
            )
        png = await self._capture_png()
        target = self.scale_coordinates(ScalingSource.COMPUTER, self.width, self.height)
        cropped = await asyncio.to_thread(_crop_png, png, (x0, y0, x1, y1), target)
        return ToolResult(base64_image=base64.b64encode(cropped).decode())
