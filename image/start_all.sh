#!/usr/bin/env bash
# Starts the desktop (Xvfb, window manager, panel, x11vnc), noVNC, the combined
# page and the Streamlit app, each waiting for the one it needs, and supervises
# them: a service that dies is reported by name; a desktop process brings the
# desktop back (a few times), any other stops everything. SIGUSR1 (the app's
# Reset) restarts only the desktop's own processes, by their pids.
#
# Users: as root (the image, or ./run.sh by root), every desktop process (Xvfb,
# window manager, panel, VNC, noVNC, the page server, and so every app started
# from the panel) runs as the tools' account (COMPUTER_USE_TOOLS_USER, default
# computeruse), which also runs every tool; only the app keeps root, the key and
# the other credentials. Desktop processes get a short list of variables, never
# a credential, whoever runs them.
#
# Network: every service listens on 127.0.0.1 unless BIND_ADDRESS says otherwise
# (e.g. BIND_ADDRESS=0.0.0.0); exposed, VNC (and so noVNC) needs VNC_PASSWORD.
# The image's entrypoint binds inside the container (CONTAINER_NETWORK=1): its
# ports are reachable only where `docker run -p` publishes them.
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
BIND_ADDRESS="${BIND_ADDRESS:-127.0.0.1}"
# Files the tools read and write are UTF-8 whatever the locale says.
export PYTHONUTF8=1

# Logs and pid files: a private per-user folder (0700, ours, never a planted
# link), not a shared path under /tmp.
private_dir() {  # private_dir NAME [REQUESTED]: print a safe folder, or fail
  "$PYTHON" -c 'import sys; from computer_use_demo.tool_output.private_files import main; sys.exit(main(sys.argv[1:]))' "$@"
}
LOG_DIR="$(private_dir logs "${LOG_DIR:-}")" || {
  echo "start_all: no private folder for the logs" >&2
  exit 1
}
RUN_DIR="$(private_dir "run-display-$DISPLAY_NUM")" || exit 1
export COMPUTER_USE_RUN_DIR="$RUN_DIR"

# The tools' account, and the clean environment every desktop process starts with.
tools_user=""
as_tools=()
desktop_path="$PATH"
if [ "$(id -u)" -eq 0 ]; then
  tools_user="${COMPUTER_USE_TOOLS_USER:-computeruse}"
  if ! tools_uid="$(id -u "$tools_user" 2>/dev/null)"; then
    echo "start_all: as root, the desktop and the tools run as the account $tools_user, which does not exist: create it (image/provision.sh --native does) or name another in COMPUTER_USE_TOOLS_USER" >&2
    exit 1
  fi
  if [ "$tools_uid" -eq 0 ]; then
    echo "start_all: COMPUTER_USE_TOOLS_USER must name an unprivileged account, not root" >&2
    exit 1
  fi
  tools_home="$(getent passwd "$tools_user" | cut -d: -f6)"
  export COMPUTER_USE_TOOLS_USER="$tools_user"
  as_tools=(setpriv "--reuid=$tools_uid" "--regid=$(id -g "$tools_user")" --init-groups --)
  # Our PATH less the folders that account cannot search (root's own tools).
  # shellcheck disable=SC2016 # expanded by the account's shell, not here
  desktop_path="$("${as_tools[@]}" sh -c 'IFS=:; for d in $1; do [ -x "$d" ] && printf "%s:" "$d"; done' sh "$PATH")"
  desktop_path="${desktop_path%:}"
fi
desktop_env=(env -i "PATH=$desktop_path"
  "LANG=${LANG:-C.UTF-8}" "DISPLAY=$DISPLAY" "DISPLAY_NUM=$DISPLAY_NUM" "WIDTH=$WIDTH"
  "HEIGHT=$HEIGHT" "PYTHONUTF8=1" "XDG_SESSION_TYPE=x11")
if [ -n "$tools_user" ]; then
  desktop_env+=("HOME=$tools_home" "USER=$tools_user" "LOGNAME=$tools_user" "SHELL=/bin/bash")
else
  desktop_env+=("HOME=$HOME" "USER=$(id -un)" "LOGNAME=$(id -un)" "SHELL=/bin/bash")
fi
desktop=("${desktop_env[@]}" "${as_tools[@]}")  # the prefix of every desktop command

