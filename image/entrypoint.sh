#!/usr/bin/env bash
# The image's entry point: the whole stack in the foreground (same as run.sh natively).
set -euo pipefail
export APP_ROOT="${APP_ROOT:-$HOME}"
export PYTHON=/opt/venv/bin/python
# Inside the container the services listen on its own interface; only the
# ports `docker run -p 127.0.0.1:...` publishes are reachable from the host.
export BIND_ADDRESS="${BIND_ADDRESS:-0.0.0.0}"
export CONTAINER_NETWORK=1
exec "$(dirname "$0")/start_all.sh"
