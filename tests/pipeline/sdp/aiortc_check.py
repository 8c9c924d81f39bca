#!/usr/bin/python3
"""Reads Chorus's SDP answers with aiortc's SDP parser, an independent WebRTC implementation.

Usage: aiortc_check.py DIR

DIR holds NAME.answer.sdp files, each with NAME.expect.json written by the C++ test next to it
(what Chorus negotiated). For every answer this checks, through aiortc's view of the text: ICE-lite,
the local ICE credentials and host candidates with end-of-candidates, DTLS setup passive (aiortc's
"server") with the SHA-256 fingerprint, the BUNDLE group, and per m-section the mid, kind, port,
direction, rtcp-mux, the codec with its payload type, clock rate and parameters, and RTX. H.264
profile-level-ids are classified by aiortc's own table, which must say constrained baseline.

Exits 0 when every answer passes, 1 otherwise, printing one line per answer.
"""

import json
import pathlib
import sys

from aiortc import sdp


def check(answer_text, expect):
    problems = []

    def require(condition, what):
        if not condition:
            problems.append(what)

    description = sdp.SessionDescription.parse(answer_text)
    bundles = [g for g in description.group if g.semantic == "BUNDLE"]
    require(len(bundles) == 1, "one BUNDLE group")
    if bundles:
        require([str(m) for m in bundles[0].items] == expect["bundle"], "BUNDLE mids")
    require(len(description.media) == len(expect["sections"]), "one m-section per offered one")

    for media, want in zip(description.media, expect["sections"]):
        where = "m-section mid " + want["mid"]
        require(media.rtp.muxId == want["mid"], where + ": mid")
        require(media.kind == want["kind"], where + ": kind")
        if not want["accepted"]:
            require(media.port == 0, where + ": rejected with port 0")
            continue
        require(media.port == expect["port"], where + ": port")
        require(media.ice.iceLite, where + ": ice-lite")
        require(media.ice.usernameFragment == expect["ufrag"], where + ": ice-ufrag")
        require(media.ice.password == expect["pwd"], where + ": ice-pwd")
        require(media.dtls is not None and media.dtls.role == "server", where + ": setup passive")
        if media.dtls is not None:
            sha256 = [f.value for f in media.dtls.fingerprints if f.algorithm == "sha-256"]
            require(sha256 == [expect["fingerprint"]], where + ": sha-256 fingerprint")
        require(media.rtcp_mux, where + ": rtcp-mux")
        require(media.direction == want["direction"], where + ": direction")
        candidates = media.ice_candidates
        require(len(candidates) == expect["candidates"], where + ": candidate count")
        require(all(c.type == "host" and c.component == 1 for c in candidates),
                where + ": host candidates of component 1")
        require(media.ice_candidates_complete, where + ": end-of-candidates")

        codecs = media.rtp.codecs
        require(len(codecs) == (2 if want["rtx"] is not None else 1), where + ": codec count")
        if not codecs:
            continue
        codec = codecs[0]
        require(codec.mimeType.lower() == (want["kind"] + "/" + want["codec"]).lower(),
                where + ": codec name")
        require(codec.payloadType == want["pt"], where + ": payload type")
        require(codec.clockRate == want["clock"], where + ": clock rate")
        if want["codec"] == "opus":
            require(codec.channels == 2, where + ": Opus channels")
            require(codec.parameters.get("minptime") == 10, where + ": minptime")
            require(codec.parameters.get("useinbandfec") == 1, where + ": useinbandfec")
        if want["codec"] == "H264":
            require(codec.parameters.get("packetization-mode") == "1",
                    where + ": packetization-mode")
            profile, _ = sdp.parse_h264_profile_level_id(codec.parameters["profile-level-id"])
            require(profile == sdp.H264Profile.PROFILE_CONSTRAINED_BASELINE,
                    where + ": constrained baseline")
        if want["rtx"] is not None and len(codecs) > 1:
            rtx = codecs[1]
            require(rtx.mimeType.lower() == want["kind"] + "/rtx", where + ": RTX name")
            require(rtx.payloadType == want["rtx"], where + ": RTX payload type")
            require(rtx.parameters.get("apt") == want["pt"], where + ": RTX apt")
    return problems


def main():
    directory = pathlib.Path(sys.argv[1])
    answers = sorted(directory.glob("*.answer.sdp"))
    if not answers:
        print("aiortc_check: no answers in " + str(directory))
        return 1
    failed = 0
    for path in answers:
        name = path.name[: -len(".answer.sdp")]
        expect = json.loads((directory / (name + ".expect.json")).read_text())
        try:
            problems = check(path.read_text(), expect)
        except Exception as error:  # aiortc refusing the text is a failure like any other
            problems = ["aiortc could not parse it: " + repr(error)]
        if problems:
            failed += 1
            print(name + ": FAILED: " + "; ".join(problems))
        else:
            print(name + ": ok")
    print("aiortc_check: %d answers read, %d with problems" % (len(answers), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
