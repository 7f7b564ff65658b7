"""Serves the combined page (the app beside the desktop) and where its parts listen.

Static files only, plus `/ports.js` naming the app's and noVNC's ports.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PageHandler(SimpleHTTPRequestHandler):
    ports: dict[str, int] = {}

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/ports.js":
            body = f"window.PORTS = {json.dumps(self.ports)};\n".encode()
            self.send_response(200)
            self.send_header("content-type", "application/javascript")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int, nargs="?", default=8080)
    parser.add_argument("directory", nargs="?", default="static")
    parser.add_argument("--app-port", type=int, default=8501)
    parser.add_argument("--vnc-port", type=int, default=6080)
    parser.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (default: loopback)"
    )
    args = parser.parse_args()
    handler = type(
        "Handler",
        (PageHandler,),
        {"ports": {"app": args.app_port, "vnc": args.vnc_port}},
    )
    server = ThreadingHTTPServer(
        (args.bind, args.port), partial(handler, directory=args.directory)
    )
    print(f"serving {args.directory} on port {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
