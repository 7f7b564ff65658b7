#!/usr/bin/env bash
# The image's entry point: the whole stack in the foreground (same as run.sh natively).
# Run as root: the desktop and the tools run as COMPUTER_USE_TOOLS_USER
# (start_all.sh), the app as root, whose files the tools' account cannot read.
set -euo pipefail
export APP_ROOT="${APP_ROOT:-/opt/app}"
export PYTHON=/opt/venv/bin/python
# Inside the container the services listen on its own interface; only the
# ports `docker run -p 127.0.0.1:...` publishes are reachable from the host.
export BIND_ADDRESS="${BIND_ADDRESS:-0.0.0.0}"
export CONTAINER_NETWORK=1
if [ "$(id -u)" -eq 0 ] && [ -n "${ANTHROPIC_CONFIG_DIR:-}" ]; then
  # A mounted config folder (the key, the conversations) becomes root's alone.
  install -d -m 0700 "$ANTHROPIC_CONFIG_DIR"
  chown -R 0:0 "$ANTHROPIC_CONFIG_DIR"
  chmod -R go-rwx "$ANTHROPIC_CONFIG_DIR"
fi
# Streamlit reads .streamlit/ in its working folder: root's copy, not the home's.
cd "$APP_ROOT"
exec "$(dirname "$0")/start_all.sh"
