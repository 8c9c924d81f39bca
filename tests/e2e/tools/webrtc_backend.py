#!/usr/bin/python3
"""A stand-in for a hospital platform's backend, for the browser end-to-end tests: serves the test
page, and joins the browser into a room through the public API with the browser's SDP offer
(POST /join), the way a platform's own backend would (the page never sees the API token). The
page posts its measurements to /result/<name>; they are written to <out_dir>/<name>.json.

Usage: webrtc_backend.py --listen 127.0.0.1:PORT --server HOST:PORT --out_dir DIR
"""
import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def load_stubs(out_dir):
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    proto = REPO / "proto" / "chorus" / "v1" / "rooms.proto"
    subprocess.run([protoc, f"-I{REPO / 'proto'}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}", f"--plugin=protoc-gen-grpc_python={plugin}",
                    str(proto)], check=True, capture_output=True)
    sys.path.insert(0, str(out_dir))
    return (importlib.import_module("chorus.v1.rooms_pb2"),
            importlib.import_module("chorus.v1.rooms_pb2_grpc"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--out_dir", required=True)
    args = parser.parse_args()
    import grpc
    stubs = tempfile.mkdtemp()
    pb, pb_grpc = load_stubs(stubs)
    stub = pb_grpc.RoomsStub(grpc.insecure_channel(args.server))
    out_dir = Path(args.out_dir)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *unused):
            pass

        def reply(self, code, body, kind="application/json"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.split("?")[0] == "/":
                self.reply(200, (HERE / "webrtc_page.html").read_bytes(), "text/html")
            else:
                self.reply(404, "{}")

        def do_POST(self):
            length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/join":
                request = pb.JoinRoomRequest(room=f"rooms/{body['room']}",
                                             invite_token=body["invite_token"])
                request.offer.webrtc.sdp = body["sdp"]
                try:
                    response = stub.JoinRoom(request, timeout=10)
                except grpc.RpcError as error:
                    self.reply(400, json.dumps({"error": error.details()}))
                    return
                self.reply(200, json.dumps({"sdp": response.answer.webrtc.sdp,
                                            "participant": response.participant.name}))
            elif self.path == "/update":
                # Renegotiation (a screen share starts): UpdateMedia, then show it.
                request = pb.UpdateMediaRequest(name=body["participant"])
                request.offer.webrtc.sdp = body["sdp"]
                try:
                    response = stub.UpdateMedia(request, timeout=10)
                    if body.get("share"):
                        stub.SetContentSharing(pb.SetContentSharingRequest(
                            name=body["participant"], enabled=True), timeout=10)
                except grpc.RpcError as error:
                    self.reply(400, json.dumps({"error": error.details()}))
                    return
                self.reply(200, json.dumps({"sdp": response.answer.webrtc.sdp}))
            elif self.path.startswith("/result/"):
                name = "".join(c for c in self.path[len("/result/"):] if c.isalnum())
                (out_dir / f"{name}.json").write_text(json.dumps(body))
                self.reply(200, "{}")
            else:
                self.reply(404, "{}")

    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
