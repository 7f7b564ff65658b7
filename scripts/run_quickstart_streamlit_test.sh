#!/usr/bin/env bash
# Runs the quickstart's own tests/streamlit_test.py, unchanged, against this app.
# Usage: scripts/run_quickstart_streamlit_test.sh QUICKSTART_COMPUTER_USE_DEMO_DIR [pytest args]
# The test is copied (with its conftest) into a temp folder and never edited.
# Newer Streamlit resolves AppTest.from_file("computer_use_demo/streamlit.py")
# from the test file's folder, not the working directory, so our package is
# linked next to the copy; it is also the working directory, for older Streamlit.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
quickstart="${1:?usage: run_quickstart_streamlit_test.sh QUICKSTART_COMPUTER_USE_DEMO_DIR [pytest args]}"
shift
test_file="$quickstart/tests/streamlit_test.py"
[[ -f "$test_file" ]] || { echo "no $test_file" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$test_file" "$work/"
[[ -f "$quickstart/tests/conftest.py" ]] && cp "$quickstart/tests/conftest.py" "$work/"
ln -s "$here/computer_use_demo" "$work/computer_use_demo"
# Keep the user's real config folder (saved key, conversations) out of it.
export ANTHROPIC_CONFIG_DIR="$work/config"
export HOME="$work/home"
mkdir -p "$HOME"
cd "$work"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$here/.venv/bin/python" -m pytest \
    -p no:cacheprovider --rootdir "$work" -W ignore "$@" streamlit_test.py
