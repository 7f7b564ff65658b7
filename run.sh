#!/usr/bin/env bash
# Sets up (idempotently) and runs the desktop and the app natively on Debian:
# Xvfb + mutter + tint2, VNC :5900, noVNC :6080, combined page :8080, Streamlit :8501.
# With no ANTHROPIC_API_KEY the app starts and asks for one.
set -euo pipefail
cd "$(dirname "$0")"
image/provision.sh --native
exec image/start_all.sh
