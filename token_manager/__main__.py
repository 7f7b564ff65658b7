"""`python -m token_manager status`: the operator's view (see status.py)."""

from .status import cli

raise SystemExit(cli())
