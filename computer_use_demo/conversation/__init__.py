"""Every rule about a conversation: its blocks, the request view under a budget,
cache breakpoints, the API's own context edits, validation and repair.

Pure (no I/O, no Streamlit, no SDK calls); the loop, the UI and the CLI read a
conversation only through these names.
"""

from .blocks import (
    answered_ids,
    block_type,
    blocks,
    content_blocks,
    is_tool_result,
    is_tool_use,
    tool_use_ids,
    without_cache_mark,
)
from .budget import ContextBudget, CountMessage, PruneReport
from .cache_breakpoints import MESSAGE_CACHE_BREAKPOINTS, inject_cache_breakpoints
from .repair import (
    INTERRUPTED_TOOL_ERROR,
    NOT_RUN_TOOL_ERROR,
    answer_unanswered_tool_calls,
    repair_loaded_conversation,
)
from .request_rules import (
    MAX_IMAGES_PER_REQUEST,
    MAX_REQUEST_BYTES,
    RulesReport,
    apply_request_rules,
    is_blank_text,
    messages_budget_bytes,
)
from .request_view import (
    SCREENSHOT_PLACEHOLDER,
    build_request_messages,
    drop_before_last_compaction,
    fit_request_view,
)
from .server_context import (
    COMPACTION_BETA,
    CONTEXT_MANAGEMENT_BETA,
    ServerStrategy,
    server_context_management,
)
from .validation import (
    MAX_CACHE_BREAKPOINTS,
    block_problem,
    shape_problem,
    validate_conversation,
)

__all__ = [
    "COMPACTION_BETA",
    "CONTEXT_MANAGEMENT_BETA",
    "INTERRUPTED_TOOL_ERROR",
    "MAX_CACHE_BREAKPOINTS",
    "MAX_IMAGES_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "MESSAGE_CACHE_BREAKPOINTS",
    "NOT_RUN_TOOL_ERROR",
    "SCREENSHOT_PLACEHOLDER",
    "ContextBudget",
    "CountMessage",
    "PruneReport",
    "RulesReport",
    "ServerStrategy",
    "answer_unanswered_tool_calls",
    "answered_ids",
    "apply_request_rules",
    "block_problem",
    "block_type",
    "blocks",
    "build_request_messages",
    "content_blocks",
    "drop_before_last_compaction",
    "fit_request_view",
    "inject_cache_breakpoints",
    "is_blank_text",
    "is_tool_result",
    "is_tool_use",
    "messages_budget_bytes",
    "repair_loaded_conversation",
    "server_context_management",
    "shape_problem",
    "tool_use_ids",
    "validate_conversation",
    "without_cache_mark",
]
