#!/usr/bin/python3
"""A video-consultation client of Chorus's public API, from start to end.

It does what a hospital platform does around one consultation, with two simulated endpoints in
place of the clinician's and the patient's devices:

  1. books a consultation room                                  (Rooms.CreateRoom)
  2. invites a host (the clinician) and a patient, each with a
     pseudonym, never a real name                               (Rooms.CreateInvite)
  3. watches the room's events in a background thread           (Rooms.WatchRoom)
  4. joins both, each with a media offer: where its endpoint
     receives audio, and the SRTP key it sends with            (Rooms.JoinRoom)
  5. starts one ffmpeg sender and one ffmpeg receiver per endpoint: each sender plays a test
     tone (440 Hz for the host, 700 Hz for the patient) over SRTP to where the answer says, each
     receiver decodes what Chorus sends back with the key the answer gives
  6. admits the patient, who waits in the lobby                 (Rooms.AdmitParticipant)
  7. lets them "talk" for --seconds; the endpoints hang up (ffmpeg stops) and the platform
     ends the meeting                                           (Rooms.CloseRoom)

It prints what happens and exits with status 0 only when every step worked: the host was
admitted at once, the patient waited and was then admitted, the events ParticipantWaiting,
ParticipantAdmitted and RoomClosed arrived, and both endpoints received audio. Any failure exits
with status 1 (2 for a usage error). Every ffmpeg process and temporary file is removed on every
way out, Ctrl-C and SIGTERM included, and a room this script created is closed if it fails half-way.

Only Debian packages are needed: python3-grpcio and python3-protobuf for the client, protoc
(protobuf-compiler) and grpc_python_plugin (protobuf-compiler-grpc) to generate the Python
stubs from proto/ into a temporary folder at start-up, and ffmpeg. scripts/install-deps.sh
installs them all.

Against a development server (`make run`, which starts `chorusd all --dev` on 127.0.0.1:7700):

    /usr/bin/python3 examples/consultation.py --insecure

Against a production server (TLS, bearer token in a file or in CHORUS_TOKEN):

    /usr/bin/python3 examples/consultation.py --server=chorus.example.org:7700 \
        --tls_ca=ca.pem --token_file=token --client_address=<this machine's IP>
"""

import argparse
import base64
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

# The one SRTP protection profile every endpoint must support (rooms.proto, SrtpSuite).
SRTP_SUITE = "AES_CM_128_HMAC_SHA1_80"
# Opus on its usual dynamic payload type. RFC 7587 always signals opus as 48000 Hz, 2 channels.
OPUS_PAYLOAD_TYPE = 111
# How long each API call may take before it counts as a failure.
RPC_TIMEOUT_S = 10.0
# How long to wait for an expected room event before giving up.
EVENT_TIMEOUT_S = 10.0
# How long an ffmpeg process gets to stop after SIGTERM before it is killed.
FFMPEG_STOP_S = 5.0

# Generated modules (rooms_pb2, rooms_pb2_grpc); set by load_stubs().
pb = None
pb_grpc = None

_print_lock = threading.Lock()


def say(message):
    """Prints one line at once (the watch thread prints too)."""
    with _print_lock:
        print(message, flush=True)


class Failure(Exception):
    """A step that did not work: the script reports it and exits with status 1."""


# ---------------------------------------------------------------------------------------------
# Stubs: generated at start-up from the repository's proto/ folder, never checked in.
# ---------------------------------------------------------------------------------------------


