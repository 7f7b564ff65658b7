#!/usr/bin/env bash
# The quickstart's own tests, unchanged, against this package: its tool tests
# (bash, computer, edit) and its tests/streamlit_test.py.
# Usage: scripts/run_conformance.sh [SHARED_DIR] [REPORT_DIR]
# SHARED_DIR defaults to ../shared beside the clone; it holds
# conformance/quickstart/. With REPORT_DIR, JUnit reports go there
# (quickstart_tools.xml, quickstart_streamlit.xml) for scripts/test_counts.py.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${1:-${SHARED_DIR:-$(dirname "$here")/shared}}"
reports="${2:-}"
quickstart="$shared/conformance/quickstart"
[[ -d "$quickstart/tests" ]] || { echo "run_conformance.sh: no quickstart tests in $quickstart" >&2; exit 2; }

tools_args=(-q --ignore=streamlit_test.py)
streamlit_args=(-q)
if [[ -n "$reports" ]]; then
  tools_args+=("--junitxml=$reports/quickstart_tools.xml")
  streamlit_args+=("--junitxml=$reports/quickstart_streamlit.xml")
fi

status=0
# Tool tests: the streamlit test runs on its own below, from the folder it expects.
"$here/scripts/run_quickstart_tests.sh" "$quickstart" "${tools_args[@]}" || status=$?
"$here/scripts/run_quickstart_streamlit_test.sh" "$quickstart" "${streamlit_args[@]}" || status=$?
exit "$status"
