#!/usr/bin/python3
"""Drives chorusd's browser signalling (docs/web.md) as browsers and as attackers would, over raw
WebSockets, and checks every answer. Media is not judged here (the browser tests do that): the
offers are real browser offers from the SDP test data, so joins go through the media node.

Usage: web_signalling_check.py --web HOST:PORT --ctl "chorusctl --insecure --address=..."
Each check prints "ok: ..."; the first failure raises. Client addresses are given in
X-Forwarded-For (chorusd runs with --web_behind_proxy), one per simulated client.
"""
import argparse
import base64
import hashlib
import hmac
import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ws_client import Closed, WebSocket  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
OFFER = (REPO / "tests/pipeline/sdp/testdata/chromium_camera.sdp").read_text()

args = None


def ok(text):
    print(f"ok: {text}", flush=True)


def ctl(*words):
    out = subprocess.run(shlex.split(args.ctl) + list(words), capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"chorusctl {' '.join(words[:2])} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def invite(room, role="guest", *extra, name=False):
    line = ctl("invite", "create", room, role, *extra)
    token = line.split("token=")[1]
    link = line.split("link=")[1].split(" ")[0]
    return (token, link, line.split(" ")[0]) if name else (token, link)


def connect(source, origin=None):
    host, port = args.web.split(":")
    ws = WebSocket(host, int(port), origin=origin, headers={"X-Forwarded-For": source})
    hello = ws.recv()
    assert hello["type"] == "hello", hello
    return ws


def join(source, room, token, sdp=OFFER):
    ws = connect(source)
    ws.send({"type": "join", "id": 1, "room": room, "invite": token, "sdp": sdp})
    return ws, ws.recv_type("joined")


def expect(ws, wanted, predicate=lambda m: True, seconds=10):
    """The first message of type `wanted` satisfying predicate, among those not taken yet by an
    earlier expect (pushes and replies may come in either order) or arriving within `seconds`."""
    backlog = ws.__dict__.setdefault("backlog", [])
    for index, message in enumerate(backlog):
        if message.get("type") == wanted and predicate(message):
            return backlog.pop(index)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            message = ws.recv()
        except socket.timeout:
            break
        if message.get("type") == wanted and predicate(message):
            return message
        backlog.append(message)
    raise AssertionError(f"no {wanted} within {seconds} s (saw {[m.get('type') for m in backlog]})")


def quiet(ws, seconds=1.5):
    """Everything that arrived or arrives within `seconds` (none expected for a waiting one)."""
    got = ws.__dict__.setdefault("backlog", [])
    ws.backlog = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            got.append(ws.recv())
        except socket.timeout:
            break
    return got


def closed_by_server(ws, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            ws.recv()
        except (Closed, ConnectionError):
            return True
        except socket.timeout:
            return False
    return False


def roster_names(message):
    return {p["name"]: p["state"] for p in message["participants"]}


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", required=True)
    parser.add_argument("--ctl", required=True)
    parser.add_argument("--secrets", required=True, help="file to write tokens and names to")
    args = parser.parse_args()
    base = f"http://{args.web}"
    secrets = []

    # --- The page and the link ---
    with urllib.request.urlopen(f"{base}/join") as page:
        csp = page.headers["Content-Security-Policy"]
        assert page.status == 200 and "script-src 'self'" in csp and "frame-ancestors" in csp, csp
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert b"<html" in page.read()
    try:
        urllib.request.urlopen(f"{base}/no-such-file.js")
        raise AssertionError("an unknown path was served")
    except urllib.error.HTTPError as error:
        assert error.code == 404
    ok("the page is served with a strict Content-Security-Policy; unknown paths are 404")

    host_name, port = args.web.split(":")
    embedded = WebSocket(host_name, int(port), origin="https://portal.hospital.example",
                         headers={"X-Forwarded-For": "10.9.1.1"})
    hello = embedded.recv()
    embedded.close()
    fixed, own = hello["ice_servers"]
    assert fixed == {"urls": ["turn:turn.hospital.example:3478?transport=udp"],
                     "username": "chorus", "credential": "turn-secret-1"}, hello
    # The second server is configured with the TURN server's shared secret: the page gets
    # credentials of its own, expiring in 12 hours, that the TURN server computes the same way.
    assert own["urls"] == ["turns:turn.hospital.example:443?transport=tcp"], hello
    expiry, user = own["username"].split(":")
    assert user == "chorus" and abs(int(expiry) - (time.time() + 43200)) < 120, own
    expected = base64.b64encode(hmac.new(b"north-turn-secret", own["username"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert own["credential"] == expected, own
    assert "north-turn-secret" not in json.dumps(hello)
    ok("a page of the platform's configured origin opens the socket; hello hands it the "
       "configured TURN servers: fixed credentials as they are, and its own expiring ones "
       "made with the TURN server's shared secret (checked by HMAC-SHA1 here)")

    ctl("room", "create", "consultation", "--room_id=clinic", "--lobby=true")
    host_token, host_link = invite("clinic", "host", "--pseudonym=Dr Quill")
    guest_token, guest_link = invite("clinic", "guest", "--pseudonym=Patient Wren")
    secrets += [host_token, guest_token, "Dr Quill", "Patient Wren", "10.9.8.7", "10.9.8.8",
                "ref-1"]
    assert guest_link == f"{base}/join#r=clinic&i={guest_token}", guest_link
    ok("CreateInvite returns the link with room and token in the fragment")

    # --- Host and patient: waiting room, admission, roster ---
    host, joined = join("10.9.8.7", "clinic", host_token)
    assert joined["type"] == "joined", joined
    assert joined["participant"]["role"] == "host" and joined["participant"]["state"] == "admitted"
    host_participant = joined["participant"]["name"]
    assert joined["sdp"].startswith("v=0") and "a=ice-lite" in joined["sdp"]
    assert joined["room"]["kind"] == "consultation"
    ok("a host joins with its link's token and gets the SDP answer at once")

    guest, joined = join("10.9.8.8", "clinic", guest_token)
    assert joined["participant"]["state"] == "waiting", joined
    assert joined["participant"]["display_name"] == "Patient Wren"
    guest_name = joined["participant"]["name"]
    guest_session = joined["session_token"]
    assert len(guest_session) == 43, joined
    waiting = expect(host, "roster", lambda m: roster_names(m).get(guest_name) == "waiting")
    assert list(roster_names(waiting))[0] == guest_name, "waiting participants come first"
    leaked = [m["type"] for m in quiet(guest) if m["type"] in ("roster", "speakers", "locked")]
    assert not leaked, f"a waiting participant was told about the room: {leaked}"
    ok("the patient waits; the host's roster shows it first; the waiting room learns nothing")

    guest.send({"type": "admit", "id": 5, "participant": guest_name})
    refused = expect(guest, "error")
    assert refused["code"] == "not_allowed" and refused["id"] == 5, refused
    host.send({"type": "admit", "id": 7, "participant": guest_name})
    expect(host, "ok", lambda m: m["id"] == 7)
    expect(guest, "state", lambda m: m["participant"]["state"] == "admitted")
    view = expect(guest, "roster")
    assert len(view["participants"]) == 2, view
    ok("a guest may not admit; the host admits and the patient gets the room's roster")

    # --- The same link again, and other refusals, each with its own code ---
    again, refused = join("10.9.8.9", "clinic", guest_token)
    assert refused["type"] == "error" and refused["code"] == "invite_used", refused
    assert guest_token not in json.dumps(refused)
    again.close()
    third_token, _ = invite("clinic", "guest", "--consent=ref-1")
    secrets.append(third_token)
    ws, refused = join("10.9.8.9", "nowhere", third_token)
    assert refused["code"] == "room_ended", refused
    ws.close()
    ws, refused = join("10.9.8.9", "clinic", "A" * 43)
    assert refused["code"] == "invite_invalid", refused
    ws.close()
    host.send({"type": "lock", "id": 9})
    expect(host, "ok", lambda m: m["id"] == 9)
    expect(host, "locked", lambda m: m["locked"])
    ws, refused = join("10.9.8.9", "clinic", third_token)
    assert refused["code"] == "room_locked", refused
    ws.close()
    host.send({"type": "unlock", "id": 10})
    expect(host, "locked", lambda m: not m["locked"])
    # A withdrawn link and a room at its participant limit. (An expired link takes a minute at
    # least: the controller's tests cover its reason with their own clock.)
    revoked_token, _, revoked_name = invite("clinic", "guest", "--consent=ref-2", name=True)
    ctl("invite", "revoke", revoked_name)
    ctl("room", "create", "meeting", "--room_id=tiny", "--max_participants=2")
    tiny_tokens = [invite("tiny", role)[0] for role in ("host", "guest", "guest")]
    secrets.extend([revoked_token] + tiny_tokens)
    tiny_in = []
    for token in tiny_tokens[:2]:
        ws, joined = join("10.9.8.12", "tiny", token)
        assert joined["type"] == "joined", joined
        tiny_in.append(ws)
    tiny_guest_token = tiny_tokens[2]
    for room, token, code in [("clinic", revoked_token, "invite_revoked"),
                              ("tiny", tiny_guest_token, "room_full")]:
        ws, refused = join("10.9.8.11", room, token)
        assert refused["code"] == code, (code, refused)
        assert token not in json.dumps(refused)
        ws.close()
    for ws in tiny_in:
        ws.close()
    ok("used, unknown and revoked links, and locked and full rooms, are refused with "
       "invite_used, invite_invalid, room_ended, invite_revoked, room_locked and room_full")

    # A third party with consent: the host admits it and is shown the consent reference.
    third, joined = join("10.9.8.10", "clinic", third_token)
    assert joined["type"] == "joined" and joined["participant"]["state"] == "waiting", joined
    third_name = joined["participant"]["name"]
    expect(host, "roster", lambda m: roster_names(m).get(third_name) == "waiting")
    host.send({"type": "admit", "id": 14, "participant": third_name})
    consent = expect(host, "consent")
    assert consent["consent_participant"] == third_name, consent
    assert consent["consent_reference"] == "ref-1", consent
    assert not [m for m in quiet(guest, 1.0) if m["type"] == "consent"], \
        "a guest was shown the consent reference"
    ok("a third party joins with consent: the host is shown the consent reference, the patient "
       "is not")

    # --- Scope: a host acts only in its own room ---
    ctl("room", "create", "meeting", "--room_id=other", "--lobby=true")
    other_host_token, _ = invite("other", "host")
    other_guest_token, _ = invite("other", "guest", "--pseudonym=Other Lark")
    secrets += [other_host_token, other_guest_token, "Other Lark"]
    other_host, _ = join("10.9.7.1", "other", other_host_token)
    host.send({"type": "remove", "id": 11, "participant": "rooms/other/participants/abc"})
    refused = expect(host, "error", lambda m: m["id"] == 11)
    assert refused["code"] == "bad_request", refused
    ok("a host cannot name a participant of another room")

    # --- The patient comes early: a host joining later sees it waiting at once ---
    ctl("room", "create", "consultation", "--room_id=early", "--lobby=true")
    early_guest_token, _ = invite("early", "guest")
    early_host_token, _ = invite("early", "host")
    secrets += [early_guest_token, early_host_token]
    early_guest, joined = join("10.9.3.1", "early", early_guest_token)
    assert joined["participant"]["state"] == "waiting", joined
    early_name = joined["participant"]["name"]
    early_host, joined = join("10.9.3.2", "early", early_host_token)
    assert joined["participant"]["state"] == "admitted", joined
    expect(early_host, "roster", lambda m: roster_names(m).get(early_name) == "waiting")
    expect(early_host, "locked", lambda m: not m["locked"])
    early_guest.close()
    early_host.close()
    ok("a patient waiting before the clinician arrives is in the clinician's first roster")

    # --- Malformed, oversized and hostile messages ---
    for bad in ("not json", "[1,2]", '{"type":"join","bogus":1}', "[" * 5000,
                '{"type":"nonsense"}', '{"type":"join","id":-1}'):
        ws = connect("10.9.6.1")
        ws.send(bad)
        message = ws.recv()
        assert message["type"] == "error" and message["code"] == "bad_request", (bad[:20], message)
        assert bad[:12] not in message["message"], "the input was echoed"
        ws.close()
    ws = connect("10.9.6.1")
    ws.send_frame(0x2, b"\x00\x01binary")
    assert closed_by_server(ws), "a binary frame did not close the socket"
    ws = connect("10.9.6.1")
    ws.send("x" * (70 * 1024))
    assert closed_by_server(ws), "an oversized message did not close the socket"
    ws = connect("10.9.6.1")
    ws.send_frame(0x1, b'{"type":', fin=False)
    assert closed_by_server(ws), "a fragmented message did not close the socket"
    ws = connect("10.9.6.1")
    ws.send_frame(0x1, b"{}", length=1 << 40)
    ws.sock.close()
    ws = connect("10.9.6.1")
    ws.send({"type": "join", "room": "clinic", "invite": guest_token, "sdp": "v=0\r\nhostile"})
    message = ws.recv()
    assert message["type"] == "error", message
    ws.close()
    try:
        WebSocket(*args.web.split(":")[:1], int(args.web.split(":")[1]),
                  origin="https://evil.example", headers={"X-Forwarded-For": "10.9.6.2"})
        raise AssertionError("a foreign origin opened a socket")
    except (Closed, ConnectionError):
        pass
    ok("malformed, unknown, binary, oversized, fragmented and huge frames, hostile SDP and "
       "foreign origins are refused or closed, never echoed")

    # --- Guessed tokens: rate limited per source, others unaffected ---
    ws = connect("10.9.5.5")
    codes = []
    for attempt in range(12):
        ws.send({"type": "join", "room": "other", "invite": f"guess{attempt:040d}", "sdp": OFFER})
        codes.append(ws.recv()["code"])
    assert codes[:10] == ["invite_invalid"] * 10 and codes[10:] == ["rate_limited"] * 2, codes
    ws.send({"type": "join", "room": "other", "invite": other_guest_token, "sdp": OFFER})
    assert ws.recv()["code"] == "rate_limited"
    ws.close()
    ok("after 10 wrong tokens a source is rate limited, even with a valid token")

    # --- A flood of connections from one source ---
    flood = []
    refused = 0  # told why: rate_limited, then closed by the server
    dropped = 0
    web_host, web_port = args.web.split(":")
    for _ in range(60):
        try:
            ws = WebSocket(web_host, int(web_port), headers={"X-Forwarded-For": "10.9.4.4"})
            first = ws.recv()
        except (Closed, ConnectionError, socket.timeout):
            dropped += 1
            continue
        if first["type"] == "hello":
            flood.append(ws)
            continue
        assert first["type"] == "error" and first["code"] == "rate_limited", first
        assert closed_by_server(ws), "a refused socket stays open"
        refused += 1
    assert len(flood) == 20 and refused >= 30 and refused + dropped == 40, \
        (len(flood), refused, dropped)
    # Meanwhile the other room's lobby works: a guest from elsewhere waits, its host sees it.
    other_guest, joined = join("10.9.7.2", "other", other_guest_token)
    assert joined["type"] == "joined", joined
    expect(other_host, "roster",
           lambda m: roster_names(m).get(joined["participant"]["name"]) == "waiting")
    host.send({"type": "mute", "id": 12, "participant": guest_name, "muted": True})
    expect(host, "ok", lambda m: m["id"] == 12)
    expect(guest, "state", lambda m: m["participant"]["muted"])
    # A participant's own microphone is its own: it unmutes itself (everyone sees it), and may
    # not mute anyone else.
    guest.send({"type": "mute", "id": 13, "muted": False})
    expect(guest, "ok", lambda m: m["id"] == 13 and not m["participant"]["muted"])
    expect(host, "roster", lambda m: any(p["name"] == guest_name and not p["muted"]
                                         for p in m["participants"]))
    guest.send({"type": "mute", "id": 14, "participant": host_participant, "muted": True})
    denied = expect(guest, "error", lambda m: m["id"] == 14)
    assert denied["code"] == "not_allowed", denied
    guest.send({"type": "mute", "id": 15, "muted": True})
    expect(guest, "ok", lambda m: m["id"] == 15 and m["participant"]["muted"])
    for ws in flood:
        ws.close()
    ok(f"a flood of 60 sockets from one address: {len(flood)} taken, {refused} refused with "
       f"rate_limited ({dropped} dropped); the other room's lobby and this room's host go on; "
       "a guest unmutes and mutes itself, and may not mute the host")

    # --- A session taken up again on a new socket (as after a restart of the listener) ---
    secrets.append(guest_session)

    def resume(ws, request_id, token):
        ws.send({"type": "resume", "id": request_id, "room": "clinic", "participant": guest_name,
                 "session_token": token})

    ws = connect("10.9.8.8")
    resume(ws, 20, "B" * 43)
    refused = expect(ws, "error")
    assert refused["code"] == "session_ended" and refused["id"] == 20, refused
    resume(ws, 21, guest_session)
    resumed = expect(ws, "resumed")
    assert resumed["id"] == 21 and resumed["participant"]["name"] == guest_name, resumed
    assert resumed["participant"]["muted"] and resumed["room"]["name"] == "rooms/clinic", resumed
    assert resumed["session_token"] and resumed["session_token"] != guest_session, resumed
    secrets.append(resumed["session_token"])
    assert closed_by_server(guest), "the old socket of a resumed session stayed open"
    guest = ws
    spent = connect("10.9.8.8")
    resume(spent, 22, guest_session)
    assert expect(spent, "error")["code"] == "session_ended"
    spent.close()
    host.send({"type": "mute", "id": 23, "participant": guest_name, "muted": False})
    expect(host, "ok", lambda m: m["id"] == 23)
    expect(guest, "state", lambda m: not m["participant"]["muted"])
    ok("a session resumes on a new socket with its latest token only (a wrong or spent one gets "
       "session_ended); its old socket closes and the participant stays; the host reaches it")

    # --- A closed socket leaves the room; ending the meeting reaches everyone ---
    other_guest.close()
    expect(other_host, "roster", lambda m: joined["participant"]["name"] not in roster_names(m))
    ok("a closed socket leaves the room")
    host.send({"type": "end", "id": 13})
    left = expect(guest, "left")
    assert left["reason"] == "room_closed", left
    assert closed_by_server(guest), "the guest's socket stayed open after the room closed"
    ok("the host ends the meeting: the patient gets left/room_closed and its socket closes")

    Path(args.secrets).write_text("\n".join(secrets) + "\n")


if __name__ == "__main__":
    main()
