"""The settle logic against scripted screens: a fake frame source and a fake
clock, no display and no real sleeping (computer_use_demo/tools/settle.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from computer_use_demo.settings import ScreenSettle, Settings, settle_from_env
from computer_use_demo.tools import ComputerTool20250124
from computer_use_demo.tools.screen_capture import CellFrame, cell_frame, changed_cells
from computer_use_demo.tools.settle import Settled, SettlePolicy, settle
from tests.plugins.screen import SCREEN_ENV

Frame = tuple[int, ...]
CELLS = 100  # a screen of 100 cells
POLICY = SettlePolicy()  # the defaults: min 0.05, quiet 0.2, first change 2, max 3
# A change is seen at the next frame and stillness at the first frame after the
# quiet period: each up to one frame (a poll and a 3 ms grab) late.
SEEN = 2 * (POLICY.poll + 0.003) + 0.005


def still(value: int = 0) -> Frame:
    return (value,) * CELLS


def with_cells(base: Frame, changed: range | list[int], value: int) -> Frame:
    cells = list(base)
    for index in changed:
        cells[index] = value
    return tuple(cells)


class ScriptedScreen:
    """A screen whose frame at time t is `script(t)`; grabbing costs 3 ms."""

    def __init__(self, script: Callable[[float], Frame]) -> None:
        self.script = script
        self.now = 0.0
        self.grabs = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    async def frame(self) -> Frame:
        self.now += 0.003
        self.grabs += 1
        return self.script(self.now)

    def changed_cells(self, before: Frame, after: Frame) -> int:
        return sum(1 for old, new in zip(before, after, strict=True) if old != new)


def run_settle(
    script: Callable[[float], Frame],
    *,
    expect_change: bool,
    action_seconds: float = 0.0,
    policy: SettlePolicy = POLICY,
    before: Frame | None = None,
) -> Settled[Frame]:
    """Settle after an action that took `action_seconds` from t=0; the result's
    seconds count from the action's end."""
    screen = ScriptedScreen(script)
    first = script(0.0) if before is None else before
    screen.now = action_seconds
    return asyncio.run(
        settle(
            screen,
            first,
            policy=policy,
            expect_change=expect_change,
            clock=screen.clock,
            sleep=screen.sleep,
        )
    )


def test_a_still_screen_returns_after_the_quiet_period() -> None:
    result = run_settle(lambda t: still(), expect_change=False)
    assert result.still and not result.changed
    assert POLICY.quiet <= result.seconds < POLICY.quiet + POLICY.poll + 0.01


def test_a_menu_that_opens_at_once_returns_a_quiet_period_later() -> None:
    menu = with_cells(still(), range(10, 30), 7)
    result = run_settle(lambda t: menu if t >= 0.08 else still(), expect_change=True)
    assert result.still and result.changed and result.frame == menu
    assert 0.08 + POLICY.quiet <= result.seconds < 0.08 + POLICY.quiet + SEEN


def test_a_window_drawing_in_steps_is_returned_when_the_last_step_is_done() -> None:
    def script(t: float) -> Frame:
        steps = min(int(t / 0.1), 5)  # one more part every 100 ms until 0.5 s
        return with_cells(still(), range(steps * 10), 3)

    result = run_settle(script, expect_change=True)
    assert result.frame == script(1.0)
    assert 0.5 + POLICY.quiet <= result.seconds < 0.5 + POLICY.quiet + SEEN


def test_an_expected_change_that_comes_late_is_waited_for() -> None:
    label = with_cells(still(), range(40, 50), 9)
    result = run_settle(lambda t: label if t >= 1.5 else still(), expect_change=True)
    assert result.still and result.changed and result.frame == label
    assert 1.5 + POLICY.quiet <= result.seconds < 1.5 + POLICY.quiet + SEEN


def test_without_an_expected_change_a_late_one_is_not_waited_for() -> None:
    label = with_cells(still(), range(40, 50), 9)
    result = run_settle(lambda t: label if t >= 1.5 else still(), expect_change=False)
    assert result.seconds < 0.35 and result.frame == still()


