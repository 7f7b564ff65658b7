#!/usr/bin/env bash
# Starts the desktop (Xvfb, window manager, panel), VNC, noVNC, the combined page
# and the Streamlit app, each waiting for the one it needs. Exits non-zero if the
# desktop cannot start; a service that dies is reported by name.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export DISPLAY_NUM="${DISPLAY_NUM:-1}"
export DISPLAY=":${DISPLAY_NUM}"
export WIDTH="${WIDTH:-1024}"
export HEIGHT="${HEIGHT:-768}"
VNC_PORT="${VNC_PORT:-5900}"
NOVNC_PORT="${NOVNC_PORT:-6080}"
PAGE_PORT="${PAGE_PORT:-8080}"
STREAMLIT_PORT="${STREAMLIT_PORT:-8501}"
APP_ROOT="${APP_ROOT:-$(cd "$here/.." && pwd)}"
PYTHON="${PYTHON:-$APP_ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=/opt/venv/bin/python
LOG_DIR="${LOG_DIR:-/tmp/computer-use-logs}"
mkdir -p "$LOG_DIR"

pids=()
names=()
start() {  # start NAME COMMAND...: run in the background, logging to LOG_DIR/NAME.log
  local name="$1"
  shift
  "$@" >"$LOG_DIR/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
  echo "start_all: started $name (pid $!, log $LOG_DIR/$name.log)"
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "start_all: $what did not come up within ${seconds}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

port_open() { nc -z 127.0.0.1 "$1"; }

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'echo "start_all: stopping"; exit 0' INT TERM

if [ -e "/tmp/.X${DISPLAY_NUM}-lock" ] && xdpyinfo -display "$DISPLAY" >/dev/null 2>&1; then
  echo "start_all: display $DISPLAY is already in use; set DISPLAY_NUM to another number" >&2
  exit 1
fi
rm -f "/tmp/.X${DISPLAY_NUM}-lock"
start xvfb Xvfb "$DISPLAY" -screen 0 "${WIDTH}x${HEIGHT}x24" -dpi 96 -nolisten tcp -nolisten unix
wait_for "the X display $DISPLAY" 30 xdpyinfo -display "$DISPLAY" || exit 1

XDG_SESSION_TYPE=x11 start window-manager mutter --replace --x11 --sm-disable
wait_for "the window manager" 30 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q window" || true
start panel tint2 -c "$here/tint2rc"
start x11vnc x11vnc -display "$DISPLAY" -forever -shared -wait 50 -rfbport "$VNC_PORT" -nopw -noxdamage
wait_for "VNC on port $VNC_PORT" 30 port_open "$VNC_PORT" || exit 1
start novnc websockify --web /usr/share/novnc "$NOVNC_PORT" "127.0.0.1:$VNC_PORT"
wait_for "noVNC on port $NOVNC_PORT" 30 port_open "$NOVNC_PORT" || exit 1
start page "$PYTHON" "$here/http_server.py" "$PAGE_PORT" "$here/static" \
  --app-port "$STREAMLIT_PORT" --vnc-port "$NOVNC_PORT"
# The app logs its budget to its own log; say it here too, in the container's.
(cd "$APP_ROOT" && "$PYTHON" -m computer_use_demo.startup_log) || true
start streamlit "$PYTHON" -m streamlit run "$APP_ROOT/computer_use_demo/streamlit.py" \
  --server.port "$STREAMLIT_PORT" --server.address 0.0.0.0 --server.headless true \
  --browser.gatherUsageStats false
wait_for "Streamlit on port $STREAMLIT_PORT" 60 port_open "$STREAMLIT_PORT" || exit 1

echo "start_all: ready — open http://localhost:${PAGE_PORT} (app http://localhost:${STREAMLIT_PORT}, noVNC http://localhost:${NOVNC_PORT}/vnc.html)"

# Report the first service that dies, by name, and stop.
while true; do
  for index in "${!pids[@]}"; do
    if ! kill -0 "${pids[$index]}" 2>/dev/null; then
      status=0
      wait "${pids[$index]}" || status=$?
      echo "start_all: ${names[$index]} exited (status $status); see $LOG_DIR/${names[$index]}.log" >&2
      exit 1
    fi
  done
  sleep 1
done
