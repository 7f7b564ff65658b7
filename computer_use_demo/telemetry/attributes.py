"""The names and values our spans and metrics carry, after the OpenTelemetry GenAI
semantic conventions; pure, and every text passes redaction first.

Sources (all at Development stability, so the names are kept here, in one place):
- spans: https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/ (inference
  span `chat {model}`, kind CLIENT) and
  https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-agent-spans/
  (`invoke_agent {name}` and `execute_tool {name}`, kind INTERNAL);
- metrics: https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
  (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration` and their
  bucket boundaries);
- cache tokens: `gen_ai.usage.cache_read.input_tokens` and
  `gen_ai.usage.cache_creation.input_tokens`, each "SHOULD be included in
  gen_ai.usage.input_tokens" (the registry as published in
  @opentelemetry/semantic-conventions' incubating attributes).
Never carries prompt or response content, headers or URLs: only counts, ids,
names and kinds.
"""

from __future__ import annotations

from typing import Any

from ..redaction import redact

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
# The provider's name before v1.37 of the conventions, still read by some backends.
SYSTEM = "gen_ai.system"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
TOKEN_TYPE = "gen_ai.token.type"
AGENT_NAME = "gen_ai.agent.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
ERROR_TYPE = "error.type"
HTTP_STATUS = "http.response.status_code"

# Ours, where the conventions have no name (namespaced so they never collide).
ATTEMPT = "computer_use.request.attempt"  # 1 for the first time an answer is asked
RATE_LIMIT_BUDGET = "computer_use.rate_limit.budget"
RATE_LIMIT_WAIT = "computer_use.rate_limit.wait_seconds"
RETRY_WAIT = "computer_use.retry.wait_seconds"
TURN_REQUESTS = "computer_use.turn.requests"
TURN_TOOL_CALLS = "computer_use.turn.tool_calls"

AGENT = "computer-use-demo"

# gen_ai.provider.name's well-known values for the three providers we serve.
_PROVIDER_NAMES = {
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
}

# Bucket boundaries the metrics conventions ask for.
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
    16777216, 67108864,
)  # fmt: skip
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
    40.96, 81.92,
)  # fmt: skip
# The limiter's waits run from nothing to a window (60 s) or a long retry-after.
WAIT_BUCKETS = (0, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)

MAX_TEXT = 256  # an id or a name longer than this is not one


def text(value: object) -> str:
    """A textual attribute value: redacted, and short."""
    return redact(str(value))[:MAX_TEXT]


def provider_name(provider: str) -> str:
    return _PROVIDER_NAMES.get(str(provider), text(provider))


def usage_tokens(usage: Any) -> dict[str, int]:
    """The usage attributes of one response (BetaUsage, or anything shaped like it).

    The API's `input_tokens` leaves out the cached ones; the conventions' total
    includes cache reads and writes, which are also given on their own."""
    if usage is None:
        return {}
    uncached = _count(usage, "input_tokens")
    read = _count(usage, "cache_read_input_tokens")
    written = _count(usage, "cache_creation_input_tokens")
    return {
        INPUT_TOKENS: uncached + read + written,
        OUTPUT_TOKENS: _count(usage, "output_tokens"),
        CACHE_READ_TOKENS: read,
        CACHE_CREATION_TOKENS: written,
    }


def _count(usage: Any, name: str) -> int:
    value = getattr(usage, name, None)
    if value is None and isinstance(usage, dict):
        value = usage.get(name)
    return value if isinstance(value, int) and value >= 0 else 0


def error_type(error: BaseException) -> str:
    """A low-cardinality kind for `error.type`: what the loop calls the failure,
    "cancelled" for a stop, else the exception's class name."""
    if not isinstance(error, Exception):
        return "cancelled"
    from ..failures import classify  # the loop's own words for a failure

    try:
        return classify(error).kind
    except Exception:
        return type(error).__name__


def status_code(error: BaseException) -> int | None:
    """The HTTP status of an API error refused before any stream (None otherwise)."""
    code = getattr(error, "status_code", None)
    return code if isinstance(code, int) and code >= 100 else None