def test_an_expected_change_that_never_comes_ends_at_the_first_change_limit() -> None:
    result = run_settle(lambda t: still(), expect_change=True)
    assert result.still and not result.changed
    assert POLICY.first_change <= result.seconds < POLICY.first_change + 0.05


def test_an_endless_animation_returns_at_the_maximum() -> None:
    def script(t: float) -> Frame:
        frame = int(t / 0.016)  # 60 frames a second over 30 cells
        return with_cells(still(), range(30), frame % 250)

    result = run_settle(script, expect_change=True)
    assert not result.still
    assert POLICY.max_wait <= result.seconds < POLICY.max_wait + 0.01


def test_a_blinking_caret_does_not_keep_the_screen_moving() -> None:
    def script(t: float) -> Frame:
        on = int(t / 0.5) % 2 == 0  # on and off every 500 ms, 2 cells
        return with_cells(still(), [55, 56], 255 if on else 0)

    result = run_settle(script, expect_change=False, action_seconds=0.45)
    assert result.still and result.seconds < POLICY.quiet + 0.05


def test_a_caret_blink_is_not_the_change_a_click_waits_for() -> None:
    def script(t: float) -> Frame:
        on = int(t / 0.5) % 2 == 0
        label = 9 if t >= 1.2 else 0
        return with_cells(
            with_cells(still(), [55, 56], 255 if on else 0), range(10), label
        )

    result = run_settle(script, expect_change=True)
    assert result.changed and result.frame is not None and result.frame[0] == 9
    assert 1.2 + POLICY.quiet <= result.seconds < 1.2 + POLICY.quiet + SEEN


def test_a_small_spinner_is_motion_until_it_stops() -> None:
    def script(t: float) -> Frame:
        if t >= 0.8:  # the page has loaded: spinner gone, content drawn
            return with_cells(still(), range(20, 60), 4)
        return with_cells(still(), [0, 1], int(t / 0.03) % 200)

    result = run_settle(script, expect_change=True)
    assert result.frame == script(1.0)
    assert 0.8 + POLICY.quiet <= result.seconds < 0.8 + POLICY.quiet + SEEN


def test_an_icon_that_swaps_in_two_steps_holds_the_wait_only_briefly() -> None:
    page = with_cells(still(), range(20, 60), 4)

    def script(t: float) -> Frame:  # a page, then its stop button turns to reload
        if t < 0.1:
            return still()
        icon = 0 if t < 0.2 else (1 if t < 0.24 else 2)
        return with_cells(page, [90, 91], icon)

    result = run_settle(script, expect_change=True)
    assert result.frame == script(1.0)
    assert result.moved_at is not None and 0.24 <= result.moved_at < 0.24 + 0.04
    swapped = 0.24 + POLICY.repeat_within
    assert max(swapped, 0.1 + POLICY.quiet) <= result.seconds < 0.24 + POLICY.quiet


def test_the_wait_reports_when_the_effect_came_and_the_last_motion() -> None:
    def script(t: float) -> Frame:  # a menu at 0.2 s, drawn in steps until 0.4 s
        if t < 0.2:
            return still()
        return with_cells(still(), range(10 + 5 * int((min(t, 0.4) - 0.2) / 0.05)), 7)

    result = run_settle(script, expect_change=True)
    assert result.changed_at is not None and 0.2 <= result.changed_at < 0.24
    assert result.moved_at is not None and 0.4 <= result.moved_at < 0.44
    idle = run_settle(lambda t: still(), expect_change=False)
    assert idle.changed_at is None and idle.moved_at is None


class CountingScreen(ScriptedScreen):
    """Counts how often a frame is compared with the frame from before the action."""

    def __init__(self, script: Callable[[float], Frame], before: Frame) -> None:
        super().__init__(script)
        self.before = before
        self.against_before = 0

    def changed_cells(self, before: Frame, after: Frame) -> int:
        self.against_before += before is self.before
        return super().changed_cells(before, after)


