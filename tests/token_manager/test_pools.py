"""Model ids to rate-limit pools, and the facts that differ per model class."""

from __future__ import annotations

import pytest

from token_manager import rate_limit_pool
from token_manager.pools import cache_reads_count, min_cacheable_tokens


@pytest.mark.parametrize(
    ("model", "pool"),
    [
        ("claude-opus-4-20250514", "opus-4"),
        ("claude-opus-4-0", "opus-4"),
        ("claude-opus-4-1-20250805", "opus-4"),
        ("claude-opus-4-5", "opus-4"),
        ("claude-opus-4-5-20251101", "opus-4"),
        ("claude-opus-4-6", "opus-4"),
        ("claude-opus-4-8", "opus-4"),
        ("claude-sonnet-4-20250514", "sonnet-4"),
        ("claude-sonnet-4-5", "sonnet-4"),
        ("claude-sonnet-4-5-20250929", "sonnet-4"),
        ("claude-sonnet-4-6", "sonnet-4"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4"),
        ("global.anthropic.claude-opus-4-5-20251101-v1:0", "opus-4"),
        ("claude-sonnet-4-5@20250929", "sonnet-4"),
        ("claude-opus-4-1@20250805", "opus-4"),
        ("claude-haiku-4-5", "haiku-4"),
        ("claude-haiku-4-5-20251001", "haiku-4"),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "haiku-4"),
        ("claude-3-7-sonnet-20250219", "sonnet-3-7"),
        ("claude-3-7-sonnet-latest", "sonnet-3-7"),
        ("claude-3-7-sonnet@20250219", "sonnet-3-7"),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", "sonnet-3-7"),
        ("claude-3-5-sonnet-20241022", "sonnet-3-5"),
        ("claude-3-5-haiku-latest", "haiku-3-5"),
        ("claude-3-5-haiku-20241022", "haiku-3-5"),
        ("claude-3-opus-20240229", "opus-3"),
        ("claude-3-haiku-20240307", "haiku-3"),
        ("Claude-Sonnet-4-5", "sonnet-4"),
    ],
)
def test_every_spelling_of_a_model_finds_its_class_pool(model: str, pool: str) -> None:
    assert rate_limit_pool(model) == pool


def test_no_model_is_the_default_pool_and_an_unknown_id_its_own() -> None:
    assert rate_limit_pool(None) == "default"
    assert rate_limit_pool("") == "default"
    assert rate_limit_pool("my-finetune") == "my-finetune"
    assert rate_limit_pool("weird{model}") == "weird_model_", "never breaks a hash tag"
    assert rate_limit_pool("my-finetune") != rate_limit_pool("other-model")


def test_only_the_older_classes_count_cache_reads() -> None:
    for pool in ("opus-4", "sonnet-4", "haiku-4", "sonnet-3-7", "default"):
        assert not cache_reads_count(pool), pool
    for pool in ("haiku-3-5", "sonnet-3-5", "opus-3", "haiku-3", "my-finetune"):
        assert cache_reads_count(pool), pool


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        ("claude-opus-4-5", 4096),
        ("claude-opus-4-6", 4096),
        ("claude-opus-4-1", 1024),
        ("claude-opus-4-20250514", 1024),
        ("claude-sonnet-4-5", 1024),
        ("claude-sonnet-4-20250514", 1024),
        ("claude-sonnet-4-6", 2048),
        ("claude-haiku-4-5", 4096),
        ("claude-3-5-haiku-latest", 2048),
        ("claude-3-haiku-20240307", 2048),
        ("claude-3-7-sonnet-latest", 1024),
        ("claude-3-opus-20240229", 1024),
        ("something-else", 4096),
        (None, 4096),
    ],
)
def test_minimum_cacheable_length_per_model(model: str | None, tokens: int) -> None:
    assert min_cacheable_tokens(model) == tokens
