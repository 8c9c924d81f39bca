#!/usr/bin/python3
"""Serves page.html on 127.0.0.1 for run.sh and collects what the browsers post.

Usage: server.py OUT_DIR PORT_FILE [ANSWER_TOOL]

POST /offer/NAME writes OUT_DIR/NAME.sdp; POST /result/NAME writes OUT_DIR/NAME.result; POST
/answer runs ANSWER_TOOL on the posted offer and returns its answer, or "ERROR ..." with its
message. The port (chosen by the system) is written to PORT_FILE once listening.
"""

import http.server
import os
import subprocess
import sys

OUT_DIR = sys.argv[1]
PORT_FILE = sys.argv[2]
ANSWER_TOOL = sys.argv[3] if len(sys.argv) > 3 else None
HERE = os.path.dirname(os.path.abspath(__file__))


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=HERE, **kwargs)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind, _, name = self.path.strip("/").partition("/")
        reply = b"ok"
        if kind == "answer" and ANSWER_TOOL:
            result = subprocess.run([ANSWER_TOOL], input=body, capture_output=True)
            reply = result.stdout if result.returncode == 0 else b"ERROR " + result.stderr
        elif kind in ("offer", "offer-error", "result") and name.replace("_", "").isalnum():
            suffix = {"offer": ".sdp", "offer-error": ".error", "result": ".result"}[kind]
            with open(os.path.join(OUT_DIR, name + suffix), "wb") as out:
                out.write(body)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w") as port_file:
    port_file.write(str(server.server_address[1]))
server.serve_forever()
