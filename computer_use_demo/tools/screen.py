"""Screen scaling for the computer tool: the API's space and the screen's pixels.

Pure: points, sizes and regions are mapped with arithmetic alone; images are
resized, cropped and encoded in memory. No display, no subprocess, no file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

from PIL import Image

from .base import ToolError


class Resolution(TypedDict):
    width: int
    height: int


# Larger screenshots cost more tokens and are scaled down to one of these.
MAX_SCALING_TARGETS: dict[str, Resolution] = {
    "XGA": Resolution(width=1024, height=768),  # 4:3
    "WXGA": Resolution(width=1280, height=800),  # 16:10
    "FWXGA": Resolution(width=1366, height=768),  # ~16:9
}
ASPECT_TOLERANCE = 0.02  # aspect ratios are only roughly 16:9 and the like


class ScalingSource(StrEnum):
    COMPUTER = "computer"
    API = "api"


def scaling_target(width: int, height: int) -> Resolution | None:
    """The resolution a `width` x `height` screen is shown to the API at, or None
    when it is shown as it is (no target of its aspect ratio is smaller)."""
    ratio = width / height
    for target in MAX_SCALING_TARGETS.values():
        if abs(target["width"] / target["height"] - ratio) < ASPECT_TOLERANCE:
            return target if target["width"] < width else None
    return None


@dataclass(frozen=True)
class ScreenScaling:
    """One screen's mapping between screen pixels and the API's scaled space."""

    width: int
    height: int
    enabled: bool = True

    def scale(self, source: ScalingSource, x: int, y: int) -> tuple[int, int]:
        """A point from `source`'s space in the other one (API -> screen or back)."""
        target = scaling_target(self.width, self.height) if self.enabled else None
        if target is None:
            return x, y
        x_factor = target["width"] / self.width
        y_factor = target["height"] / self.height
        if source == ScalingSource.API:
            if x > self.width or y > self.height:
                raise ToolError(f"Coordinates {x}, {y} are out of bounds")
            return round(x / x_factor), round(y / y_factor)
        return round(x * x_factor), round(y * y_factor)

    @property
    def api_size(self) -> tuple[int, int]:
        """The screen's size as the API sees it (and screenshots are sent)."""
        return self.scale(ScalingSource.COMPUTER, self.width, self.height)

    def screen_point(self, coordinate: Any) -> tuple[int, int]:
        """Screen pixels for the model's coordinate; off-screen ones are refused."""
        if not isinstance(coordinate, list | tuple) or len(coordinate) != 2:
            raise ToolError(f"{coordinate} must be a tuple of length 2")
        if not all(isinstance(value, int) and value >= 0 for value in coordinate):
            raise ToolError(f"{coordinate} must be a tuple of non-negative ints")
        x, y = self.scale(ScalingSource.API, coordinate[0], coordinate[1])
        if x >= self.width or y >= self.height:
            limit_x, limit_y = self.api_size
            raise ToolError(
                f"Coordinates {coordinate[0]}, {coordinate[1]} are out of bounds: the "
                f"screen is {limit_x}x{limit_y}"
            )
        return x, y

    def screen_region(self, region: Any) -> tuple[int, int, int, int]:
        """The screen box (x0, y0, x1, y1) of the model's zoom region, clipped to
        the screen; an empty or malformed region is refused."""
        if not isinstance(region, list | tuple) or len(region) != 4:
            raise ToolError(
                f"{region=} must be a tuple of 4 coordinates (x0, y0, x1, y1)"
            )
        if not all(isinstance(value, int) and value >= 0 for value in region):
            raise ToolError(f"{region=} must contain non-negative integers")
        x0, y0 = self.scale(ScalingSource.API, region[0], region[1])
        x1, y1 = self.scale(ScalingSource.API, region[2], region[3])
        x1, y1 = min(x1, self.width), min(y1, self.height)
        if x1 <= x0 or y1 <= y0:
            raise ToolError(
                f"{region=} must have x1 > x0 and y1 > y0 inside the screen"
            )
        return x0, y0, x1, y1


# zlib level 3 without `optimize`: a scaled screenshot in ~15 ms, lossless, and
# about as small as level 6 on desktop content (`optimize` costs 5-100x more).
PNG_COMPRESS_LEVEL = 3


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def scaled_png(image: Image.Image, size: tuple[int, int]) -> bytes:
    """The screenshot as the API sees it: resized to `size` if it is not that, PNG."""
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return png_bytes(image)


def region_png(
    image: Image.Image, box: Sequence[int], max_size: tuple[int, int]
) -> bytes:
    """The screen's `box` (x0, y0, x1, y1), shrunk to fit `max_size` if larger."""
    x0, y0, x1, y1 = box
    region = image.crop((x0, y0, x1, y1))
    region.thumbnail(max_size, Image.Resampling.LANCZOS)
    return png_bytes(region)
