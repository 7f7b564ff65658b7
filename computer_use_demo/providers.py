"""Where the model is served: the API's own, Bedrock or Vertex.

A leaf module (no SDK, no Streamlit), so the UI, the CLI and the loop can all
name a provider without importing each other.
"""

from __future__ import annotations

from enum import StrEnum


class APIProvider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    VERTEX = "vertex"
