#!/usr/bin/env bash
# Runs the whole test suite: unit, fake API, real desktop (Xvfb), Redis, browser,
# and, when image/ci-build.sh has built it, the desktop image.
# Idempotent: installs the Debian packages and Python packages it lacks, then
# runs pytest. Extra arguments go to pytest (e.g. ./test.sh -m "not slow").
set -euo pipefail
cd "$(dirname "$0")"

# The desktop stack and the app's venv, as ./run.sh sets them up.
image/provision.sh --native

TEST_PACKAGES=(redis-server chromium tmux x11-apps)
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
missing=()
for package in "${TEST_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The dev extra (pytest, playwright, ruff, ...), reinstalled only when it changed.
stamp=.venv/.installed-dev
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  .venv/bin/python -m pip install -q -e '.[dev]'
  cp pyproject.toml "$stamp"
fi

set +e
.venv/bin/python -m pytest -ra "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$status"
