#!/usr/bin/python3
"""The platform stand-in of the web client's end-to-end tests: a web server on another origin than
chorusd's, serving the harness page (web_harness.html and .js), which loads chorusd's own
/chorus.js and /app.js and mounts the real client into itself, as an embedding platform would.

The test script drives each page by name through a command queue:
  POST /cmd/<name>          (the script) queues a JSON command, answers {"id": n}
  GET  /next/<name>?after=n (the page) waits (at most 10 s) for the command after n; 204 if none
  POST /result/<name>/<n>   (the page) the command's result, written to <out_dir>/<name>-<n>.json
  POST /log/<name>          (the page) a line for <out_dir>/<name>.log (what the page saw)
Nothing here ever receives a token from the page: the script puts the invitation into the mount
command itself.

Usage: web_harness.py --listen 127.0.0.1:PORT --out_dir DIR
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
FILES = {
    "/": ("web_harness.html", "text/html; charset=utf-8"),
    "/web_harness.js": ("web_harness.js", "text/javascript; charset=utf-8"),
}
POLL_SECONDS = 10


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--out_dir", required=True)
    args = parser.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    queues = {}  # page name -> list of commands (their id is their index + 1)
    changed = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *unused):
            pass

        def reply(self, code, body=b"", kind="application/json"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path in FILES:
                name, kind = FILES[url.path]
                self.reply(200, (HERE / name).read_bytes(), kind)
                return
            parts = url.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "next":
                after = int(parse_qs(url.query).get("after", ["0"])[0])
                with changed:
                    changed.wait_for(lambda: len(queues.get(parts[1], [])) > after, POLL_SECONDS)
                    queue = queues.get(parts[1], [])
                    command = queue[after] if len(queue) > after else None
                if command is None:
                    self.reply(204)
                else:
                    self.reply(200, json.dumps(command))
                return
            self.reply(404, "{}")

        def do_POST(self):
            parts = urlsplit(self.path).path.strip("/").split("/")
            data = self.body()
            if len(parts) == 2 and parts[0] == "cmd":
                command = json.loads(data)
                with changed:
                    queue = queues.setdefault(parts[1], [])
                    command["id"] = len(queue) + 1
                    queue.append(command)
                    changed.notify_all()
                self.reply(200, json.dumps({"id": command["id"]}))
            elif len(parts) == 3 and parts[0] == "result":
                target = out_dir / f"{parts[1]}-{int(parts[2])}.json"
                partial = target.with_suffix(".part")
                partial.write_bytes(data)
                partial.rename(target)  # whole or absent for the script that polls for it
                self.reply(200, "{}")
            elif len(parts) == 2 and parts[0] == "log":
                with open(out_dir / f"{parts[1]}.log", "ab") as log:
                    log.write(data.replace(b"\n", b" ") + b"\n")
                self.reply(200, "{}")
            else:
                self.reply(404, "{}")

    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    print(f"listening {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
