"""When the screen is still: how long the computer tool waits after an action.

Pure: frames come from an injected source, time from an injected clock and the
pauses through an injected sleep; nothing here touches a display. Never waits
longer than `SettlePolicy.max_wait`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

FrameT = TypeVar("FrameT")


class FrameSource(Protocol[FrameT]):
    """Cheap frames of the screen (no pointer) and how many cells differ between two."""

    async def frame(self) -> FrameT: ...

    def changed_cells(self, before: FrameT, after: FrameT) -> int: ...


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
Prepare = Callable[[], object]


@dataclass(frozen=True, slots=True)
class SettlePolicy:
    """The settle parameters (the COMPUTER_SETTLE_* settings), in seconds and cells.

    Every time counts from the end of the action. The screen counts as still
    once no change larger than `ignore_cells` has been seen for `quiet`
    seconds. A change of at most `ignore_cells` cells (a blinking caret) is
    ignored unless it comes within `repeat_within` of the one before: that is
    a spinner's step (a caret blinks slower), and a spinner counts as stopped
    once it has made no step for `repeat_within` (a browser's throbber while a
    page loads keeps the wait going; an icon that swaps in two quick steps
    holds it only that long). As the effect a click waits for, a small change
    counts once it has lasted `blink_phase` (a caret's longest phase is about
    0.6 s).
    """

    min_wait: float = 0.05
    quiet: float = 0.2
    first_change: float = 2.0
    max_wait: float = 3.0
    poll: float = 0.03
    ignore_cells: int = 4
    repeat_within: float = 0.15
    blink_phase: float = 0.7

    def __post_init__(self) -> None:
        if not 0 <= self.min_wait <= self.max_wait:
            raise ValueError("settle: need 0 <= min_wait <= max_wait")
        if self.quiet < 0 or self.first_change < 0 or self.poll <= 0:
            raise ValueError("settle: quiet and first_change >= 0, poll > 0")


@dataclass(frozen=True, slots=True)
class Settled(Generic[FrameT]):
    """How the wait ended: `still` is False when `max_wait` cut it short (an
    animation) or no frame could be taken; `frame` is the last frame seen.
    `changed_at` (when the screen last came to differ from before the action)
    and `moved_at` (its last motion) count from the wait's start; None: never."""

    seconds: float
    still: bool
    changed: bool
    frames: int
    frame: FrameT | None = None
    changed_at: float | None = None
    moved_at: float | None = None
    prepared: bool = False  # `prepare` was called and no frame changed since


async def settle(
    source: FrameSource[FrameT],
    before: FrameT | None,
    *,
    policy: SettlePolicy,
    expect_change: bool,
    clock: Clock,
    sleep: Sleep,
    prepare: Prepare | None = None,
) -> Settled[FrameT]:
    """Watch the screen from now (the action has just finished) until it is still.

    `before` is the frame taken before the action. With `expect_change` (a
    click, a key), stillness only counts once the screen differs from `before`
    (by more than a caret, or by a caret-sized change that outlasts a blink),
    or once `first_change` seconds have passed without such a difference.
    A frame equal to the one before it is not compared with `before` again.

    `prepare` (the tool starts its screenshot) is called once the screen has
    not changed at all for half the quiet period with nothing else left to
    wait for, and again after every later change: the screenshot is then
    ready by the time the screen counts as still.
    """
    started = clock()
    # The first frame is compared with the screen before the action: a change
    # seen there is motion then (a frame that came late has seen no quiet).
    previous = before
    last_motion = started
    moved_at: float | None = None
    last_small: float | None = None
    last_step: float | None = None  # a spinner's: a small change soon after another
    small_since: float | None = None
    from_before = 0
    changed = False
    changed_at: float | None = None
    last_change = started  # any change, a caret's too
    prepared = False
    frames = 0
    while True:
        frame = await source.frame()
        frames += 1
        now = clock()
        cells = None if previous is None else source.changed_cells(previous, frame)
        if cells:
            last_change = now
            prepared = False
        if cells is not None and cells > policy.ignore_cells:
            last_motion = now
            moved_at = now - started
        elif cells:
            if last_small is not None and now - last_small < policy.repeat_within:
                last_step = now
                moved_at = now - started
            last_small = now
        if before is not None:
            if frames == 1:
                from_before = cells or 0
            elif cells != 0:
                from_before = source.changed_cells(before, frame)
            # Not latched: a flash that reverts (a button's press) is no effect.
            if 0 < from_before <= policy.ignore_cells:
                small_since = now if small_since is None else small_since
            else:
                small_since = None
            was_changed = changed
            changed = from_before > policy.ignore_cells or (
                small_since is not None and now - small_since >= policy.blink_phase
            )
            if changed and not was_changed:
                changed_at = now - started
        previous = frame
        elapsed = now - started
        if elapsed >= policy.max_wait:
            return Settled(
                elapsed, False, changed, frames, frame, changed_at, moved_at, False
            )
        waited_for_change = (
            changed
            or not expect_change
            or before is None
            or elapsed >= policy.first_change
        )
        spinning = last_step is not None and now - last_step < policy.repeat_within
        if (
            elapsed >= policy.min_wait
            and now - last_motion >= policy.quiet
            and not spinning
            and waited_for_change
        ):
            return Settled(
                elapsed, True, changed, frames, frame, changed_at, moved_at, prepared
            )
        if (
            prepare is not None
            and not prepared
            and waited_for_change
            and not spinning
            and now - last_change >= policy.quiet / 2
        ):
            prepare()
            prepared = True
        await sleep(max(0.0, min(policy.poll, policy.max_wait - elapsed)))
