#!/usr/bin/env bash
# Runs the quickstart's own tests, unchanged, against this package.
# Usage: scripts/run_quickstart_tests.sh PATH/TO/claude-quickstarts/computer-use-demo [pytest args]
# Their tool tests and tests/streamlit_test.py must pass as they are; their
# loop_test.py mocks the non-streaming `with_raw_response.create` call that this
# streaming loop replaced, so it is not run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
quickstart="${1:?usage: run_quickstart_tests.sh QUICKSTART_COMPUTER_USE_DEMO_DIR}"
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$quickstart/tests" "$work/tests"
rm -f "$work/tests/loop_test.py"
# Newer Streamlit resolves AppTest.from_file paths from the test file's folder.
ln -s "$here/computer_use_demo" "$work/tests/computer_use_demo"
export ANTHROPIC_CONFIG_DIR="$work/config"
cd "$work/tests"
"$here/.venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$work/tests" -W ignore "$@" .
