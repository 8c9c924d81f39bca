#!/usr/bin/python3
"""aiortc (Debian's python3-aiortc) as the offerer, for run.sh.

Usage: aiortc_peer.py capture OUT.sdp     writes aiortc's offer (audio + video, gathering done)
       aiortc_peer.py accept ANSWER_TOOL  offers audio, video and a data channel, has the tool
                                          answer, applies the answer and prints the outcome
"""

import asyncio
import subprocess
import sys

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack


async def main(mode, target):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates only, no network
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    if mode == "accept":
        pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    if mode == "capture":
        with open(target, "w", newline="") as out:
            out.write(offer)
    else:
        result = subprocess.run([target], input=offer.encode(), capture_output=True)
        if result.returncode != 0:
            print("REFUSED BY CHORUS " + result.stderr.decode())
        else:
            answer = RTCSessionDescription(sdp=result.stdout.decode(), type="answer")
            await pc.setRemoteDescription(answer)
            print("ACCEPTED signalingState=" + pc.signalingState)
            for transceiver in pc.getTransceivers():
                codecs = [c.mimeType + "/" + str(c.payloadType) for c in getattr(transceiver, "_codecs", [])]
                print("  mid=%s %s currentDirection=%s %s" % (
                    transceiver.mid, transceiver.kind, transceiver.currentDirection,
                    ", ".join(codecs)))
    await pc.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
