"""The computer tool on a real Xvfb display, read back with xdotool and xterm."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from computer_use_demo.tools import (
    ComputerTool20241022,
    ComputerTool20250124,
    ComputerTool20251124,
    ToolCollection,
)
from computer_use_demo.tools.base import ToolError
from tests.plugins.xvfb import XvfbDisplay, run_on_display, start_xvfb
from tests.tools.desktop_scenes import TkScene

pytestmark = pytest.mark.desktop


def fast(tool_class: type[Any]) -> Any:
    """A tool that settles as configured, waiting at most 0.5 s for a first change
    (these tests read their results from files, not from the screen)."""
    tool = tool_class()
    tool.settle_policy = replace(tool.settle_policy, first_change=0.5)
    return tool


def png_size(base64_png: str | None) -> tuple[int, int]:
    assert base64_png, "a screenshot was expected"
    data = base64.b64decode(base64_png)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def file_text_when(path: Path, ending: str, seconds: float = 5.0) -> str:
    """The file's text once it ends with `ending` (xterm writes asynchronously)."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith(ending):
            break
        await asyncio.sleep(0.05)
    return text


@pytest.fixture
def xterm_writing_to(xvfb_display: XvfbDisplay, tmp_path: Path) -> Iterator[Path]:
    """An xterm on the display whose keystrokes go to a file via `cat`."""
    target = tmp_path / "typed.txt"
    env = {**os.environ, **xvfb_display.env}
    process = subprocess.Popen(
        ["xterm", "-geometry", "80x24+0+0", "-e", f"cat > {target}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_on_display(
        xvfb_display, "xdotool", "search", "--sync", "--onlyvisible", "--class", "xterm"
    )
    try:
        yield target
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_mouse_move_lands_where_asked(xvfb_display: XvfbDisplay) -> None:
    tool = fast(ComputerTool20250124)
    result = await tool(action="mouse_move", coordinate=[123, 321])
    assert png_size(result.base64_image) == (1024, 768)
    location = run_on_display(xvfb_display, "xdotool", "getmouselocation", "--shell")
    assert "X=123" in location and "Y=321" in location
    position = await tool(action="cursor_position")
    assert position.output == "X=123,Y=321"


async def test_typed_text_reaches_a_real_window(
    xvfb_display: XvfbDisplay, xterm_writing_to: Path
) -> None:
    tool = fast(ComputerTool20250124)
    await tool(action="mouse_move", coordinate=[100, 100])  # focus follows the pointer
    result = await tool(action="type", text="hello from claude 42\n")
    assert result.base64_image
    assert await file_text_when(xterm_writing_to, "\n") == "hello from claude 42\n"


async def test_key_presses_are_sent(
    xvfb_display: XvfbDisplay, xterm_writing_to: Path
) -> None:
    tool = fast(ComputerTool20250124)
    await tool(action="mouse_move", coordinate=[100, 100])
    await tool(action="type", text="abc")
    await tool(action="key", text="Return")
    assert await file_text_when(xterm_writing_to, "\n") == "abc\n"


async def test_screenshot_is_a_png_of_the_screen(xvfb_display: XvfbDisplay) -> None:
    result = await fast(ComputerTool20241022)(action="screenshot")
    assert png_size(result.base64_image) == (1024, 768)


async def test_large_screens_are_scaled_to_the_api_resolution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    display, process = start_xvfb(1920, 1080)
    try:
        for name, value in display.env.items():
            monkeypatch.setenv(name, value)
        tool = fast(ComputerTool20250124)
        assert tool.options["display_width_px"] == 1366
        result = await tool(action="screenshot")
        assert png_size(result.base64_image) == (1366, 768)
        await tool(action="mouse_move", coordinate=[100, 200])
        location = run_on_display(display, "xdotool", "getmouselocation", "--shell")
        assert "X=141" in location and "Y=281" in location
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_zoom_returns_the_region(xvfb_display: XvfbDisplay) -> None:
    tool = fast(ComputerTool20251124)
    assert tool.to_params()["enable_zoom"] is True
    result = await tool(action="zoom", region=[0, 0, 512, 384])
    assert png_size(result.base64_image) == (512, 384)
    with pytest.raises(ToolError, match="x1 > x0"):
        await tool(action="zoom", region=[100, 100, 50, 200])


async def test_bad_arguments_come_back_as_readable_errors(
    xvfb_display: XvfbDisplay,
) -> None:
    collection = ToolCollection(fast(ComputerTool20250124))
    off_screen = await collection.run(
        name="computer", tool_input={"action": "mouse_move", "coordinate": [5000, 10]}
    )
    assert off_screen.error and "out of bounds" in off_screen.error
    unknown = await collection.run(name="computer", tool_input={"action": "dance"})
    assert unknown.error == "Invalid action: dance"
    missing = await collection.run(name="computer", tool_input={"action": "type"})
    assert missing.error == "text is required for type"
    bad_scroll = await collection.run(
        name="computer",
        tool_input={
            "action": "scroll",
            "scroll_direction": "sideways",
            "scroll_amount": 1,
        },
    )
    assert bad_scroll.error and "scroll_direction" in bad_scroll.error


async def screen_now(tool: Any) -> bytes:
    """The screen as the tool would return it now, decoded to raw pixels."""
    result = await tool(action="screenshot")
    assert result.base64_image
    with Image.open(io.BytesIO(base64.b64decode(result.base64_image))) as image:
        return image.convert("RGB").tobytes()


def pixels(base64_png: str | None) -> bytes:
    assert base64_png
    with Image.open(io.BytesIO(base64.b64decode(base64_png))) as image:
        return image.convert("RGB").tobytes()


async def test_a_click_returns_the_screen_once_its_late_effect_is_drawn(
    xvfb_display: XvfbDisplay,
) -> None:
    app = TkScene(xvfb_display.env, "buttons")
    try:
        tool = ComputerTool20250124()
        x, y = app.places["fast"]
        await tool(action="mouse_move", coordinate=[x, y])
        started = time.monotonic()
        result = await tool(action="left_click")  # the label changes 300 ms later
        seconds = time.monotonic() - started
        await asyncio.sleep(1.0)
        assert pixels(result.base64_image) == await screen_now(tool)
        assert 0.3 < seconds < 1.5, "settled, not slept for the quickstart's 2 s"
        assert result.screen_wait and result.screen_wait.still
        assert 0.3 < result.screen_wait.seconds < 1.5
    finally:
        app.close()


async def test_an_endless_animation_returns_at_the_maximum(
    xvfb_display: XvfbDisplay,
) -> None:
    app = TkScene(xvfb_display.env, "animation")
    try:
        tool = ComputerTool20250124()
        tool.settle_policy = replace(tool.settle_policy, max_wait=2.0)
        result = await tool(action="mouse_move", coordinate=[5, 5])
        assert result.screen_wait and not result.screen_wait.still
        assert 2.0 <= result.screen_wait.seconds < 2.3
        assert result.screen_wait.describe().startswith("screen still changing")
    finally:
        app.close()
