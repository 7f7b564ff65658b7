"""The computer tool's one way to see the screen: frames and screenshots via mss.

Frames for settling are grabbed over XShm (a few milliseconds) and compared
by 16x16-pixel cells (how many cells hold a changed pixel); a screenshot is
grabbed once with the pointer, scaled and PNG-encoded in memory (no file, no
decode). All X calls of
a display run on that display's own thread, never on the event loop; the PNG
encoding runs on a second one.
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
from PIL import Image, ImageChops

from .base import ToolError
from .screen import region_png, scaled_png

logger = logging.getLogger(__name__)

CELL_PX = 16  # a caret or a typed character touches at most 2x2 cells
# Any pixel that changed, per cell: after the difference is made grey, every
# non-zero level counts, so a browser's throbber (a few faint pixels in one
# cell) is seen. Only a change too faint to see is lost: one or two levels of
# 255 in one channel alone, the others unchanged.
_CHANGED = bytes([0] + [255] * 255)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CellFrame:
    """A frame's raw 32-bit pixels (4 bytes each, row by row), compared by
    16x16-pixel cells."""

    size: tuple[int, int]  # the screen's pixels
    pixels: bytes | bytearray

    @property
    def cell_count(self) -> int:
        width, height = self.size
        return -(-width // CELL_PX) * -(-height // CELL_PX)


def cell_frame(size: tuple[int, int], bgrx: bytes | bytearray) -> CellFrame:
    """A frame of the raw pixels as grabbed (channel order does not matter for
    telling frames apart; nothing is copied)."""
    return CellFrame(size, bgrx)


def changed_cells(before: CellFrame, after: CellFrame) -> int:
    """How many cells hold a pixel that differs; every cell when the screen
    changed size. Equal frames cost one memory compare; others a difference,
    thresholded and reduced to one value per cell, all in Pillow's C code."""
    if before.size != after.size or len(before.pixels) != len(after.pixels):
        return max(before.cell_count, after.cell_count)
    if before.pixels == after.pixels:
        return 0
    old = Image.frombuffer("RGBX", before.size, before.pixels, "raw", "RGBX", 0, 1)
    new = Image.frombuffer("RGBX", after.size, after.pixels, "raw", "RGBX", 0, 1)
    moved = ImageChops.difference(old, new).convert("L").point(_CHANGED)
    cells = moved.reduce(CELL_PX)
    return cells.width * cells.height - cells.histogram()[0]


class ScreenCapture:
    """One X display's grabs. mss connects lazily on this display's thread and
    connects again once when a grab fails (the X server was restarted)."""

    def __init__(self, display: str | None) -> None:
        self.display = display
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"screen{display or ''}"
        )
        self._encoder = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"png{display or ''}"
        )
        self._plain: Any = None  # frames without the pointer
        self._with_pointer: Any = None  # screenshots, as scrot -p took them

    async def frame(self) -> CellFrame:
        return await self._on_thread(lambda: cell_frame(*self._grab_raw(False)))

    def changed_cells(self, before: CellFrame, after: CellFrame) -> int:
        return changed_cells(before, after)

    async def screenshot(self, size: tuple[int, int]) -> bytes:
        """A PNG of the whole screen with the pointer, scaled to `size`: grabbed
        on the display's thread, scaled and encoded on another, so that frames
        can still be grabbed meanwhile."""
        image = await self._on_thread(lambda: self._grab(pointer=True))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._encoder, lambda: scaled_png(image, size)
        )

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
        return (shot.width, shot.height), shot.raw  # a fresh copy of the pixels

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
