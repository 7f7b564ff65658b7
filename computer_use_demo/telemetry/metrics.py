"""The process's instruments: token usage and operation duration as the GenAI
conventions name them, plus the limiter's waits, 429s and cost.

Imported only when telemetry is on. Recording never raises into the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.metrics import Counter, Histogram, Meter

from . import attributes as names

logger = logging.getLogger(__name__)

Attributes = Mapping[str, str | int]


@dataclass(frozen=True)
class Instruments:
    token_usage: Histogram
    operation_duration: Histogram
    limiter_wait: Histogram
    rate_limited: Counter
    cost: Counter

    @classmethod
    def create(cls, meter: Meter) -> Instruments:
        return cls(
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage",
                unit="{token}",
                description="Input and output tokens per API request.",
                explicit_bucket_boundaries_advisory=list(names.TOKEN_BUCKETS),
            ),
            operation_duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="API request time, from sending to the end of its stream.",
                explicit_bucket_boundaries_advisory=list(names.DURATION_BUCKETS),
            ),
            limiter_wait=meter.create_histogram(
                "computer_use.rate_limit.wait.duration",
                unit="s",
                description="Time a request waited for the token manager to admit it.",
                explicit_bucket_boundaries_advisory=list(names.WAIT_BUCKETS),
            ),
            rate_limited=meter.create_counter(
                "computer_use.api.rate_limited",
                unit="{response}",
                description="429 responses from the API.",
            ),
            cost=meter.create_counter(
                "computer_use.cost",
                unit="{USD}",
                description="Dollars the API responses cost, as the cost source priced them.",
            ),
        )

    def tokens(self, used: Mapping[str, int], common: Attributes) -> None:
        """One response's input (cached included) and output tokens."""
        for token_type, key in (
            ("input", names.INPUT_TOKENS),
            ("output", names.OUTPUT_TOKENS),
        ):
            if key in used:
                _safely(
                    self.token_usage.record,
                    used[key],
                    {**common, names.TOKEN_TYPE: token_type},
                )

    def duration(self, seconds: float, common: Attributes) -> None:
        _safely(self.operation_duration.record, seconds, common)

    def waited(self, seconds: float, common: Attributes) -> None:
        _safely(self.limiter_wait.record, seconds, common)

    def refused_429(self, common: Attributes) -> None:
        _safely(self.rate_limited.add, 1, common)

    def spent(self, dollars: float, common: Attributes) -> None:
        if dollars > 0:
            _safely(self.cost.add, dollars, common)


def _safely(record: object, value: float, attributes: Attributes) -> None:
    try:
        record(value, attributes=dict(attributes))  # type: ignore[operator]
    except Exception:  # a metric must never break a turn
        logger.debug("recording a metric failed", exc_info=True)