case "$BIND_ADDRESS" in
  127.* | localhost | ::1) exposed=0 ;;
  *) exposed=1 ;;
esac
if [ "$exposed" = 1 ] && [ "${CONTAINER_NETWORK:-0}" != 1 ] && [ -z "${VNC_PASSWORD:-}" ]; then
  echo "start_all: BIND_ADDRESS=$BIND_ADDRESS would expose the desktop without a password: set VNC_PASSWORD (VNC and noVNC ask for it), or leave BIND_ADDRESS unset for 127.0.0.1" >&2
  exit 1
fi
vnc_auth=(-nopw)
vnc_password_file=""
if [ -n "${VNC_PASSWORD:-}" ]; then
  # printf is a builtin: the password never appears in a process's arguments.
  (umask 077 && printf '%s\n' "$VNC_PASSWORD" >"$RUN_DIR/vnc.passwd")
  # x11vnc runs as the tools' account: it gets a copy it removes once read (rm:).
  vnc_handoff="$(mktemp -d /tmp/computer-use-vnc.XXXXXX)"
  [ -z "$tools_user" ] || chown "$tools_user:" "$vnc_handoff"
  vnc_password_file="$vnc_handoff/passwd"
  vnc_auth=(-passwdfile "rm:$vnc_password_file")
fi
unset VNC_PASSWORD  # no service after this point needs it in its environment
if [ "$exposed" = 1 ]; then
  vnc_listen=(-listen "$BIND_ADDRESS")
else
  vnc_listen=(-localhost)
fi
case "$BIND_ADDRESS" in *:*) ;; *) vnc_listen+=(-noipv6) ;; esac

declare -A pid_of=()
names=()
start() {  # start NAME COMMAND...: run in the background, logging to LOG_DIR/NAME.log
  local name="$1"
  shift
  if [ -n "${pid_of[$name]:-}" ]; then  # a restart: keep the earlier log
    echo "--- restarted $(date '+%F %T') ---" >>"$LOG_DIR/$name.log"
  else
    : >"$LOG_DIR/$name.log"
  fi
  "$@" >>"$LOG_DIR/$name.log" 2>&1 &
  pid_of[$name]=$!
  echo "$!" >"$RUN_DIR/$name.pid"
  case " ${names[*]} " in *" $name "*) ;; *) names+=("$name") ;; esac
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

stop_service() {  # stop_service NAME: by the pid we started, never by name
  local pid="${pid_of[$1]:-}"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$1.pid"
}

