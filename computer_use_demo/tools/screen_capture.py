"""The computer tool's one way to see the screen: frames and screenshots via mss.

Frames for settling are grabbed over XShm (a few milliseconds) and reduced to
one mean colour per 16x16-pixel cell; a screenshot is grabbed once with the
pointer, scaled and PNG-encoded in memory (no file, no decode). All X calls of
a display run on that display's own thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import mss
from PIL import Image

from .base import ToolError
from .screen import region_png, scaled_png

logger = logging.getLogger(__name__)

CELL_PX = 16  # a caret or a typed character touches at most 2x2 cells

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CellFrame:
    """A frame reduced to one mean colour per cell (4 bytes), row by row."""

    size: tuple[int, int]  # the screen's pixels
    cells: bytes


def cell_frame(size: tuple[int, int], bgrx: bytes | bytearray) -> CellFrame:
    """The frame's cells: the mean of each 16x16 box of the raw 32-bit pixels
    (channel order does not matter for telling frames apart; nothing is copied)."""
    image = Image.frombuffer("RGBX", size, bgrx, "raw", "RGBX", 0, 1)
    return CellFrame(size, image.reduce(CELL_PX).tobytes())


def changed_cells(before: CellFrame, after: CellFrame) -> int:
    """How many cells differ; every cell when the screen changed size."""
    if before.size != after.size or len(before.cells) != len(after.cells):
        return max(len(before.cells), len(after.cells)) // 4
    if before.cells == after.cells:
        return 0
    old, new = memoryview(before.cells).cast("I"), memoryview(after.cells).cast("I")
    return sum(1 for a, b in zip(old, new, strict=True) if a != b)


class ScreenCapture:
    """One X display's grabs. mss connects lazily on this display's thread and
    connects again once when a grab fails (the X server was restarted)."""

    def __init__(self, display: str | None) -> None:
        self.display = display
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"screen{display or ''}"
        )
        self._plain: Any = None  # frames without the pointer
        self._with_pointer: Any = None  # screenshots, as scrot -p took them

    async def frame(self) -> CellFrame:
        return await self._on_thread(lambda: cell_frame(*self._grab_raw(False)))

    def changed_cells(self, before: CellFrame, after: CellFrame) -> int:
        return changed_cells(before, after)

    async def screenshot(self, size: tuple[int, int]) -> bytes:
        """A PNG of the whole screen with the pointer, scaled to `size`."""
        return await self._on_thread(lambda: scaled_png(self._grab(pointer=True), size))

    async def region(self, box: Sequence[int], max_size: tuple[int, int]) -> bytes:
        return await self._on_thread(
            lambda: region_png(self._grab(pointer=True), box, max_size)
        )

    async def _on_thread(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    def _grab(self, pointer: bool) -> Image.Image:
        size, bgrx = self._grab_raw(pointer)
        return Image.frombuffer("RGB", size, bgrx, "raw", "BGRX", 0, 1)

    def _grab_raw(self, pointer: bool) -> tuple[tuple[int, int], bytearray]:
        try:
            return self._grab_once(pointer)
        except Exception as first:
            logger.info("screen grab failed (%s); connecting again", first)
            self._close()
            try:
                return self._grab_once(pointer)
            except Exception as error:
                self._close()
                raise ToolError(
                    f"Failed to take screenshot of display {self.display or '$DISPLAY'}: "
                    f"{error}"
                ) from error

    def _grab_once(self, pointer: bool) -> tuple[tuple[int, int], bytearray]:
        grabber = self._with_pointer if pointer else self._plain
        if grabber is None:
            grabber = mss.MSS(display=self.display, with_cursor=pointer)
            if pointer:
                self._with_pointer = grabber
            else:
                self._plain = grabber
        shot = grabber.grab(grabber.monitors[0])
        return (shot.width, shot.height), shot.bgra

    def _close(self) -> None:
        for grabber in (self._plain, self._with_pointer):
            if grabber is not None:
                try:
                    grabber.close()
                except Exception:  # already broken: nothing left to release
                    logger.debug("closing a broken screen grabber failed")
        self._plain = self._with_pointer = None


_captures: dict[str | None, ScreenCapture] = {}
_captures_lock = threading.Lock()


def capture_for(display: str | None) -> ScreenCapture:
    """The process's capture of `display` (":1"; None: $DISPLAY), shared by
    every tool instance so that X connections are not opened per conversation."""
    with _captures_lock:
        capture = _captures.get(display)
        if capture is None:
            capture = _captures[display] = ScreenCapture(display)
        return capture
