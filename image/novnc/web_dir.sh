#!/usr/bin/env bash
# web_dir.sh DEST: make DEST the folder websockify serves, noVNC's own web
# folder (NOVNC_WEB, Debian's /usr/share/novnc by default) as links, with our
# desktop view beside it. The view must come from the WebSocket's origin to
# load noVNC's modules, so the two are served as one folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$1"
source="${NOVNC_WEB:-/usr/share/novnc}"
if [ ! -e "$source/core/rfb.js" ]; then
  echo "web_dir: no noVNC in $source (Debian package novnc)" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
for entry in "$source"/*; do ln -s "$entry" "$dest/"; done
# A copy, not a link: the folder may live where its reader cannot follow a link.
cp "$here/desktop.html" "$dest/desktop.html"
