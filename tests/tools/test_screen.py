"""Screen scaling as tables: points, sizes, regions and images, with no display
(computer_use_demo/tools/screen.py), and each tool version's table of actions."""

from __future__ import annotations

import io
from typing import Any, get_args

import pytest
from PIL import Image

from computer_use_demo.tools.base import ToolError
from computer_use_demo.tools.computer import (
    ACTIONS_20241022,
    ACTIONS_20250124,
    ACTIONS_20251124,
    Action_20241022,
    Action_20250124,
    Action_20251124,
)
from computer_use_demo.tools.screen import (
    ScalingSource,
    ScreenScaling,
    png_bytes,
    region_png,
    scaled_png,
    scaling_target,
)

API = ScalingSource.API
COMPUTER = ScalingSource.COMPUTER


@pytest.mark.parametrize(
    ("screen", "target"),
    [
        ((1920, 1080), (1366, 768)),  # ~16:9
        ((2560, 1600), (1280, 800)),  # 16:10
        ((2048, 1536), (1024, 768)),  # 4:3
        ((1366, 768), None),  # already the target
        ((1024, 768), None),  # smaller than nothing
        ((4096, 2160), None),  # no target of that aspect ratio
    ],
)
def test_large_screens_have_a_scaling_target(
    screen: tuple[int, int], target: tuple[int, int] | None
) -> None:
    found = scaling_target(*screen)
    assert (found and (found["width"], found["height"])) == target


@pytest.mark.parametrize(
    ("screen", "enabled", "source", "point", "expected"),
    [
        ((1920, 1080), True, API, (1366, 768), (1920, 1080)),
        ((1920, 1080), True, COMPUTER, (1920, 1080), (1366, 768)),
        ((1920, 1080), True, API, (100, 200), (141, 281)),
        ((1920, 1200), True, API, (1280, 800), (1920, 1200)),
        ((1920, 1200), True, COMPUTER, (960, 600), (640, 400)),
        ((1920, 1080), False, API, (1366, 768), (1366, 768)),
        ((1024, 768), True, API, (1000, 700), (1000, 700)),
        ((4096, 2160), True, COMPUTER, (4096, 2160), (4096, 2160)),
    ],
)
def test_points_map_between_the_api_and_the_screen(
    screen: tuple[int, int],
    enabled: bool,
    source: ScalingSource,
    point: tuple[int, int],
    expected: tuple[int, int],
) -> None:
    assert ScreenScaling(*screen, enabled=enabled).scale(source, *point) == expected


@pytest.mark.parametrize(
    ("screen", "api_size"),
    [((1920, 1080), (1366, 768)), ((1280, 800), (1280, 800)), ((800, 600), (800, 600))],
)
def test_the_api_sees_the_scaled_size(
    screen: tuple[int, int], api_size: tuple[int, int]
) -> None:
    assert ScreenScaling(*screen).api_size == api_size


@pytest.mark.parametrize(
    ("coordinate", "expected"),
    [
        ([0, 0], (0, 0)),
        ((1365, 767), (1919, 1079)),
        ([683, 384], (960, 540)),
    ],
)
def test_model_coordinates_become_screen_pixels(
    coordinate: Any, expected: tuple[int, int]
) -> None:
    assert ScreenScaling(1920, 1080).screen_point(coordinate) == expected


@pytest.mark.parametrize(
    ("coordinate", "problem"),
    [
        ([1, 2, 3], "tuple of length 2"),
        ("10,20", "tuple of length 2"),
        ([-1, 5], "non-negative ints"),
        ([1.5, 5], "non-negative ints"),
        ([1366, 10], "out of bounds: the screen is 1366x768"),
        ([2000, 10], "out of bounds"),
    ],
)
def test_bad_coordinates_are_refused_with_a_reason(
    coordinate: Any, problem: str
) -> None:
    with pytest.raises(ToolError, match=problem):
        ScreenScaling(1920, 1080).screen_point(coordinate)


@pytest.mark.parametrize(
    ("screen", "region", "box"),
    [
        ((1024, 768), [0, 0, 512, 384], (0, 0, 512, 384)),
        ((1920, 1080), [0, 0, 683, 384], (0, 0, 960, 540)),
        ((1024, 768), [1000, 700, 1024, 768], (1000, 700, 1024, 768)),
    ],
)
def test_zoom_regions_become_screen_boxes(
    screen: tuple[int, int], region: Any, box: tuple[int, int, int, int]
) -> None:
    assert ScreenScaling(*screen).screen_region(region) == box


@pytest.mark.parametrize(
    ("region", "problem"),
    [
        ([0, 0, 10], "tuple of 4 coordinates"),
        ([0, 0, -1, 10], "non-negative integers"),
        ([100, 100, 50, 200], "x1 > x0"),
        ([10, 10, 10, 20], "x1 > x0"),
    ],
)
def test_bad_zoom_regions_are_refused(region: Any, problem: str) -> None:
    with pytest.raises(ToolError, match=problem):
        ScreenScaling(1024, 768).screen_region(region)


def screen(width: int, height: int) -> Image.Image:
    return Image.new("RGB", (width, height), "white")


def size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.mark.parametrize(
    ("source", "target"), [((1920, 1080), (1366, 768)), ((100, 50), (200, 100))]
)
def test_scaling_gives_exactly_the_size_asked(
    source: tuple[int, int], target: tuple[int, int]
) -> None:
    assert size(scaled_png(screen(*source), target)) == target


@pytest.mark.parametrize(
    ("box", "max_size", "expected"),
    [
        ((0, 0, 512, 384), (1024, 768), (512, 384)),  # small regions stay sharp
        ((0, 0, 1920, 1080), (1366, 768), (1365, 768)),  # large ones fit the API
        ((100, 100, 300, 200), (50, 50), (50, 25)),  # aspect ratio kept
    ],
)
def test_crop_keeps_the_region_within_a_size(
    box: tuple[int, int, int, int], max_size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert size(region_png(screen(1920, 1080), box, max_size)) == expected


def test_png_encoding_is_lossless() -> None:
    image = Image.effect_noise((64, 48), 80).convert("RGB")
    with Image.open(io.BytesIO(png_bytes(image))) as decoded:
        assert decoded.format == "PNG"
        assert decoded.tobytes() == image.tobytes()


@pytest.mark.parametrize(
    ("table", "actions"),
    [
        (ACTIONS_20241022, Action_20241022),
        (ACTIONS_20250124, Action_20250124),
        (ACTIONS_20251124, Action_20251124),
    ],
)
def test_each_version_handles_exactly_its_actions(table: Any, actions: Any) -> None:
    def names(literal: Any) -> set[str]:
        found: set[str] = set()
        for arg in get_args(literal):
            found |= names(arg) if get_args(arg) else {arg}
        return found

    assert set(table) == names(actions)