stop_all() {
  for name in "${names[@]}"; do kill "${pid_of[$name]}" 2>/dev/null || true; done
  # Gone before we are (at most 5 s): a display still held by a dying Xvfb
  # would be taken for the next run's own, whose window manager then fails.
  local deadline=$((SECONDS + 5)) name state
  for name in "${names[@]}"; do
    while state="$(ps -o stat= -p "${pid_of[$name]}" 2>/dev/null)" \
      && [ "${state:0:1}" != Z ] && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.1
    done
  done
  rm -f "$RUN_DIR"/*.pid
  rm -rf "${public_dir:-}" "${vnc_handoff:-}"
}
trap stop_all EXIT
# What the desktop's servers show (noVNC, our desktop view, the combined page):
# public files, copied where the tools' account can read them and not change them.
public_dir="$(mktemp -d /tmp/computer-use-public.XXXXXX)"
chmod 0755 "$public_dir"
cp "$here/http_server.py" "$public_dir/"
cp -r "$here/static" "$public_dir/static"
trap 'echo "start_all: stopping"; exit 0' INT TERM
reset_requested=0
trap 'reset_requested=1' USR1

DESKTOP=(x11vnc panel window-manager xvfb)
start_desktop() {
  rm -f "/tmp/.X${DISPLAY_NUM}-lock"
  start xvfb "${desktop[@]}" Xvfb "$DISPLAY" -screen 0 "${WIDTH}x${HEIGHT}x24" -dpi 96 -nolisten tcp -nolisten unix
  wait_for "the X display $DISPLAY" 30 xdpyinfo -display "$DISPLAY" || return 1
  start window-manager "${desktop[@]}" mutter --replace --x11 --sm-disable
  wait_for "the window manager" 30 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q window" || true
  cp "$here/tint2rc" "$public_dir/tint2rc"
  start panel "${desktop[@]}" tint2 -c "$public_dir/tint2rc"
  if [ -n "$vnc_password_file" ]; then
    install -m 0400 ${tools_user:+-o "$tools_user"} "$RUN_DIR/vnc.passwd" "$vnc_password_file"
  fi
  start x11vnc "${desktop[@]}" x11vnc -display "$DISPLAY" -forever -shared -wait 50 -rfbport "$VNC_PORT" \
    "${vnc_listen[@]}" "${vnc_auth[@]}" -noxdamage
  wait_for "VNC on port $VNC_PORT" 30 port_open "$VNC_PORT" || return 1
  desktop_generation=$((desktop_generation + 1))
  echo "$desktop_generation" >"$RUN_DIR/desktop.ready"  # Reset waits for this
}
desktop_generation=0

restart_desktop() {  # the app's Reset: the desktop only; the app and noVNC stay up
  echo "start_all: restarting the desktop"
  for name in "${DESKTOP[@]}"; do stop_service "$name"; done
  if ! start_desktop; then
    echo "start_all: the desktop did not come back" >&2
    exit 1
  fi
  echo "start_all: desktop restarted"
}

if [ -e "/tmp/.X${DISPLAY_NUM}-lock" ] && xdpyinfo -display "$DISPLAY" >/dev/null 2>&1; then
  echo "start_all: display $DISPLAY is already in use; set DISPLAY_NUM to another number" >&2
  exit 1
fi
start_desktop || exit 1
# noVNC plus our desktop view (desktop.html, which reconnects), as one folder.
novnc_web="$public_dir/novnc-web"
"$here/novnc/web_dir.sh" "$novnc_web" || exit 1
start novnc "${desktop[@]}" websockify --web "$novnc_web" "$BIND_ADDRESS:$NOVNC_PORT" "127.0.0.1:$VNC_PORT"
wait_for "noVNC on port $NOVNC_PORT" 30 port_open "$NOVNC_PORT" || exit 1
# The page server needs the standard library only: the system's python3, which
# the tools' account can run (our venv may live where it cannot read).
start page "${desktop[@]}" python3 "$public_dir/http_server.py" "$PAGE_PORT" "$public_dir/static" \
  --bind "$BIND_ADDRESS" --app-port "$STREAMLIT_PORT" --vnc-port "$NOVNC_PORT"
# The app logs its budget to its own log; say it here too, in the container's
# (in the background and bounded: it must never hold the stack up).
(cd "$APP_ROOT" && timeout 30 "$PYTHON" -m computer_use_demo.startup_log || true) &
export COMPUTER_USE_SUPERVISOR_PID=$$
start streamlit "$PYTHON" -m streamlit run "$APP_ROOT/computer_use_demo/streamlit.py" \
  --server.port "$STREAMLIT_PORT" --server.address "$BIND_ADDRESS" --server.headless true \
  --browser.gatherUsageStats false --client.showErrorDetails type
wait_for "Streamlit on port $STREAMLIT_PORT" 60 port_open "$STREAMLIT_PORT" || exit 1
echo "$$" >"$RUN_DIR/start_all.pid"

echo "start_all: ready — open http://localhost:${PAGE_PORT} (app http://localhost:${STREAMLIT_PORT}, noVNC http://localhost:${NOVNC_PORT}/vnc.html)"

# Report a service that dies, by name. A desktop process is restarted with the
# desktop (3 times at most within 5 minutes); anything else stops the stack.
# The desktop is also restarted on request (Reset).
desktop_failures=0
last_failure_at=0
while true; do
  if [ "$reset_requested" = 1 ]; then
    reset_requested=0
    restart_desktop
  fi
  if [ $((SECONDS - last_failure_at)) -gt 300 ]; then desktop_failures=0; fi
  for name in "${names[@]}"; do
    if ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
      status=0
      wait "${pid_of[$name]}" || status=$?
      echo "start_all: $name exited (status $status); see $LOG_DIR/$name.log" >&2
      case " ${DESKTOP[*]} " in
        *" $name "*)
          if [ "$desktop_failures" -lt 3 ]; then
            desktop_failures=$((desktop_failures + 1))
            last_failure_at=$SECONDS
            restart_desktop
            continue 2
          fi
          ;;
      esac
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true  # a signal ends the wait at once
done
