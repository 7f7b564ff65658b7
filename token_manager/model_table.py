"""The one table of Claude models both packages read: ids in every provider's
spelling, rate-limit pool, output ceiling, context window, the shortest prefix
the API caches, and prices.

The app (`computer_use_demo.models`) adds only what the UI and the tools need
per family (tool version, thinking modes, context edits); the limiter reads
pools, cacheable lengths and prices. Pure data and string rules, no I/O.

Sources, read on `FACTS_READ_ON`:
- ids, Bedrock and Vertex ids, context window, max output: the models overview,
  https://platform.claude.com/docs/en/about-claude/models/overview
- minimum cacheable length: https://platform.claude.com/docs/en/build-with-claude/prompt-caching
  ("Cache limitations"); where pages disagree the larger length is kept, so a
  hit is never predicted that the server would not make.
- prices: https://platform.claude.com/docs/en/about-claude/pricing ("Model
  pricing"; 5-minute cache writes 1.25x input, 1-hour writes 2x, reads 0.1x).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FACTS_READ_ON = "2026-12-07"
PRICING_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"
DEFAULT_CONTEXT_WINDOW = 200_000
LONG_CONTEXT_WINDOW = 1_000_000
# The shortest prefix an unknown model caches is assumed to be the largest any
# model needs, so an unknown id never predicts a hit the server would not make.
UNKNOWN_MIN_CACHEABLE = 4096


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    @classmethod
    def from_base(cls, input_price: float, output_price: float) -> Prices:
        """The pricing page's multipliers on a base input price."""
        return cls(
            input=input_price,
            output=output_price,
            cache_write_5m=round(input_price * 1.25, 6),
            cache_write_1h=round(input_price * 2.0, 6),
            cache_read=round(input_price * 0.1, 6),
        )


@dataclass(frozen=True)
class ModelFacts:
    """One model: its ids, where it is metered, and what it accepts and costs."""

    key: str  # the API's alias, e.g. "claude-sonnet-4-5"
    ids: tuple[str, ...]  # every first-party id: dated snapshots and aliases
    # Provider ids the overview lists where they differ from the first-party
    # one; other spellings are found by `model_facts`'s normalisation.
    bedrock: tuple[str, ...]
    vertex: tuple[str, ...]
    pool: str
    max_output_tokens: int
    min_cacheable_tokens: int
    prices: Prices
    long_context: bool = False  # the 1M-token context beta is offered


_OPUS_NEW = Prices.from_base(5.0, 25.0)
_OPUS_OLD = Prices.from_base(15.0, 75.0)
_SONNET = Prices.from_base(3.0, 15.0)
_HAIKU_4_5 = Prices.from_base(1.0, 5.0)

