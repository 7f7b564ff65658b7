"""Scripted scenes on a real desktop for the settle tests and benchmark B7: the
image's window manager and panel on Xvfb, a small Tk app, xterm, Firefox and a
local web server. Every process started here is stopped by its owner's `close`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SLOW_PAGE_SECONDS = 0.5

# One small Tk program, one scene per mode; once drawn it prints the screen
# coordinates of what a scene clicks, as one JSON line.
TK_APP = r"""
import json, sys, tkinter as tk

mode = sys.argv[1]
root = tk.Tk()
root.title("b7-" + mode)
root.geometry("520x360+60+60")
places = {}

def centre(widget):
    return [widget.winfo_rootx() + widget.winfo_width() // 2,
            widget.winfo_rooty() + widget.winfo_height() // 2]

if mode == "menu":
    button = tk.Menubutton(root, text="File", relief="raised", font=("DejaVu Sans", 14))
    menu = tk.Menu(button, tearoff=0, font=("DejaVu Sans", 14))
    for label in ("New", "Open", "Save", "Save as", "Print", "Quit"):
        menu.add_command(label=label)
    button["menu"] = menu
    button.pack(anchor="nw", padx=10, pady=10)
    widgets = {"file": button}
elif mode == "buttons":
    counts = {"fast": 0, "slow": 0}
    def later(name, delay_ms):
        counts[name] += 1
        text = f"{name} done {counts[name]}"
        root.after(delay_ms, lambda: labels[name].config(text=text))
    fast = tk.Button(root, text="fast (300 ms)", font=("DejaVu Sans", 14),
                     command=lambda: later("fast", 300))
    slow = tk.Button(root, text="slow (1.5 s)", font=("DejaVu Sans", 14),
                     command=lambda: later("slow", 1500))
    labels = {"fast": tk.Label(root, text="fast: waiting", font=("DejaVu Sans", 18)),
              "slow": tk.Label(root, text="slow: waiting", font=("DejaVu Sans", 18))}
    fast.pack(pady=8); labels["fast"].pack(pady=8)
    slow.pack(pady=8); labels["slow"].pack(pady=8)
    widgets = {"fast": fast, "slow": slow}
elif mode == "newwindow":
    opened = []
    def open_window(event=None):
        top = tk.Toplevel(root)
        top.title(f"b7-second-{len(opened)}")
        top.geometry("360x240+240+200")
        tk.Label(top, text="a new window", font=("DejaVu Sans", 20)).pack(expand=True)
        top.bind("<Control-w>", lambda e: top.destroy())
        opened.append(top)
        top.focus_force()
    root.bind("<Control-n>", open_window)
    tk.Label(root, text="Ctrl+N opens a window", font=("DejaVu Sans", 16)).pack(expand=True)
    widgets = {}
elif mode == "idle":
    entry = tk.Entry(root, font=("DejaVu Sans", 16))
    entry.pack(padx=20, pady=40, fill="x")
    entry.focus_force()
    widgets = {"entry": entry}
elif mode == "animation":
    canvas = tk.Canvas(root, width=300, height=200, background="white")
    canvas.pack(padx=20, pady=20)
    ball = canvas.create_oval(0, 80, 40, 120, fill="red")
    step = [4]
    def move():
        x0, _, x1, _ = canvas.coords(ball)
        # Turn only toward the middle: a ball flipping at its edge would
        # alternate two frames, which a sampler can see as one still screen.
        if (x1 >= 300 and step[0] > 0) or (x0 <= 0 and step[0] < 0):
            step[0] = -step[0]
        canvas.move(ball, step[0], 0)
        root.after(20, move)
    move()
    widgets = {"canvas": canvas}

def ready():
    root.update_idletasks()
    places.update({name: centre(widget) for name, widget in widgets.items()})
    if mode == "animation":
        canvas = widgets["canvas"]
        places["canvas_box"] = [canvas.winfo_rootx(), canvas.winfo_rooty(),
                                canvas.winfo_rootx() + canvas.winfo_width(),
                                canvas.winfo_rooty() + canvas.winfo_height()]
    places["window"] = [root.winfo_rootx(), root.winfo_rooty()]
    print(json.dumps(places), flush=True)

root.after(600, ready)
root.mainloop()
"""

FIREFOX_PREFS = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.auto": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.tabs.warnOnClose": False,
    "browser.warnOnQuit": False,
    "browser.translations.automaticallyPopup": False,
    "extensions.pocket.enabled": False,
    "browser.newtabpage.enabled": False,
    "signon.rememberSignons": False,
}

LONG_TEXT = "".join(
    f"<p>Line {n}: the quick brown fox jumps over the lazy dog, paragraph {n}.</p>"
    for n in range(1, 400)
)
HEAD = "<head><link rel='icon' href='data:,'></head>"
PAGES = {
    "/links": (
        f"<html>{HEAD}<body style='margin:0;font-family:DejaVu Sans'>"
        "<a href='/slow' style='display:block;height:3000px;font-size:40px;"
        "background:#eef;color:#00c'>Open the slow page</a></body></html>"
    ),
    "/long": f"<html>{HEAD}<body style='font-family:DejaVu Sans'>{LONG_TEXT}</body></html>",
}
SLOW_PAGE = (
    f"<html>{HEAD}<body style='margin:0;background:#fed;font-family:DejaVu Sans'>"
    "<h1 style='font-size:60px'>The slow page arrived</h1>"
    + "".join(f"<p style='font-size:24px'>result row {n}</p>" for n in range(30))
    + "</body></html>"
)


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(SLOW_PAGE_SECONDS)
            body = SLOW_PAGE
        else:
            body = PAGES.get(self.path, "<html><body>not found</body></html>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@dataclass
class Desktop:
    """Xvfb with mutter and tint2 (as image/start_all.sh starts them)."""

    width: int
    height: int
    number: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            "DISPLAY": f":{self.number}",
            "DISPLAY_NUM": str(self.number),
            "WIDTH": str(self.width),
            "HEIGHT": str(self.height),
        }

    def start(self) -> Desktop:
        self.number = _free_display_number()
        self.spawn(
            "Xvfb",
            f":{self.number}",
            "-screen",
            "0",
            f"{self.width}x{self.height}x24",
            "-dpi",
            "96",
            "-nolisten",
            "tcp",
        )
        _wait_for(lambda: self.x_client_ok("xdpyinfo"), 15, "Xvfb")
        self.spawn(
            "mutter", "--replace", "--x11", "--sm-disable", XDG_SESSION_TYPE="x11"
        )
        _wait_for(
            lambda: (
                "window id" in self.output("xprop", "-root", "_NET_SUPPORTING_WM_CHECK")
            ),
            20,
            "mutter",
        )
        self.spawn("tint2", "-c", str(ROOT / "image" / "tint2rc"))
        _wait_for(self._pointer_moves, 20, "the pointer (tint2)")
        return self

    def spawn(self, *command: str, **env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            command,
            env={**os.environ, **self.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def output(self, *command: str) -> str:
        return subprocess.run(
            command,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def x_client_ok(self, *command: str) -> bool:
        return (
            subprocess.run(
                command,
                env={**os.environ, **self.env},
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    def _pointer_moves(self) -> bool:
        self.output("xdotool", "mousemove", "3", "3")
        moved = "X=3\n" in self.output("xdotool", "getmouselocation", "--shell")
        self.output("xdotool", "mousemove", str(self.width - 1), "0")
        return moved

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        self.processes.clear()


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class TkScene:
    """One mode of the Tk app on the desktop; `places` are screen pixels."""

    def __init__(self, display_env: Mapping[str, str], mode: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="b7-tk-"))
        script = self.directory / "app.py"
        script.write_text(TK_APP)
        self.process = subprocess.Popen(
            [sys.executable, str(script), mode],
            env={**os.environ, **display_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(
                f"the Tk app ({mode}) did not start: is tkinter installed?"
            )
        self.places: dict[str, list[int]] = json.loads(line)

    def close(self) -> None:
        stop(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


class WebServer:
    """The local pages: /links, /long, and /slow that answers after 0.5 s."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Firefox:
    """firefox-esr with a fresh quiet profile, its window filling the screen."""

    def __init__(self, desktop: Desktop, url: str) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="b7-firefox-"))
        image_prefs = (ROOT / "image" / "firefox-prefs.js").read_text()
        (self.profile / "user.js").write_text(
            "".join(
                f"user_pref({json.dumps(name)}, {json.dumps(value)});\n"
                for name, value in FIREFOX_PREFS.items()
            )
            + image_prefs.replace("\npref(", "\nuser_pref(")
        )
        self.process = desktop.spawn(
            "firefox-esr", "--no-remote", "--new-instance", "--profile",
            str(self.profile), url,
        )  # fmt: skip
        window: list[str] = []

        def opened() -> bool:
            window[:] = desktop.output(
                "xdotool", "search", "--onlyvisible", "--class", "firefox"
            ).split()
            return bool(window) and self.process.poll() is None

        _wait_for(opened, 90, "a Firefox window")
        desktop.output(
            "xdotool", "windowmove", "--sync", window[-1], "0", "0",
            "windowsize", "--sync", window[-1], str(desktop.width), str(desktop.height - 40),
        )  # fmt: skip

    def close(self) -> None:
        stop(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)


def _free_display_number() -> int:
    for number in range(120, 220):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            return number
    raise RuntimeError("no free X display number between :120 and :219")


def _wait_for(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {seconds:g} s")