def test_a_frame_equal_to_the_last_one_is_not_compared_with_before_again() -> None:
    before, shown, menu = still(), still(), with_cells(still(), range(10, 30), 7)
    screen = CountingScreen(lambda t: menu if t >= 0.1 else shown, before)
    result = asyncio.run(
        settle(
            screen,
            before,
            policy=POLICY,
            expect_change=True,
            clock=screen.clock,
            sleep=screen.sleep,
        )
    )
    assert result.still and result.changed and result.frames > 8
    assert screen.against_before == 2  # the first frame, and the menu's


def settle_preparing(
    script: Callable[[float], Frame], *, expect_change: bool = True
) -> tuple[Settled[Frame], list[float]]:
    """Settle from t=0 and the times `prepare` (the early screenshot) was called."""
    screen = ScriptedScreen(script)
    calls: list[float] = []
    result = asyncio.run(
        settle(
            screen,
            script(0.0),
            policy=POLICY,
            expect_change=expect_change,
            clock=screen.clock,
            sleep=screen.sleep,
            prepare=lambda: calls.append(screen.now),
        )
    )
    return result, calls


def test_the_screenshot_is_started_halfway_through_the_quiet_period() -> None:
    menu = with_cells(still(), range(10, 30), 7)
    result, calls = settle_preparing(lambda t: menu if t >= 0.08 else still())
    assert result.still and result.prepared and len(calls) == 1
    assert 0.08 + POLICY.quiet / 2 <= calls[0] < 0.08 + POLICY.quiet / 2 + SEEN
    assert calls[0] < result.seconds


def test_a_change_after_the_early_screenshot_starts_another() -> None:
    def script(t: float) -> Frame:  # a window, then its content 0.2 s later
        cells = 0 if t < 0.05 else (10 if t < 0.25 else 30)
        return with_cells(still(), range(cells), 5)

    result, calls = settle_preparing(script)
    assert result.prepared and len(calls) == 2
    assert calls[0] < 0.25 <= 0.25 + POLICY.quiet / 2 <= calls[1] < result.seconds


def test_a_caret_blink_after_the_early_screenshot_makes_it_stale() -> None:
    def script(t: float) -> Frame:  # a caret turns off between the two
        return with_cells(still(), [55], 0 if t >= 0.15 else 255)

    result, calls = settle_preparing(script, expect_change=False)
    assert len(calls) == 1 and calls[0] < 0.15
    assert result.still and not result.prepared  # a fresh screenshot is taken


def test_nothing_is_prepared_while_a_click_waits_for_its_effect() -> None:
    label = with_cells(still(), range(40, 50), 9)
    result, calls = settle_preparing(lambda t: label if t >= 1.0 else still())
    assert result.prepared and calls and min(calls) >= 1.0 + POLICY.quiet / 2


def test_an_endless_animation_is_never_prepared() -> None:
    def script(t: float) -> Frame:
        return with_cells(still(), range(30), int(t / 0.016) % 250)

    result, calls = settle_preparing(script)
    assert not result.still and not result.prepared and calls == []


def test_a_press_that_flashes_and_reverts_is_not_the_effect() -> None:
    pressed = with_cells(still(), range(40, 50), 1)
    label = with_cells(still(), range(40, 50), 9)

    def script(t: float) -> Frame:
        if 0.002 < t < 0.04:
            return pressed  # the button's relief during the click
        return label if t >= 1.0 else still()

    result = run_settle(script, expect_change=True, before=still())
    assert result.frame == label and result.seconds >= 1.0 + POLICY.quiet


def test_the_minimum_wait_holds_even_on_a_still_screen() -> None:
    policy = SettlePolicy(min_wait=0.4, quiet=0.0)
    result = run_settle(lambda t: still(), expect_change=False, policy=policy)
    assert 0.4 <= result.seconds < 0.45


