"""Which rate-limit pool a model id draws from, and the facts that differ per model.

The API meters per organisation and per model class: every Opus 4.x id shares
one pool, every Sonnet 4.x another, Haiku 4.5 its own; older classes have
their own. A model the shared table (`model_table`) lists takes its row; the
rules here read any other Claude id by its name. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model_table import UNKNOWN_MIN_CACHEABLE, model_facts

DEFAULT_POOL = "default"

# Classes whose cache reads still count toward input tokens/min (marked with a
# dagger on the API's rate-limit page); newer classes read the cache for free.
_CACHE_READS_COUNT = frozenset(
    {"sonnet-3-5", "haiku-3-5", "opus-3", "sonnet-3", "haiku-3"}
)

_REGION = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?anthropic\.")
_NEW_STYLE = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?=$|-)")
_OLD_STYLE = re.compile(r"^claude-(\d+)(?:-(\d{1,2}))?-(opus|sonnet|haiku)(?=$|-)")
_UNSAFE = re.compile(r"[^a-z0-9._:-]+")


@dataclass(frozen=True)
class ModelClass:
    """A model id read: its family ("opus"), major and minor version (minor 0 for x.0)."""

    family: str
    major: int
    minor: int


def _normalise(model_id: str) -> str:
    name = model_id.strip().lower()
    name = _REGION.sub("", name)  # Bedrock: "us.anthropic.claude-..."
    name = name.split("@", 1)[0]  # Vertex: "claude-sonnet-4-5@20250929"
    name = re.sub(r"-v\d+(?::\d+)?$", "", name)  # Bedrock: "...-v1:0"
    name = re.sub(r"-latest$", "", name)
    return re.sub(r"-\d{8}$", "", name)  # a dated snapshot


def model_class(model_id: str) -> ModelClass | None:
    """The family and version of a Claude id in any provider's spelling, or None."""
    name = _normalise(model_id)
    if match := _NEW_STYLE.match(name):
        family, major, minor = match.groups()
        return ModelClass(family, int(major), int(minor or 0))
    if match := _OLD_STYLE.match(name):
        major, minor, family = match.groups()
        return ModelClass(family, int(major), int(minor or 0))
    return None


def rate_limit_pool(model_id: str | None) -> str:
    """The pool whose limits `model_id` draws from ("opus-4", "sonnet-4", "haiku-4",
    "sonnet-3-7", ...); no model is the default pool, an unknown id its own pool."""
    if not model_id:
        return DEFAULT_POOL
    if (facts := model_facts(model_id)) is not None:
        return facts.pool
    found = model_class(model_id)
    if found is None:
        return _UNSAFE.sub("_", model_id.strip().lower()) or DEFAULT_POOL
    if found.major >= 4 or found.minor == 0:
        return f"{found.family}-{found.major}"
    return f"{found.family}-{found.major}-{found.minor}"


def cache_reads_count(pool: str) -> bool:
    """Whether this pool's class counts cache reads toward input tokens/min.

    Unknown ids are not Claude names we can read: assume current behaviour
    (reads are free) only for the known current classes and the default pool.
    """
    if pool == DEFAULT_POOL:
        return False
    if pool in _CACHE_READS_COUNT:
        return True
    return not re.fullmatch(r"(opus|sonnet|haiku)-\d+(?:-\d+)?", pool)


def min_cacheable_tokens(model_id: str | None) -> int:
    """The shortest prefix the API caches for this model (shorter ones are never
    cached): the table's row, else the prompt-caching page's rule for the class."""
    if (facts := model_facts(model_id)) is not None:
        return facts.min_cacheable_tokens
    found = model_class(model_id) if model_id else None
    if found is None:
        return UNKNOWN_MIN_CACHEABLE
    family, version = found.family, (found.major, found.minor)
    if family == "haiku":
        return 4096 if version >= (4, 5) else 2048
    if family == "opus":
        return 4096 if version >= (4, 5) else 1024
    if family == "sonnet":
        return 2048 if version >= (4, 6) else 1024
    return UNKNOWN_MIN_CACHEABLE
