"""Continuously refilled token buckets, the way the API meters an organisation.

Pure: `now` is always a parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Bucket:
    """`capacity` per `window` seconds, refilled continuously, starting full."""

    capacity: int
    window: float
    level: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.level < 0:
            self.level = float(self.capacity)

    @property
    def rate(self) -> float:
        return self.capacity / self.window

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(
                float(self.capacity), self.level + (now - self.updated) * self.rate
            )
            self.updated = now

    def seconds_until(self, amount: int, now: float) -> float:
        """0 if `amount` is available now, else how long until it will be."""
        self.refill(now)
        missing = amount - self.level
        return 0.0 if missing <= 1e-9 else missing / self.rate

    def take(self, amount: float, now: float) -> None:
        self.refill(now)
        self.level -= amount

    def give_back(self, amount: float, now: float) -> None:
        self.refill(now)
        self.level = min(float(self.capacity), self.level + amount)

    def remaining(self, now: float) -> int:
        self.refill(now)
        return max(0, math.floor(self.level))

    def seconds_until_full(self, now: float) -> float:
        self.refill(now)
        return (self.capacity - self.level) / self.rate


@dataclass
class OrganisationLimits:
    """The three buckets of one API key; None means unlimited."""

    requests: Bucket | None
    input_tokens: Bucket | None
    output_tokens: Bucket | None

    def buckets(self) -> dict[str, Bucket]:
        named = {
            "requests": self.requests,
            "input-tokens": self.input_tokens,
            "output-tokens": self.output_tokens,
        }
        return {name: bucket for name, bucket in named.items() if bucket is not None}

    def admit(self, input_tokens: int, max_tokens: int, now: float) -> float:
        """Charge a request if every bucket has room (0.0), else the wait in seconds."""
        needs = {
            "requests": 1,
            "input-tokens": input_tokens,
            "output-tokens": max_tokens,
        }
        wait = max(
            (
                bucket.seconds_until(needs[name], now)
                for name, bucket in self.buckets().items()
            ),
            default=0.0,
        )
        if wait > 0:
            return wait
        for name, bucket in self.buckets().items():
            bucket.take(needs[name], now)
        return 0.0

    def settle_output(self, max_tokens: int, output_tokens: int, now: float) -> None:
        """Output was pre-charged at max_tokens; give back what was not used."""
        if self.output_tokens is not None and output_tokens < max_tokens:
            self.output_tokens.give_back(max_tokens - output_tokens, now)
