#!/usr/bin/env bash
# Runs the whole test suite: unit, fake API, real desktop (Xvfb), Redis, browser,
# and, when image/ci-build.sh has built it, the desktop image.
# Idempotent: installs the Debian packages and Python packages it lacks, then
# runs pytest. Extra arguments go to pytest (e.g. ./test.sh -m "not slow").
set -euo pipefail
cd "$(dirname "$0")"

# The desktop stack and the app's venv, as ./run.sh sets them up.
image/provision.sh --native

# What only the tests need: Redis, Chromium for the browser tests, tmux for the
# CLI's, Tk for the computer tool's desktop scenes (and benchmark B7).
image/provision.sh --packages redis-server chromium tmux x11-apps python3-tk

# The dev extra (pytest, playwright, ruff, ...) at its locked versions, checked
# against their hashes; reinstalled only when the lock or pyproject.toml changed.
stamp=.venv/.installed-dev
if [ ! -f "$stamp" ] || ! cat pyproject.toml requirements-dev.lock | cmp -s - "$stamp"; then
  .venv/bin/python -m pip install -q --require-hashes -r requirements-dev.lock
  .venv/bin/python -m pip install -q --no-deps -e '.[dev]'
  cat pyproject.toml requirements-dev.lock >"$stamp"
fi

set +e
# The slowest tests are listed last: the suite is kept well under 15 minutes.
.venv/bin/python -m pytest -ra --durations=30 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$status"