def load_stubs(proto_dir, out_dir):
    """Generates the Python modules of chorus/v1/rooms.proto into out_dir and imports them."""
    global pb, pb_grpc
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        raise Failure("protoc and grpc_python_plugin are needed (Debian packages protobuf-compiler "
                      "and protobuf-compiler-grpc; scripts/install-deps.sh installs them)")
    proto = Path(proto_dir) / "chorus" / "v1" / "rooms.proto"
    if not proto.is_file():
        raise Failure(f"{proto} not found (give --proto_dir, the repository's proto/ folder)")
    # protoc finds google/protobuf/*.proto (Duration, Timestamp, FieldMask) in its own include
    # folder. The plugin writes rooms_pb2_grpc.py, the client stub.
    result = subprocess.run(
        [protoc, f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
         f"--plugin=protoc-gen-grpc_python={plugin}", str(proto)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise Failure(f"protoc failed: {result.stderr.strip()}")
    sys.path.insert(0, str(out_dir))
    pb = importlib.import_module("chorus.v1.rooms_pb2")
    pb_grpc = importlib.import_module("chorus.v1.rooms_pb2_grpc")


# ---------------------------------------------------------------------------------------------
# The API connection.
# ---------------------------------------------------------------------------------------------


class Api:
    """The Rooms stub, with the bearer token and a deadline added to every call."""

    def __init__(self, channel, token):
        self.stub = pb_grpc.RoomsStub(channel)
        # The server checks "authorization: Bearer <token>" on every call when it was started
        # with --api_tokens_file. A development server (--dev, no tokens file) needs none.
        self.metadata = [("authorization", f"Bearer {token}")] if token else []

    def call(self, method, request):
        """Calls one unary RPC; a gRPC error becomes a Failure naming the method and the code."""
        try:
            return getattr(self.stub, method)(request, metadata=self.metadata,
                                              timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as error:
            raise Failure(f"{method}: {error.code().name}: {error.details()}") from None

    def watch(self, room, seconds):
        """Opens the room's event stream; it ends with RoomClosed, or after `seconds`."""
        request = pb.WatchRoomRequest(name=room, include_snapshot=True)
        return self.stub.WatchRoom(request, metadata=self.metadata, timeout=seconds)


def open_channel(args):
    """A plaintext channel (--insecure, development servers only) or a TLS one."""
    if args.insecure:
        channel = grpc.insecure_channel(args.server)
    else:
        def read(path):
            return Path(path).read_bytes() if path else None

        # Without --tls_ca the system's trusted authorities check the server's certificate.
        # --tls_cert and --tls_key present a client certificate (servers requiring mutual TLS).
        credentials = grpc.ssl_channel_credentials(root_certificates=read(args.tls_ca),
                                                   private_key=read(args.tls_key),
                                                   certificate_chain=read(args.tls_cert))
        options = []
        if args.tls_server_name:
            options.append(("grpc.ssl_target_name_override", args.tls_server_name))
        channel = grpc.secure_channel(args.server, credentials, options=options)
    # Connecting is lazy: an unreachable server, or TLS against a plaintext one, shows as
    # UNAVAILABLE on the first call, with gRPC's reason.
    return channel


# ---------------------------------------------------------------------------------------------
# Room events: a background thread reads WatchRoom; the main thread waits for what it expects.
# ---------------------------------------------------------------------------------------------


class RoomEvents:
    """Every event of one room as it arrives, and bounded waits for a particular one."""

    def __init__(self, api, room, seconds):
        self.events = []
        self.ended = False
        self.error = None
        self.names = {}  # participant resource name -> pseudonym, for readable output
        self._condition = threading.Condition()
        self._call = api.watch(room, seconds)
        self._thread = threading.Thread(target=self._read, name="watch", daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for event in self._call:
                say(f"  event #{event.sequence}: {self.describe(event)}")
                with self._condition:
                    self.events.append(event)
                    self._condition.notify_all()
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:  # CANCELLED: stop() was called
                self.error = f"WatchRoom: {error.code().name}: {error.details()}"
        finally:
            with self._condition:
                self.ended = True
                self._condition.notify_all()

    def describe(self, event):
        kind = event.WhichOneof("event")
        body = getattr(event, kind)
        if hasattr(body, "participant") and isinstance(body.participant, pb.Participant):
            p = body.participant
            self.names[p.name] = p.display_name
            return f"{kind} {p.display_name} ({pb.ParticipantState.Name(p.state)})"
        if kind == "participant_left":
            who = self.names.get(body.participant, body.participant)
            return f"participant_left {who} ({pb.LeaveReason.Name(body.reason)})"
        if kind == "speakers_changed":
            speakers = ", ".join(self.names.get(s, s) for s in body.participants) or "nobody"
            return f"speakers_changed: {speakers}"
        return kind

    def wait_for(self, what, predicate, timeout=EVENT_TIMEOUT_S):
        """Returns the first event (seen so far or arriving within `timeout`) matching predicate;
        raises a Failure naming `what` otherwise."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if self.ended or remaining <= 0:
                    reason = self.error or ("the event stream ended" if self.ended else
                                            f"not within {timeout:.0f} s")
                    raise Failure(f"no {what} event: {reason}")
                self._condition.wait(remaining)

    def wait_end(self, timeout=EVENT_TIMEOUT_S):
        """Waits for the stream to end by itself (it does after RoomClosed)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self.ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure("the event stream did not end after RoomClosed")
                self._condition.wait(remaining)

    def stop(self):
        self._call.cancel()
        self._thread.join(timeout=RPC_TIMEOUT_S)


def is_event(kind, participant=None):
    """A predicate: an event of this kind (about this participant, when given)."""
    def match(event):
        if event.WhichOneof("event") != kind:
            return False
        return participant is None or getattr(event, kind).participant.name == participant
    return match


# ---------------------------------------------------------------------------------------------
# Media: UDP ports, the offer, and the ffmpeg processes that stand in for the endpoints.
# ---------------------------------------------------------------------------------------------


class PortPair:
    """Two consecutive UDP ports (RTP on the first, RTCP on the next, as ffmpeg uses them), held
    bound until the ffmpeg that needs them starts, so nothing else (Chorus's own media sockets
    included, on the same machine) takes them meanwhile."""

    def __init__(self, address, first=0):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        for _ in range(50):
            rtp = socket.socket(family, socket.SOCK_DGRAM)
            rtcp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtp.bind((address, first))  # port 0: the system picks a free one
                port = rtp.getsockname()[1]
                rtcp.bind((address, port + 1))
                self.port, self._sockets = port, [rtp, rtcp]
                return
            except (OSError, OverflowError) as error:  # port + 1 may be past 65535
                rtp.close()
                rtcp.close()
                if first:
                    raise Failure(f"UDP ports {first} and {first + 1} on {address} are not free: "
                                  f"{error}") from None
        raise Failure(f"found no two consecutive free UDP ports on {address}")

    def release(self):
        for s in self._sockets:
            s.close()
        self._sockets = []


def new_srtp_key():
    """A fresh SDES key: 16 bytes of master key and 14 of master salt, base64 (RFC 4568)."""
    return base64.b64encode(os.urandom(30)).decode("ascii")


def audio_offer(address, port, key):
    """The media offer of an audio-only endpoint: SRTP (the default transport), one audio stream
    received on address:port, the codecs it can receive (best first; here only Opus), and the
    key it protects what it sends with. Chorus answers with where to send and its own key."""
    return pb.MediaOffer(rtp=pb.RtpOffer(
        transport=pb.TRANSPORT_SRTP,
        streams=[pb.StreamOffer(
            kind=pb.MEDIA_KIND_AUDIO,
            codecs=[pb.Codec(name="opus", payload_type=OPUS_PAYLOAD_TYPE, clock_rate=48000,
                             channels=2)],
            address=address,
            port=port,
            key=pb.SrtpKey(suite=pb.SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, key_base64=key))]))


def audio_answer(response):
    """Chorus's answer for the audio stream: where to send, its codec and its sending key."""
    for stream in response.answer.rtp.streams:
        if stream.kind == pb.MEDIA_KIND_AUDIO:
            if stream.codec.name.lower() != "opus":
                raise Failure(f"Chorus answered codec {stream.codec.name}, expected opus")
            return stream
    raise Failure(f"no audio stream in the answer: {response.answer}")


class Ffmpeg:
    """One ffmpeg process under coreutils' `timeout`, which bounds its life even if this script
    is killed outright. Both run in a process group of their own: Ctrl-C in the terminal reaches
    only this script, which stops them in order, and a last SIGKILL to the group reaches both."""

    def __init__(self, name, arguments, log_path, lifetime_s):
        self.name = name
        self.log_path = log_path
        with open(log_path, "wb") as log:
            # --foreground: `timeout` passes a signal on to ffmpeg once. (Without it, it also
            # signals its whole group, and ffmpeg takes a second SIGTERM as "exit immediately",
            # dropping what it has not written yet.)
            self.process = subprocess.Popen(
                ["timeout", "--foreground", "-k", "5", str(int(lifetime_s)), "ffmpeg",
                 "-hide_banner", "-loglevel", "error", "-nostdin", *arguments],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True)

    def signal(self, sig):
        try:
            if sig == signal.SIGKILL:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)  # to `timeout`, which passes it on to ffmpeg
        except ProcessLookupError:
            pass

    def wait(self, deadline):
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            return False

    def log_tail(self):
        try:
            return Path(self.log_path).read_text(errors="replace").strip()[-600:]
        except OSError:
            return ""


def stop_all(ffmpegs):
    """Stops ffmpeg processes, all at once and each within a few seconds: one SIGTERM (ffmpeg
    finishes its output and exits), a second one for those still waiting for input (ffmpeg then
    gives up at once), SIGKILL for any left."""
    for sig, wait_s in ((signal.SIGTERM, FFMPEG_STOP_S / 2), (signal.SIGTERM, FFMPEG_STOP_S / 2),
                        (signal.SIGKILL, FFMPEG_STOP_S)):
        running = [f for f in ffmpegs if f.process.poll() is None]
        if not running:
            return
        for f in running:
            f.signal(sig)
        deadline = time.monotonic() + wait_s
        for f in running:
            f.wait(deadline)



def host_for_url(address):
    return f"[{address}]" if ":" in address else address


def start_sender(name, tone_hz, answer, local, key, workdir, lifetime_s):
    """Plays a sine tone, Opus-encoded, over SRTP to where Chorus's answer says. The key is the
    one the endpoint offered: each side protects what it sends with its own key. RTCP goes to the
    same port as RTP (Chorus multiplexes them, RFC 5761); ffmpeg sends from local and local+1."""
    url = (f"srtp://{host_for_url(answer.address)}:{answer.port}?rtcpport={answer.port}"
           f"&localrtpport={local}&localrtcpport={local + 1}")
    return Ffmpeg(f"{name}-sender", [
        "-re", "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000",
        "-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-application", "voip",
        "-payload_type", str(answer.codec.payload_type),
        "-f", "rtp", "-srtp_out_suite", SRTP_SUITE, "-srtp_out_params", key, url,
    ], workdir / f"{name}-sender.log", lifetime_s)


def start_receiver(name, address, port, answer, output, workdir, lifetime_s):
    """Receives on address:port what Chorus sends (SRTP, decrypted with the key of Chorus's
    answer) and decodes it to raw 48 kHz mono signed 16-bit samples in `output`. ffmpeg learns
    the stream from a small SDP file, the same description a SIP endpoint would exchange.
    Every decoded packet is written at once (-flush_packets), however ffmpeg comes to stop."""
    sdp = workdir / f"{name}.sdp"
    family = "IP6" if ":" in address else "IP4"
    pt = answer.codec.payload_type
    sdp.write_text("\n".join([
        "v=0",
        f"o=- 0 0 IN {family} {address}",
        "s=chorus-example",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} RTP/SAVP {pt}",
        f"a=rtpmap:{pt} opus/48000/2",
        f"a=crypto:1 {SRTP_SUITE} inline:{answer.key.key_base64}",
        ""]))
    return Ffmpeg(f"{name}-receiver", [
        "-y", "-protocol_whitelist", "file,udp,rtp,srtp", "-i", str(sdp),
        "-ac", "1", "-ar", "48000", "-f", "s16le", "-flush_packets", "1", str(output),
    ], workdir / f"{name}-receiver.log", lifetime_s)


# ---------------------------------------------------------------------------------------------
# The consultation.
# ---------------------------------------------------------------------------------------------


class Consultation:
    """Everything one run creates, so that cleanup() can undo it whatever happened."""

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.api = None
        self.channel = None
        self.room = None  # set once created; cleared once closed
        self.events = None
        self.ffmpegs = []
        self.ports = []

    def run(self):
        args = self.args
        self.channel = open_channel(args)
        self.api = Api(self.channel, args.token)
        lifetime_s = args.seconds + 60  # an upper bound for every ffmpeg process

        # 1. Book the room. A consultation's lobby is on by default: guests wait until a host
        # admits them. Without room_id the server picks a random id.
        room = self.api.call("CreateRoom", pb.CreateRoomRequest(
            room=pb.Room(kind=pb.ROOM_KIND_CONSULTATION), room_id=args.room_id))
        self.room = room.name
        # lobby_enabled is an optional field: unset means the kind's default (on for a
        # consultation).
        lobby = ("on" if room.lobby_enabled else "off") if room.HasField("lobby_enabled") else \
            "on, the consultation default"
        say(f"booked {room.name} ({pb.RoomKind.Name(room.kind)}, lobby {lobby})")

        # 2. Personal, single-use invitations. The token is returned only here: a platform
        # would send it to the participant's device, never log it. Pseudonyms only.
        host_invite = self.api.call("CreateInvite", pb.CreateInviteRequest(
            parent=room.name, invite=pb.Invite(role=pb.ROLE_HOST, pseudonym="Clinician-1")))
        patient_invite = self.api.call("CreateInvite", pb.CreateInviteRequest(
            parent=room.name, invite=pb.Invite(role=pb.ROLE_GUEST, pseudonym="Patient-7")))
        say(f"invited the host ({host_invite.invite.name}) and the patient "
            f"({patient_invite.invite.name})")

        # 3. Watch the room. include_snapshot makes the stream start with every participant
        # already inside, so once it shows the host (as joined or as a snapshot entry) the
        # watch is known to be live and no later event can be missed.
        self.events = RoomEvents(self.api, room.name, lifetime_s)

        # 4. Join. Each endpoint offers where it receives (address and a UDP port pair) and the
        # SRTP key it sends with; the answer says where to send and the key Chorus sends with.
        address = args.client_address
        first = args.client_ports
        self.ports = [PortPair(address, first + 2 * i if first else 0) for i in range(4)]
        host_rx, host_tx, patient_rx, patient_tx = self.ports
        host_key, patient_key = new_srtp_key(), new_srtp_key()

        host = self.api.call("JoinRoom", pb.JoinRoomRequest(
            room=room.name, invite_token=host_invite.token,
            offer=audio_offer(address, host_rx.port, host_key)))
        self.expect_state("host", host.participant, pb.PARTICIPANT_STATE_ADMITTED)
        host_answer = audio_answer(host)
        say(f"{host.participant.display_name} joined as {host.participant.name}: "
            f"{pb.ParticipantState.Name(host.participant.state)}, sends to "
            f"{host_answer.address}:{host_answer.port}")
        self.events.wait_for("event showing the host", lambda e: any(
            getattr(e, k).participant.name == host.participant.name
            for k in ("participant_joined", "participant_updated") if e.HasField(k)))

        patient = self.api.call("JoinRoom", pb.JoinRoomRequest(
            room=room.name, invite_token=patient_invite.token,
            offer=audio_offer(address, patient_rx.port, patient_key)))
        self.expect_state("patient", patient.participant, pb.PARTICIPANT_STATE_WAITING)
        patient_answer = audio_answer(patient)
        say(f"{patient.participant.display_name} joined as {patient.participant.name}: "
            f"{pb.ParticipantState.Name(patient.participant.state)} in the lobby, sends to "
            f"{patient_answer.address}:{patient_answer.port}")

        # 5. The endpoints' media. Each port pair is released just before its ffmpeg binds it.
        audio_dir = Path(args.keep_audio) if args.keep_audio else self.workdir
        self.host_audio = audio_dir / "host.raw"
        self.patient_audio = audio_dir / "patient.raw"
        for pair in (host_rx, host_tx, patient_rx, patient_tx):
            pair.release()
        self.ffmpegs += [
            start_receiver("host", address, host_rx.port, host_answer, self.host_audio,
                           self.workdir, lifetime_s),
            start_receiver("patient", address, patient_rx.port, patient_answer,
                           self.patient_audio, self.workdir, lifetime_s),
            start_sender("host", 440, host_answer, host_tx.port, host_key, self.workdir,
                         lifetime_s),
            start_sender("patient", 700, patient_answer, patient_tx.port, patient_key,
                         self.workdir, lifetime_s),
        ]
        say("ffmpeg endpoints started: the host plays 440 Hz, the patient 700 Hz")

        # 6. The patient waits in the lobby (hearing nothing) until the host admits them.
        self.events.wait_for("ParticipantWaiting",
                             is_event("participant_waiting", patient.participant.name))
        admitted = self.api.call("AdmitParticipant",
                                 pb.AdmitParticipantRequest(name=patient.participant.name))
        self.expect_state("admitted patient", admitted, pb.PARTICIPANT_STATE_ADMITTED)
        self.events.wait_for("ParticipantAdmitted",
                             is_event("participant_admitted", patient.participant.name))
        say(f"admitted {admitted.display_name}: {pb.ParticipantState.Name(admitted.state)}")

        # The roster: everyone in the room, seen by everyone (there is no hidden participant).
        roster = self.api.call("ListParticipants",
                               pb.ListParticipantsRequest(parent=room.name))
        say("roster: " + ", ".join(f"{p.display_name} ({pb.Role.Name(p.role)}, "
                                   f"{pb.ParticipantState.Name(p.state)})"
                                   for p in roster.participants))

        # 7. The conversation. The endpoints then hang up, the receivers first while Chorus still
        # sends to them (so each ffmpeg finishes its output at the first SIGTERM, rather than
        # waiting for packets that no longer come), and the platform ends the meeting.
        say(f"talking for {args.seconds:g} s")
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            for f in self.ffmpegs:
                if f.process.poll() is not None:
                    raise Failure(f"{f.name} stopped early: {f.log_tail()}")
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        receivers = [f for f in self.ffmpegs if f.name.endswith("-receiver")]
        stop_all(receivers)
        stop_all(self.ffmpegs)
        say("the endpoints hung up")

        self.api.call("CloseRoom", pb.CloseRoomRequest(name=room.name))
        self.room = None
        self.events.wait_for("RoomClosed", is_event("room_closed"))
        self.events.wait_end()
        say(f"closed {room.name}: every participant disconnected, its state deleted")

        # What each endpoint received from Chorus.
        for who, path in (("host", self.host_audio), ("patient", self.patient_audio)):
            seconds = path.stat().st_size / 96000 if path.exists() else 0.0  # 48 kHz x 2 bytes
            say(f"the {who}'s endpoint decoded {seconds:.1f} s of audio from Chorus")
            if seconds < 0.5:
                log = next(f for f in receivers if f.name == f"{who}-receiver").log_tail()
                raise Failure(f"the {who}'s endpoint received no audio: {log}")

    def expect_state(self, who, participant, state):
        if participant.state != state:
            raise Failure(f"the {who} is {pb.ParticipantState.Name(participant.state)}, expected "
                          f"{pb.ParticipantState.Name(state)}")

    def cleanup(self):
        """Undoes what run() did, whatever point it reached: the endpoints hang up (receivers
        first, as in run()), and a room this run created is closed."""
        stop_all([f for f in self.ffmpegs if f.name.endswith("-receiver")])
        stop_all(self.ffmpegs)
        if self.room and self.api:
            # Ending the meeting is part of cleaning up: a half-done run leaves no room behind.
            try:
                self.api.call("CloseRoom", pb.CloseRoomRequest(name=self.room))
                say(f"closed {self.room} while cleaning up")
            except Failure as error:
                say(f"could not close {self.room}: {error}")
        for pair in self.ports:
            pair.release()
        if self.events:
            self.events.stop()
        if self.channel:
            self.channel.close()


def parse_args():
    parser = argparse.ArgumentParser(
        description="Books a consultation in Chorus, joins a host and a patient with real ffmpeg "
                    "SRTP endpoints, admits the patient, lets them talk and ends the meeting.")
    parser.add_argument("--server", default="127.0.0.1:7700",
                        help="chorusd's gRPC address, host:port (default %(default)s)")
    parser.add_argument("--insecure", action="store_true",
                        help="plaintext gRPC: only for a development server (chorusd --dev, "
                             "loopback); TLS otherwise")
    parser.add_argument("--tls_ca", help="PEM file of the authority that signed the server's "
                                         "certificate (default: the system's)")
    parser.add_argument("--tls_cert", help="client certificate (PEM), for mutual TLS")
    parser.add_argument("--tls_key", help="client private key (PEM), for mutual TLS")
    parser.add_argument("--tls_server_name",
                        help="the name the server's certificate must carry, when it differs "
                             "from the host in --server")
    parser.add_argument("--token_file",
                        help="file whose first line is the API bearer token (or set "
                             "CHORUS_TOKEN); needed when chorusd has --api_tokens_file. Tokens "
                             "are never taken from the command line, where other users of the "
                             "machine could read them")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="how long host and patient talk once admitted (default %(default)s)")
    parser.add_argument("--room_id", default="",
                        help="the room's id (4 to 63 of [a-z0-9-]); random when empty")
    parser.add_argument("--client_address", default="127.0.0.1",
                        help="IP address where this machine's endpoints receive media; it must "
                             "be reachable from the media node (default %(default)s)")
    parser.add_argument("--client_ports", type=int, default=0,
                        help="first of 8 consecutive UDP ports for the endpoints (default: free "
                             "ports chosen by the system)")
    parser.add_argument("--keep_audio", metavar="DIR",
                        help="keep what each endpoint decoded (test tones, raw 48 kHz mono s16le) "
                             "as DIR/host.raw and DIR/patient.raw, for checking")
    parser.add_argument("--proto_dir",
                        default=str(Path(__file__).resolve().parent.parent / "proto"),
                        help="the repository's proto/ folder (default %(default)s)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.seconds > 3600:
        parser.error("--seconds must be more than 0 and at most 3600")
    if args.client_ports and not 1024 <= args.client_ports <= 65535 - 8:
        parser.error("--client_ports must be from 1024 to 65527")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls_cert and --tls_key go together")
    if args.insecure and (args.tls_ca or args.tls_cert or args.tls_server_name):
        parser.error("--insecure and the --tls_* options exclude each other")
    args.token = os.environ.get("CHORUS_TOKEN", "")
    if args.token_file:
        try:
            args.token = Path(args.token_file).read_text().splitlines()[0].strip()
        except (OSError, IndexError):
            args.token = ""
        if not args.token:
            parser.error(f"--token_file: no token on the first line of {args.token_file}")
    if args.keep_audio and not Path(args.keep_audio).is_dir():
        parser.error(f"--keep_audio: {args.keep_audio} is not a folder")
    if shutil.which("ffmpeg") is None or shutil.which("timeout") is None:
        parser.error("ffmpeg (and coreutils' timeout) must be installed")
    return args


def main():
    args = parse_args()
    # SIGTERM ends the script like Ctrl-C does: through the `finally` below, which cleans up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="chorus-example-"))
    consultation = None
    status = 1
    try:
        load_stubs(args.proto_dir, workdir)
        consultation = Consultation(args, workdir)
        consultation.run()
        say("consultation done: OK")
        status = 0
    except Failure as error:
        say(f"FAILED: {error}")
    except KeyboardInterrupt:
        say("interrupted")
        status = 130
    except SystemExit as stop:  # SIGTERM
        say("terminated")
        status = stop.code
    finally:
        # Cleanup itself must not be cut short by a second signal.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if consultation:
            consultation.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
