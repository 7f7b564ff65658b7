#!/usr/bin/env bash
# The image's entry point: the whole stack in the foreground (same as run.sh natively).
set -euo pipefail
export APP_ROOT="${APP_ROOT:-$HOME}"
export PYTHON=/opt/venv/bin/python
exec "$(dirname "$0")/start_all.sh"
