#!/usr/bin/python3
"""A WebRTC participant made with aiortc (an independent WebRTC implementation), for the
end-to-end tests: joins a room through the public API with its SDP offer (complete, no trickle),
sends a sine tone (and optionally a solid-colour camera), records what it receives, and judges it:
the level of given tones in what it hears (FFT), and the mean colour of the video it sees.

Prints one JSON object with the measurements and exits 0 when every expectation holds.
Usage: webrtc_peer.py --server HOST:PORT --room ROOM --invite_token TOKEN --tone 440
                      [--video RRGGBB] --seconds 8 --hear 880:-40 --not_hear 440:-60
"""
import argparse
import asyncio
import fractions
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy

import aioice.ice
import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack, MediaStreamError

REPO = Path(__file__).resolve().parents[3]
SAMPLE_RATE = 48000
FRAME_SAMPLES = 960


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


class ToneTrack(MediaStreamTrack):
    """A sine tone, 20 ms frames of s16 mono at 48 kHz."""
    kind = "audio"

    def __init__(self, hz, amplitude=0.25):
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self.samples = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.samples / SAMPLE_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (numpy.arange(FRAME_SAMPLES) + self.samples) / SAMPLE_RATE
        pcm = (numpy.sin(2 * math.pi * self.hz * t) * self.amplitude * 32767).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.samples += FRAME_SAMPLES
        return frame


class ColourTrack(MediaStreamTrack):
    """A solid colour, 320x240 at 15 frames per second."""
    kind = "video"

    def __init__(self, rgb):
        super().__init__()
        self.rgb = rgb
        self.count = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.count / 15
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        image = numpy.zeros((240, 320, 3), dtype=numpy.uint8)
        image[:, :] = self.rgb
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.count * 6000
        frame.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return frame


def tone_db(samples, hz):
    """Level of `hz` in dBFS (a full-scale sine is 0 dB), Hann-windowed FFT."""
    if len(samples) < SAMPLE_RATE:
        return -200.0
    x = samples.astype(numpy.float64) / 32768.0
    window = numpy.hanning(len(x))
    spectrum = numpy.abs(numpy.fft.rfft(x * window))
    bin_hz = SAMPLE_RATE / len(x)
    k = int(round(hz / bin_hz))
    peak = spectrum[max(0, k - 2):k + 3].max()
    amplitude = 2 * peak / window.sum()
    return 20 * math.log10(max(amplitude, 1e-10))


