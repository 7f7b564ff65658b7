#!/usr/bin/env bash
# Installs what the desktop stack needs, the same way in the image and natively.
#   provision.sh --native   Debian packages it lacks + the app in ./.venv (run.sh uses this)
#   provision.sh --system   Debian packages only, desktop apps included (the Dockerfile's first step)
#   provision.sh --app      the app into /opt/venv (the Dockerfile's second step)
#   provision.sh --packages NAME...   just these Debian packages, if missing (test.sh)
# Idempotent: installs only what is missing.
set -euo pipefail
# The pip every venv is built with (pinned like the locked packages).
PIP_VERSION=26.3

mode="${1:---native}"
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$mode" = "--packages" ]; then
  shift
  requested=("$@")
fi

DESKTOP_PACKAGES=(
  xvfb x11-utils xdotool scrot imagemagick xterm
  mutter tint2 x11vnc novnc websockify
  firefox-esr fonts-dejavu-core ca-certificates curl sudo procps
  python3 python3-venv python3-pip netcat-openbsd
)
if [ "$mode" = "--system" ]; then
  DESKTOP_PACKAGES+=(x11-apps xpaint galculator pcmanfm gedit unzip)
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "$mode" = "--packages" ]; then
  DESKTOP_PACKAGES=("${requested[@]}")
fi

if [ "$mode" != "--app" ]; then
missing=()
for package in "${DESKTOP_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "provision: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
fi

case "$mode" in
  --native)
    python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "provision: Python >= 3.11 is required (found $("$python" --version 2>&1))" >&2
      exit 1
    fi
    venv="$here/.venv"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    stamp="$venv/.installed-app"
    if [ ! -f "$stamp" ] || ! cat "$here/pyproject.toml" "$here/requirements.lock" | cmp -s - "$stamp"; then
      "$venv/bin/python" -m pip install -q "pip==$PIP_VERSION"
      # The locked versions, each checked against its hash; then the app itself.
      "$venv/bin/python" -m pip install -q --require-hashes -r "$here/requirements.lock"
      "$venv/bin/python" -m pip install -q --no-deps -e "$here"
      cat "$here/pyproject.toml" "$here/requirements.lock" >"$stamp"
    fi
    # Run by root, the stack runs the desktop and the tools as an account of their
    # own (start_all.sh), as in the image: make it if it is missing.
    if [ "$(id -u)" -eq 0 ] && [ -z "${COMPUTER_USE_TOOLS_USER:-}" ] && ! id -u computeruse >/dev/null 2>&1; then
      echo "provision: adding the account computeruse for the desktop and the tools"
      useradd --create-home --shell /bin/bash computeruse
    fi
    ;;
  --packages)
    ;;
  --system)
    as_root apt-get clean
    as_root rm -rf /var/lib/apt/lists/*
    ;;
  --app)
    cert=()
    if [ -n "${PIP_CERT:-}" ]; then cert=(--cert "$PIP_CERT"); fi
    [ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv
    /opt/venv/bin/python -m pip install -q --no-cache-dir "${cert[@]}" "pip==$PIP_VERSION"
    /opt/venv/bin/python -m pip install -q --no-cache-dir "${cert[@]}" --require-hashes -r "$here/requirements.lock"
    /opt/venv/bin/python -m pip install -q --no-cache-dir "${cert[@]}" --no-deps "$here"
    ;;
  *)
    echo "usage: provision.sh --native|--system|--app|--packages NAME..." >&2
    exit 2
    ;;
esac
