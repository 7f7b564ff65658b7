"""What the fake server knows per model: its rate-limit class, its minimum cacheable
prompt length, and whether its cache reads count toward input tokens/min.

Pure data and string rules, kept apart from the client's own mapping on purpose:
the double must not share the code it checks.
"""

from __future__ import annotations

import re

# The API's rate-limit page: limits are per organisation and per model class;
# every Opus 4.x id shares one bucket set, every Sonnet 4.x id another, Haiku 4.5 its own.
_CLASS_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^claude-opus-4(?:[-.]\d+)?(?:-|$)", "opus-4"),
    (r"^claude-sonnet-4(?:[-.]\d+)?(?:-|$)", "sonnet-4"),
    (r"^claude-haiku-4(?:[-.]\d+)?(?:-|$)", "haiku-4"),
)

# Minimum cacheable prompt length (prompt-caching docs, "Cache limitations"):
# a breakpoint whose prefix is shorter is not cached, silently. The first match wins.
_MIN_CACHEABLE: tuple[tuple[str, int], ...] = (
    (r"^claude-opus-4-(?:5|6|7)(?:-|$)", 4096),
    (r"^claude-haiku-4", 4096),
    (r"^claude-3-5-haiku|^claude-3-haiku|^claude-haiku-3", 2048),
)
DEFAULT_MIN_CACHEABLE = 1024  # Sonnet 4.x, Opus 4 / 4.1 / 4.8, Sonnet 3.7, unknown ids

# The rate-limit page marks the older models whose cache reads still count
# toward input tokens/min; for current models only uncached input counts.
_READS_COUNT = r"^claude-3-(?:5-haiku|haiku|opus|5-sonnet|sonnet)"


def canonical_model(model_id: str) -> str:
    """The first-party id behind a Bedrock (`us.anthropic.claude-...-v1:0`) or
    Vertex (`claude-...@20250929`) id, lower case."""
    model = model_id.strip().lower()
    model = model.split("@", 1)[0]
    model = re.sub(r"-v\d+(?::\d+)?$", "", model)
    found = model.find("claude-")
    return model[found:] if found >= 0 else model


def model_class(model_id: str) -> str:
    """The rate-limit bucket set a model id is metered in; an unknown id is its own."""
    model = canonical_model(model_id)
    for pattern, name in _CLASS_PATTERNS:
        if re.search(pattern, model):
            return name
    return model


def min_cacheable_tokens(model_id: str) -> int:
    model = canonical_model(model_id)
    for pattern, tokens in _MIN_CACHEABLE:
        if re.search(pattern, model):
            return tokens
    return DEFAULT_MIN_CACHEABLE


def cache_reads_count_toward_itpm(model_id: str) -> bool:
    return re.search(_READS_COUNT, canonical_model(model_id)) is not None


# Models overview (https://platform.claude.com/docs/en/about-claude/models/overview),
# "Max output". Ids the page does not list are not checked.
_MAX_OUTPUT = (
    (r"^claude-(?:opus|sonnet)-4-(?:6|7|8)(?:-|$)", 128_000),
    (r"^claude-(?:opus-4-5|sonnet-4-5|haiku-4-5)(?:-|$)", 64_000),
    (r"^claude-opus-4(?:-1)?(?:-\d{8}|$)", 32_000),
    (r"^claude-sonnet-4(?:-0)?(?:-\d{8}|$)", 64_000),
    (r"^claude-3-7-sonnet", 64_000),
    (r"^claude-3-5-(?:haiku|sonnet)", 8_192),
    (r"^claude-3-(?:haiku|opus)", 4_096),
)


def max_output_tokens(model_id: str) -> int | None:
    """The most `max_tokens` may ask of the model; None where the docs give nothing."""
    model = canonical_model(model_id)
    for pattern, limit in _MAX_OUTPUT:
        if re.search(pattern, model):
            return limit
    return None