async def run(args, pb, pb_grpc):
    import grpc
    if args.loopback:
        # aioice leaves loopback addresses out of its candidates; a test in a loopback-only
        # network namespace has nothing else.
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    if args.loss > 0:
        # A lossy link, both ways: a seeded share of the RTP and RTCP this peer sends and
        # receives is dropped after SRTP (as a lossy network would drop the packets).
        import random
        from aiortc import rtcdtlstransport
        rng = random.Random(args.seed)
        send_rtp = rtcdtlstransport.RTCDtlsTransport._send_rtp
        handle_rtp = rtcdtlstransport.RTCDtlsTransport._handle_rtp_data

        async def lossy_send(self, data):
            if rng.random() >= args.loss:
                await send_rtp(self, data)

        async def lossy_handle(self, data, arrival_time_ms):
            if rng.random() >= args.loss:
                await handle_rtp(self, data, arrival_time_ms)
        rtcdtlstransport.RTCDtlsTransport._send_rtp = lossy_send
        rtcdtlstransport.RTCDtlsTransport._handle_rtp_data = lossy_handle
    pc = RTCPeerConnection()
    pc.addTrack(ToneTrack(args.tone, args.amplitude))
    if args.video:
        rgb = [int(args.video[i:i + 2], 16) for i in (0, 2, 4)]
        pc.addTrack(ColourTrack(rgb))
    heard = []
    seen = []
    done = asyncio.Event()

    async def consume(track):
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "audio":
                pcm = frame.to_ndarray()
                if pcm.shape[0] > 1 or frame.layout.name == "stereo":
                    pcm = pcm.reshape(-1, 2)[:, 0] if pcm.size % 2 == 0 else pcm.reshape(-1)
                heard.append(pcm.reshape(-1))
            else:
                # The centre of the view: a tile may be letterboxed (4:3 in 16:9).
                image = frame.to_ndarray(format="rgb24")
                h, w = image.shape[0], image.shape[1]
                centre = image[h * 3 // 8:h * 5 // 8, w * 3 // 8:w * 5 // 8]
                seen.append(centre.reshape(-1, 3).mean(axis=0))

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(consume(track))

    offer = await pc.createOffer()
    await pc.setLocalDescription(offer)  # aiortc gathers every candidate before this returns
    channel = grpc.insecure_channel(args.server)
    stub = pb_grpc.RoomsStub(channel)
    request = pb.JoinRoomRequest(room=f"rooms/{args.room}", invite_token=args.invite_token)
    request.offer.webrtc.sdp = pc.localDescription.sdp
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    started = time.monotonic()
    response = stub.JoinRoom(request, metadata=metadata, timeout=10)
    answered = time.monotonic()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.answer.webrtc.sdp,
                                                        type="answer"))
    def status(line):
        if args.status:
            with open(args.status, "a") as f:
                f.write(f"{line} {time.time():.3f}\n")
    status("answered")
    first_audio = None
    connected = False
    deadline = answered + args.seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if not connected and pc.iceConnectionState in ("connected", "completed"):
            connected = True
            status("connected")
        if first_audio is None and heard:
            first_audio = time.monotonic() - answered
            status("first_audio")
    result = {"participant": response.participant.name,
              "ice": pc.iceConnectionState, "join_s": round(answered - started, 3),
              "first_audio_s": None if first_audio is None else round(first_audio, 3)}
    # Judge the last seconds (after a slow start).
    audio = numpy.concatenate(heard) if heard else numpy.zeros(0, dtype=numpy.int16)
    if args.record:
        audio.astype("<i2").tofile(args.record)
    tail = audio[-SAMPLE_RATE * args.judge_seconds:]
    result["heard_seconds"] = round(len(audio) / SAMPLE_RATE, 2)
    levels = {}
    for spec in args.hear + args.not_hear:
        hz = float(spec.split(":")[0])
        levels[str(int(hz))] = round(tone_db(tail, hz), 1)
    result["tones_db"] = levels
    if args.hear:
        # Speech continuity: the share of 20 ms windows of the judged tail in which the first
        # tone heard is more than 20 dB under its level over the whole tail (a gap).
        hz = float(args.hear[0].split(":")[0])
        whole = tone_db(tail, hz)
        window = SAMPLE_RATE // 50
        t = numpy.arange(window) / SAMPLE_RATE
        probe = numpy.exp(-2j * math.pi * hz * t)
        gaps = 0
        count = len(tail) // window
        for i in range(count):
            chunk = tail[i * window:(i + 1) * window].astype(numpy.float64) / 32768.0
            amplitude = 2 * abs(numpy.dot(chunk, probe)) / window
            if 20 * math.log10(max(amplitude, 1e-10)) < whole - 20:
                gaps += 1
        result["gap_share"] = round(gaps / max(count, 1), 3)
    if seen:
        last = numpy.mean(seen[-5:], axis=0)
        result["video_rgb"] = [int(v) for v in last]
        result["video_frames"] = len(seen)
    ok = True
    for spec in args.hear:
        hz, floor = spec.split(":")
        ok &= levels[str(int(float(hz)))] >= float(floor)
    if args.max_gap_share is not None:
        ok &= result.get("gap_share", 1.0) <= args.max_gap_share
    for spec in args.not_hear:
        hz, ceiling = spec.split(":")
        ok &= levels[str(int(float(hz)))] <= float(ceiling)
    if args.see:
        want = [int(args.see[i:i + 2], 16) for i in (0, 2, 4)]
        got = result.get("video_rgb")
        if args.see_luma_only:
            # Under loss a sender's encoder may spend so few bits that chroma fades while the
            # picture is there: judge brightness (BT.601 luma) only.
            def luma(rgb):
                return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
            ok &= got is not None and abs(luma(got) - luma(want)) <= 40
        else:
            ok &= got is not None and all(abs(a - b) <= 40 for a, b in zip(got, want))
    result["ok"] = bool(ok)
    await pc.close()
    channel.close()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--invite_token", required=True)
    parser.add_argument("--token", default=os.environ.get("CHORUS_TOKEN", ""))
    parser.add_argument("--tone", type=float, default=440)
    parser.add_argument("--amplitude", type=float, default=0.25,
                        help="the tone's amplitude (0.125: -18 dBFS)")
    parser.add_argument("--record", default="",
                        help="write what it heard there (s16le, mono, 48 kHz)")
    parser.add_argument("--video", default="")
    parser.add_argument("--see", default="")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--judge_seconds", type=int, default=3)
    parser.add_argument("--hear", action="append", default=[])
    parser.add_argument("--not_hear", action="append", default=[])
    parser.add_argument("--loopback", action="store_true")
    parser.add_argument("--see_luma_only", action="store_true",
                        help="judge the colour seen by its brightness only")
    parser.add_argument("--loss", type=float, default=0.0,
                        help="share of RTP/RTCP dropped both ways (a lossy link)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max_gap_share", type=float, default=None,
                        help="most 20 ms windows of the judged tail without the first heard tone")
    parser.add_argument("--status", default="",
                        help="append 'answered', 'connected', 'first_audio' with the time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as stubs:
        pb, pb_grpc = load_stubs(stubs)
        result = asyncio.run(run(args, pb, pb_grpc))
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
