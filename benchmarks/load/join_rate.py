#!/usr/bin/python3
"""Joins per second through one or more controllers (benchmarks/load/replicas.sh runs it).

Creates ROOMS meeting rooms through the first address and, for each, PER_ROOM credentials:
single-use invites (--mode=invite) or the room's shared PIN (--mode=pin, where every join checks
the PIN against its Argon2id hash). Then THREADS client threads join all of them as fast as they
can, join i through address i mod the number of addresses, and the wall time from the first join
to the last answer gives the rate. Each join is a real JoinRoom with an SRTP audio offer: the
controller reserves the participant, the media node creates the room's session (first join) and
the endpoint. Prints one JSON line: joins, refusals by code, seconds, joins per second, latency
p50 and p99 in ms.

Only Debian packages: python3-grpcio, python3-protobuf, protoc and grpc_python_plugin (the stubs
are generated at start from the repository's proto/ folder into a temporary folder).
"""

import argparse
import base64
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc


def load_stubs(proto_dir, out_dir):
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        sys.exit("join_rate: protoc and grpc_python_plugin are needed (scripts/install-deps.sh)")
    proto = Path(proto_dir) / "chorus" / "v1" / "rooms.proto"
    subprocess.run([protoc, f"-I{proto_dir}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}", f"--plugin=protoc-gen-grpc_python={plugin}",
                    str(proto)], check=True)
    sys.path.insert(0, str(out_dir))
    return (importlib.import_module("chorus.v1.rooms_pb2"),
            importlib.import_module("chorus.v1.rooms_pb2_grpc"))


def offer(pb, port):
    media = pb.MediaOffer()
    stream = media.rtp.streams.add()
    stream.kind = pb.MEDIA_KIND_AUDIO
    codec = stream.codecs.add()
    codec.name = "opus"
    codec.payload_type = 111
    codec.clock_rate = 48000
    codec.channels = 2
    stream.address = "127.0.0.1"
    stream.port = port
    stream.key.suite = pb.SRTP_SUITE_AES_CM_128_HMAC_SHA1_80
    stream.key.key_base64 = base64.b64encode(os.urandom(30)).decode()
    return media


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addresses", required=True, help="controllers, host:port,host:port")
    parser.add_argument("--proto_dir", required=True, help="the repository's proto/ folder")
    parser.add_argument("--mode", choices=["invite", "pin"], default="invite")
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--per_room", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--first_port", type=int, default=53000,
                        help="where the simulated participants say they receive (nobody listens)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as generated:
        pb, pb_grpc = load_stubs(args.proto_dir, generated)
        addresses = args.addresses.split(",")
        channels = [grpc.insecure_channel(a) for a in addresses]
        stubs = [pb_grpc.RoomsStub(c) for c in channels]
        setup = stubs[0]

        # The rooms and their credentials, through the first address.
        work = []
        for r in range(args.rooms):
            create = pb.CreateRoomRequest()
            create.room.kind = pb.ROOM_KIND_MEETING
            create.room.max_participants = args.per_room + 1
            if args.mode == "pin":
                create.room.access_mode = pb.ACCESS_MODE_SHARED_PIN
                create.guest_pin = "246813"
            room = setup.CreateRoom(create, timeout=10)
            for _ in range(args.per_room):
                if args.mode == "pin":
                    work.append((room.name, None))
                    continue
                invite = pb.CreateInviteRequest(parent=room.name)
                invite.invite.role = pb.ROLE_GUEST
                work.append((room.name, setup.CreateInvite(invite, timeout=10).token))

        latencies = []
        codes = {}
        lock = threading.Lock()
        start = threading.Barrier(args.threads + 1)

        def run(thread):
            mine = []
            mine_codes = {}
            start.wait()
            for i in range(thread, len(work), args.threads):
                room, token = work[i]
                request = pb.JoinRoomRequest(room=room)
                if token is None:
                    request.pin = "246813"
                else:
                    request.invite_token = token
                request.offer.CopyFrom(offer(pb, args.first_port + i % 1000))
                began = time.monotonic()
                try:
                    stubs[i % len(stubs)].JoinRoom(request, timeout=30)
                    code = "OK"
                except grpc.RpcError as error:
                    code = error.code().name
                mine.append((time.monotonic() - began) * 1000.0)
                mine_codes[code] = mine_codes.get(code, 0) + 1
            with lock:
                latencies.extend(mine)
                for code, count in mine_codes.items():
                    codes[code] = codes.get(code, 0) + count

        threads = [threading.Thread(target=run, args=(t,)) for t in range(args.threads)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.monotonic()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - began
        joined = codes.get("OK", 0)
        print(json.dumps({
            "mode": args.mode, "controllers": len(addresses), "threads": args.threads,
            "joins": len(work), "ok": joined, "codes": codes, "seconds": round(seconds, 3),
            "joins_per_second": round(joined / seconds, 1) if seconds > 0 else 0.0,
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p99": round(percentile(latencies, 0.99), 1),
        }))
        for channel in channels:
            channel.close()


if __name__ == "__main__":
    main()
