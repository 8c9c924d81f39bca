#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace chorus::rtp {

// A classic BPF program (SO_ATTACH_FILTER) for a UDP socket that carries one participant's RTP:
// the kernel drops the participant's packets of digital silence before they wake the media
// worker, so that a listener who sends silence all the time (a muted browser, a client without
// DTX) costs no receive system call, no SRTP authentication and no jitter-buffer work.
//
// A datagram is dropped only when all of these hold, read from the RTP header, which SRTP leaves
// in clear (RFC 3711; header extensions are authenticated, not encrypted):
//   - RTP version 2 with a header extension in the one-byte form (RFC 8285, profile 0xBEDE);
//   - its payload type is `payload_type` (RTCP, telephone events and other codecs pass);
//   - its sequence number is not a multiple of `sample_every` (a power of two): one silent
//     packet in `sample_every` still reaches the endpoint, which keeps SRTP's packet index and
//     the participant's media timestamp current and the jitter buffer fed;
//   - one of the first four elements is the RFC 6464 audio level (`extension_id`, 1..14), found
//     before any padding byte, inside the extension, and says 127 (-127 dBov or quieter: digital
//     silence), whatever its voice-activity bit.
// Anything else passes (when unsure, it passes): a packet the filter cannot read is the
// endpoint's to judge. Unauthenticated bytes can only make a packet dropped that claims to be
// silence, which a forger could as well have not sent.
//
// Offsets are from the UDP header (what a UDP socket's filter sees): the RTP header is at 8.
// Empty when the arguments cannot be filtered on (an id outside 1..14, a sample that is not a
// power of two of at least 2).
std::vector<sock_filter> DigitalSilenceFilter(uint8_t extension_id, uint8_t payload_type,
                                              uint16_t sample_every);

}  // namespace chorus::rtp
