#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml's ranges (run after changing a
# dependency): requirements.lock (the app, used by the image and run.sh) and
# requirements-dev.lock (the app + the dev extra, same versions, used by test.sh).
# Needs uv (pip install uv). Both files pin every package with its hashes.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--universal --python-version 3.11 --generate-hashes -q)
uv pip compile pyproject.toml "${common[@]}" -o requirements.lock
uv pip compile pyproject.toml --extra dev -c requirements.lock "${common[@]}" -o requirements-dev.lock