def test_motion_that_outlasts_the_action_is_waited_out() -> None:
    def script(
        t: float,
    ) -> Frame:  # a smooth scroll until 0.8 s; the action ends at 0.5
        return with_cells(still(), range(60), min(int(t / 0.016), 50))

    result = run_settle(script, expect_change=True, action_seconds=0.5)
    assert result.frame == script(2.0)
    assert 0.3 + POLICY.quiet <= result.seconds < 0.3 + POLICY.quiet + SEEN


def test_a_small_change_that_lasts_is_the_effect_a_click_waits_for() -> None:
    digit = with_cells(still(), [70, 71], 5)  # a counter's digit, 300 ms later
    result = run_settle(lambda t: digit if t >= 0.3 else still(), expect_change=True)
    assert result.changed and result.frame == digit
    assert 0.3 + POLICY.blink_phase <= result.seconds < 0.3 + POLICY.blink_phase + SEEN


class StalledScreen(ScriptedScreen):
    """A loaded machine: the first grab after the action takes 0.3 s."""

    async def frame(self) -> Frame:
        if not self.grabs:
            self.now += 0.3
        return await super().frame()


def test_a_first_frame_that_comes_late_has_not_seen_the_screen_still() -> None:
    def script(t: float) -> Frame:  # a window that closes in steps until 0.45 s
        return with_cells(still(), range(60 - 10 * min(int(t / 0.08), 6)), 2)

    screen = StalledScreen(script)
    result = asyncio.run(
        settle(
            screen,
            script(0.0),
            policy=POLICY,
            expect_change=True,
            clock=screen.clock,
            sleep=screen.sleep,
        )
    )
    assert result.frame == still() and result.frames > 2
    assert 0.48 + POLICY.quiet <= result.seconds < 0.48 + POLICY.quiet + SEEN


def test_without_a_frame_from_before_a_click_does_not_wait_for_a_change() -> None:
    screen = ScriptedScreen(lambda t: still())
    result = asyncio.run(
        settle(
            screen,
            None,
            policy=POLICY,
            expect_change=True,
            clock=screen.clock,
            sleep=screen.sleep,
        )
    )
    assert result.still and result.seconds < POLICY.quiet + 0.05


def test_polling_stops_at_the_maximum_even_with_a_long_poll() -> None:
    policy = SettlePolicy(poll=5.0, quiet=10.0, max_wait=2.0)
    result = run_settle(lambda t: still(), expect_change=False, policy=policy)
    assert 2.0 <= result.seconds < 2.01 and not result.still


@pytest.mark.parametrize(
    "fields",
    [{"min_wait": 3.0, "max_wait": 2.0}, {"poll": 0.0}, {"quiet": -1.0}],
)
def test_an_impossible_policy_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SettlePolicy(**fields)


class ImageScreen(ScriptedScreen):
    """A scripted screen of real cell frames, compared as the tool compares them."""

    def __init__(self, script: Callable[[float], Any]) -> None:
        super().__init__(script)

    def changed_cells(self, before: Any, after: Any) -> int:
        return changed_cells(before, after)


def frame_of(image: Image.Image) -> CellFrame:
    return cell_frame(image.size, image.convert("RGBX").tobytes())


def test_a_caret_touches_at_most_the_ignored_cells() -> None:
    screen = Image.new("RGB", (320, 240), "white")
    with_caret = screen.copy()
    ImageDraw.Draw(with_caret).rectangle((103, 90, 104, 106), fill="black")
    with_block = screen.copy()
    ImageDraw.Draw(with_block).rectangle((60, 40, 66, 53), fill="black")
    for changed in (with_caret, with_block):
        cells = changed_cells(frame_of(screen), frame_of(changed))
        assert 1 <= cells <= POLICY.ignore_cells


