"""The one model table: every spelling finds its row, and its facts agree with the
fake server's own table (kept apart from ours on purpose, with its own sources)."""

from __future__ import annotations

import pytest

from computer_use_demo.models import lookup_model_conf
from fake_anthropic import model_classes
from token_manager.model_table import MODELS, Prices, model_facts, prices_for
from token_manager.pools import min_cacheable_tokens, rate_limit_pool

EVERY_SPELLING = [
    (spelling, facts.key)
    for facts in MODELS
    for spelling in (*facts.ids, *facts.bedrock, *facts.vertex)
]


@pytest.mark.parametrize(("spelling", "key"), EVERY_SPELLING)
def test_every_listed_spelling_finds_its_row(spelling: str, key: str) -> None:
    found = model_facts(spelling)
    assert found is not None and found.key == key


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5"),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("anthropic.claude-opus-4-7", "claude-opus-4-7"),
        ("claude-opus-4-8@20261101", "claude-opus-4-8"),
        ("Claude-Sonnet-4-6", "claude-sonnet-4-6"),
        ("claude-sonnet-4-6-20990101", "claude-sonnet-4-6"),
    ],
)
def test_provider_forms_the_table_does_not_list_are_normalised(
    spelling: str, key: str
) -> None:
    found = model_facts(spelling)
    assert found is not None and found.key == key


@pytest.mark.parametrize(
    "spelling", ["", None, "claude-sonnet-4-9", "my-finetune", "claude-3-7-sonnet"]
)
def test_an_id_the_table_does_not_list_has_no_row(spelling: str | None) -> None:
    assert model_facts(spelling) is None
    assert prices_for(spelling) is None


@pytest.mark.parametrize("facts", MODELS, ids=lambda facts: facts.key)
def test_each_row_agrees_with_the_fake_servers_own_table(facts) -> None:
    for model_id in facts.ids:
        assert rate_limit_pool(model_id) == model_classes.model_class(model_id)
        documented = model_classes.max_output_tokens(model_id)
        assert documented is None or facts.max_output_tokens <= documented
        # Never predicts a hit the fake would not make: our minimum is at least its.
        assert min_cacheable_tokens(model_id) >= model_classes.min_cacheable_tokens(
            model_id
        )


def test_both_packages_read_the_same_row() -> None:
    for facts in MODELS:
        for spelling in (*facts.ids, *facts.bedrock, *facts.vertex):
            conf = lookup_model_conf(spelling)
            assert conf.max_output_tokens == facts.max_output_tokens, spelling
            assert conf.long_context == facts.long_context, spelling
            assert min_cacheable_tokens(spelling) == facts.min_cacheable_tokens


def test_prices_follow_the_pricing_pages_multipliers() -> None:
    # https://platform.claude.com/docs/en/about-claude/pricing: Sonnet 4.5 is
    # $3 input, $3.75 5-minute writes, $6 1-hour writes, $0.30 reads, $15 output.
    assert prices_for("claude-sonnet-4-5") == Prices(3.0, 15.0, 3.75, 6.0, 0.3)
    assert prices_for("claude-opus-4-1") == Prices(15.0, 75.0, 18.75, 30.0, 1.5)
    assert prices_for("claude-opus-4-8") == Prices(5.0, 25.0, 6.25, 10.0, 0.5)
    assert prices_for("claude-haiku-4-5") == Prices(1.0, 5.0, 1.25, 2.0, 0.1)