MODELS: tuple[ModelFacts, ...] = (
    ModelFacts(
        key="claude-opus-4-8",
        ids=("claude-opus-4-8",),
        bedrock=(),
        vertex=(),
        pool="opus-4",
        max_output_tokens=128_000,
        min_cacheable_tokens=4096,
        prices=_OPUS_NEW,
    ),
    ModelFacts(
        key="claude-opus-4-7",
        ids=("claude-opus-4-7",),
        bedrock=(),
        vertex=(),
        pool="opus-4",
        max_output_tokens=128_000,
        min_cacheable_tokens=4096,
        prices=_OPUS_NEW,
    ),
    ModelFacts(
        key="claude-opus-4-6",
        ids=("claude-opus-4-6",),
        bedrock=("anthropic.claude-opus-4-6-v1",),
        vertex=(),  # Vertex uses the first-party id
        pool="opus-4",
        max_output_tokens=128_000,
        min_cacheable_tokens=4096,
        prices=_OPUS_NEW,
        long_context=True,
    ),
    ModelFacts(
        key="claude-sonnet-4-6",
        ids=("claude-sonnet-4-6",),
        bedrock=("anthropic.claude-sonnet-4-6",),
        vertex=(),  # Vertex uses the first-party id
        pool="sonnet-4",
        max_output_tokens=64_000,
        min_cacheable_tokens=2048,
        prices=_SONNET,
        long_context=True,
    ),
    ModelFacts(
        key="claude-opus-4-5",
        ids=("claude-opus-4-5-20251101", "claude-opus-4-5"),
        bedrock=("anthropic.claude-opus-4-5-20251101-v1:0",),
        vertex=("claude-opus-4-5@20251101",),
        pool="opus-4",
        max_output_tokens=64_000,
        min_cacheable_tokens=4096,
        prices=_OPUS_NEW,
    ),
    ModelFacts(
        key="claude-sonnet-4-5",
        ids=("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        bedrock=("anthropic.claude-sonnet-4-5-20250929-v1:0",),
        vertex=("claude-sonnet-4-5@20250929",),
        pool="sonnet-4",
        max_output_tokens=64_000,
        min_cacheable_tokens=1024,
        prices=_SONNET,
        long_context=True,
    ),
    ModelFacts(
        key="claude-haiku-4-5",
        ids=("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        bedrock=("anthropic.claude-haiku-4-5-20251001-v1:0",),
        vertex=("claude-haiku-4-5@20251001",),
        pool="haiku-4",
        max_output_tokens=64_000,
        min_cacheable_tokens=4096,
        prices=_HAIKU_4_5,
    ),
    ModelFacts(
        key="claude-opus-4-1",
        ids=("claude-opus-4-1-20250805", "claude-opus-4-1"),
        bedrock=("anthropic.claude-opus-4-1-20250805-v1:0",),
        vertex=("claude-opus-4-1@20250805",),
        pool="opus-4",
        max_output_tokens=32_000,
        min_cacheable_tokens=1024,
        prices=_OPUS_OLD,
    ),
    ModelFacts(
        key="claude-opus-4-0",
        ids=("claude-opus-4-20250514", "claude-opus-4-0"),
        bedrock=("anthropic.claude-opus-4-20250514-v1:0",),
        vertex=("claude-opus-4@20250514",),
        pool="opus-4",
        max_output_tokens=32_000,
        min_cacheable_tokens=1024,
        prices=_OPUS_OLD,
    ),
    ModelFacts(
        key="claude-sonnet-4-0",
        ids=("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
        bedrock=("anthropic.claude-sonnet-4-20250514-v1:0",),
        vertex=("claude-sonnet-4@20250514",),
        pool="sonnet-4",
        max_output_tokens=64_000,
        min_cacheable_tokens=1024,
        prices=_SONNET,
        long_context=True,
    ),
)

# Bedrock's cross-region profiles put a region before the id ("us.", "global.").
_REGION = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?(?=anthropic\.)")


def _index() -> dict[str, ModelFacts]:
    found: dict[str, ModelFacts] = {}
    for facts in MODELS:
        for spelling in (*facts.ids, *facts.bedrock, *facts.vertex):
            if spelling in found:
                raise ValueError(f"{spelling} is listed twice in the model table")
            found[spelling] = facts
    return found


_BY_ID = _index()


def model_facts(model_id: str | None) -> ModelFacts | None:
    """The table's row for an id in any provider's spelling, or None if unknown.

    An exact spelling wins; a Bedrock id with a region prefix or another
    version suffix, or a dated snapshot of a listed alias, finds its row too.
    """
    if not model_id:
        return None
    name = model_id.strip().lower()
    if name in _BY_ID:
        return _BY_ID[name]
    name = _REGION.sub("", name)
    if name in _BY_ID:
        return _BY_ID[name]
    first_party = re.sub(r"-v\d+(?::\d+)?$", "", name.removeprefix("anthropic."))
    first_party = first_party.split("@", 1)[0]
    if first_party in _BY_ID:
        return _BY_ID[first_party]
    undated = re.sub(r"-\d{8}$", "", first_party)
    return _BY_ID.get(undated)


def prices_for(model_id: str | None) -> Prices | None:
    facts = model_facts(model_id)
    return facts.prices if facts else None


# The dearest row: what an id the table does not list is priced at, so a cap
# is never passed by a model whose price nobody wrote down.
DEAREST_PRICES = max(
    (facts.prices for facts in MODELS), key=lambda prices: (prices.output, prices.input)
)


@dataclass(frozen=True)
class PriceList:
    """The table's prices, with overrides (TOKEN_MANAGER_PRICES_FILE) by model key."""

    overrides: tuple[tuple[str, Prices], ...] = ()

    def for_model(self, model_id: str | None) -> Prices:
        facts = model_facts(model_id)
        names = {facts.key, *facts.ids} if facts else set()
        names.add((model_id or "").strip().lower())
        for name, prices in self.overrides:
            if name in names:
                return prices
        return facts.prices if facts else DEAREST_PRICES


def price_list_from_json(document: object) -> PriceList:
    """`{"claude-sonnet-4-5": {"input": 3, "output": 15, ...}}`: the five prices of
    `Prices` per model, USD per million tokens; a missing cache price follows
    the pricing page's multipliers. Raises ValueError saying what is wrong."""
    if not isinstance(document, dict):
        raise ValueError("must hold a JSON object of model ids to prices")
    overrides: list[tuple[str, Prices]] = []
    for model, given in document.items():
        if not isinstance(given, dict) or not {"input", "output"} <= set(given):
            raise ValueError(f"{model!s:.40}: needs at least 'input' and 'output'")
        try:
            values = {name: float(value) for name, value in given.items()}
        except (TypeError, ValueError):
            raise ValueError(f"{model!s:.40}: prices must be numbers") from None
        unknown = set(values) - set(Prices.__dataclass_fields__)
        if unknown or any(not 0 <= value < 1e6 for value in values.values()):
            raise ValueError(f"{model!s:.40}: unknown field or price out of range")
        base = Prices.from_base(values["input"], values["output"])
        overrides.append((str(model).lower(), Prices(**{**base.__dict__, **values})))
    return PriceList(tuple(overrides))