def test_a_few_faint_pixels_change_their_cell() -> None:
    """A throbber's step: 20 pixels, 6 levels lighter, in one 16x16 cell (their
    cell's mean colour moves by less than one level)."""
    screen = Image.new("RGB", (320, 240), (200, 200, 200))
    step = screen.copy()
    ImageDraw.Draw(step).rectangle((66, 57, 70, 60), fill=(206, 206, 206))
    assert changed_cells(frame_of(screen), frame_of(step)) == 1
    green = screen.copy()
    green.putpixel((300, 200), (200, 201, 200))  # one level of green, one pixel
    assert changed_cells(frame_of(screen), frame_of(green)) == 1


def test_a_throbbers_faint_steps_keep_a_page_load_waiting() -> None:
    """Real cell frames: a tab's label changes at once, then its throbber steps
    every 60 ms by a few faint pixels until the page comes at 0.9 s."""
    blank = Image.new("RGB", (320, 240), (200, 200, 200))
    loading = blank.copy()
    ImageDraw.Draw(loading).rectangle((20, 4, 120, 14), fill=(40, 40, 40))
    page = loading.copy()
    ImageDraw.Draw(page).rectangle((0, 40, 319, 239), fill="white")
    steps = []
    for step in range(4):
        image = loading.copy()
        ImageDraw.Draw(image).rectangle(
            (4 + step, 6, 6 + step, 9), fill=(206, 206, 206)
        )
        steps.append(frame_of(image))
    loaded, first = frame_of(page), frame_of(blank)

    def script(t: float) -> CellFrame:
        if t >= 0.9:
            return loaded
        return steps[int(t / 0.06) % 4] if t >= 0.05 else first

    screen = ImageScreen(script)
    result = asyncio.run(
        settle(
            screen,
            first,
            policy=POLICY,
            expect_change=True,
            clock=screen.clock,
            sleep=screen.sleep,
        )
    )
    assert result.frame is loaded
    assert 0.9 + POLICY.quiet <= result.seconds < 0.9 + POLICY.quiet + SEEN


def test_a_new_window_changes_many_cells() -> None:
    screen = Image.new("RGB", (320, 240), "white")
    window = screen.copy()
    ImageDraw.Draw(window).rectangle((40, 40, 200, 160), fill="grey")
    assert changed_cells(frame_of(screen), frame_of(window)) > 50
    assert changed_cells(frame_of(screen), frame_of(screen.copy())) == 0


def test_a_screen_of_another_size_differs_everywhere() -> None:
    small = frame_of(Image.new("RGB", (160, 160), "white"))
    large = frame_of(Image.new("RGB", (320, 160), "white"))
    assert changed_cells(small, large) == 200


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ScreenSettle(0.05, 0.2, 2.0, 3.0)),
        (
            {
                "COMPUTER_SETTLE_MIN_S": "0",
                "COMPUTER_SETTLE_QUIET_S": "0.5",
                "COMPUTER_SETTLE_FIRST_CHANGE_S": "1",
                "COMPUTER_SETTLE_MAX_S": "6",
            },
            ScreenSettle(0.0, 0.5, 1.0, 6.0),
        ),
        ({"COMPUTER_SETTLE_MAX_S": "1"}, ScreenSettle(max_wait=2.0)),  # 2 s floor
        ({"COMPUTER_SETTLE_QUIET_S": "soon"}, ScreenSettle()),
        ({"COMPUTER_SETTLE_MIN_S": "-1"}, ScreenSettle()),
    ],
)
def test_the_settings_give_the_settle_parameters(
    environ: dict[str, str], expected: ScreenSettle
) -> None:
    assert settle_from_env(environ) == expected
    assert Settings.from_env(environ).settle == expected


def test_the_tool_settles_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SCREEN_ENV, "COMPUTER_SETTLE_QUIET_S": "0.6"}.items():
        monkeypatch.setenv(name, value)
    tool = ComputerTool20250124()
    assert tool.settle_policy.quiet == 0.6 and tool._screenshot_delay is None


def test_the_readme_documents_the_settle_settings() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("## Environment variables", 1)[1].split("\n\n", 2)[1]
    for name in ("MIN_S", "QUIET_S", "FIRST_CHANGE_S", "MAX_S"):
        assert f"`COMPUTER_SETTLE_{name}`" in table
