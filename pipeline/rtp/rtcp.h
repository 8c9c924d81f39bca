#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::rtp {

// RTCP (RFC 3550 section 6) and the feedback messages Chorus uses (RFC 4585 generic NACK and PLI,
// RFC 5104 FIR, REMB). Parsing reads untrusted input into fixed-capacity structs; builders write
// into a caller's buffer. Free functions: any thread, no allocation, never crash on any input.

// RTCP packet types.
inline constexpr uint8_t kRtcpSr = 200;
inline constexpr uint8_t kRtcpRr = 201;
inline constexpr uint8_t kRtcpSdes = 202;
inline constexpr uint8_t kRtcpBye = 203;
inline constexpr uint8_t kRtcpApp = 204;
inline constexpr uint8_t kRtcpRtpfb = 205;  // RFC 4585 transport-layer feedback
inline constexpr uint8_t kRtcpPsfb = 206;   // RFC 4585 payload-specific feedback

// One RFC 3550 section 6.4.1 reception report block.
struct ReportBlock {
  uint32_t ssrc = 0;                 // the source this block is about
  uint8_t fraction_lost = 0;         // lost since the previous report, in 1/256
  int32_t cumulative_lost = 0;       // 24-bit signed on the wire (duplicates can make it < 0)
  uint32_t highest_sequence = 0;     // extended highest sequence number received
  uint32_t jitter = 0;               // interarrival jitter, RTP timestamp units
  uint32_t last_sr = 0;              // LSR: middle 32 bits of the NTP time of the last SR, or 0
  uint32_t delay_since_last_sr = 0;  // DLSR: 1/65536 s since that SR arrived, or 0
  friend bool operator==(const ReportBlock&, const ReportBlock&) = default;
};

// The sender information of an SR (RFC 3550 section 6.4.1).
struct SenderInfo {
  uint64_t ntp_timestamp = 0;  // NTP format: seconds since 1900 << 32 | fraction
  uint32_t rtp_timestamp = 0;  // the same instant in RTP units
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;  // payload octets
};

// An RFC 5104 section 4.3.1 FIR entry: the source asked to send a decoder refresh point.
struct FirEntry {
  uint32_t ssrc = 0;
  uint8_t sequence_number = 0;  // incremented by the requester for each new request
  friend bool operator==(const FirEntry&, const FirEntry&) = default;
};

// Capacities of RtcpInfo; what does not fit is dropped and flagged as truncated.
inline constexpr size_t kMaxRtcpReportBlocks = 8;
inline constexpr size_t kMaxRtcpByeSsrcs = 8;
inline constexpr size_t kMaxRtcpNackSequences = 64;
inline constexpr size_t kMaxRtcpFirEntries = 4;

// What Chorus reads from one compound RTCP packet. Spans point into the parsed buffer and are
// valid while it is. No allocation (about 800 bytes: keep one per endpoint or on the stack).
struct RtcpInfo {
  // The first packet (SR or RR).
  bool has_sender_report = false;
  uint32_t sender_ssrc = 0;  // SSRC of the SR/RR sender
  // Sender info of the SR (when has_sender_report).
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t sender_packet_count = 0;
  uint32_t sender_octet_count = 0;
  // Report blocks of every SR and RR of the compound, in order.
  std::array<ReportBlock, kMaxRtcpReportBlocks> blocks{};
  size_t block_count = 0;
  bool blocks_truncated = false;
  // The first SDES CNAME item (other items and chunks are skipped).
  bool has_cname = false;
  uint32_t cname_ssrc = 0;
  std::span<const uint8_t> cname;
  // BYE: the sources leaving (the reason text is skipped).
  bool bye = false;
  std::array<uint32_t, kMaxRtcpByeSsrcs> bye_ssrcs{};
  size_t bye_count = 0;
  // RFC 4585 section 6.2.1 generic NACK, PID + BLP expanded into sequence numbers, for the media
  // source of the first NACK (NACKs about other sources are dropped and flag truncation).
  bool has_nack = false;
  uint32_t nack_sender_ssrc = 0;
  uint32_t nack_media_ssrc = 0;
  std::array<uint16_t, kMaxRtcpNackSequences> nack_sequences{};
  size_t nack_count = 0;
  bool nack_truncated = false;
  // RFC 4585 section 6.3.1 picture loss indication.
  bool has_pli = false;
  uint32_t pli_sender_ssrc = 0;
  uint32_t pli_media_ssrc = 0;
  // RFC 5104 section 4.3.1 full intra request.
  std::array<FirEntry, kMaxRtcpFirEntries> fir{};
  size_t fir_count = 0;
  uint32_t fir_sender_ssrc = 0;
  bool fir_truncated = false;
  // draft-alvestrand-rmcat-remb (PSFB FMT 15 with the "REMB" identifier): the bitrate the sender
  // of the first REMB estimates it can receive in all, for the sources it lists.
  bool has_remb = false;
  uint32_t remb_sender_ssrc = 0;
  uint64_t remb_bitrate_bps = 0;  // mantissa << exponent, saturated
  // Skipped packets: APP, and types or feedback formats Chorus does not use (XR, ...).
  size_t app_count = 0;
  size_t skipped_count = 0;
};

// Why a datagram is not a valid compound RTCP packet. The caller drops it and counts it under
// RtcpParseResultName().
enum class RtcpParseResult : uint8_t {
  kOk,
  kTooShort,        // shorter than an RTCP header + SSRC
  kBadVersion,      // a packet whose version is not 2
  kBadLength,       // lengths do not add up to the datagram, or a packet is too short for its
                    // type or its report / source count
  kBadFirstPacket,  // the first packet is not an SR or RR, or it has padding (RFC 3550 A.2)
  kBadPadding,      // padding on a packet other than the last, or a bad padding count
  kBadSdes,         // an SDES chunk or item runs past its packet
};

const char* RtcpParseResultName(RtcpParseResult result);

// Parses a compound RTCP packet with the validity checks of RFC 3550 appendix A.2. `*out` is
// reset first; on an error it holds what was read before the bad packet (do not use it).
RtcpParseResult ParseRtcp(std::span<const uint8_t> packet, RtcpInfo* out);

// Builders. Each writes one RTCP packet at the start of `out` and returns its size (a multiple of
// 4), or 0 when it does not fit or the arguments cannot be encoded. A compound packet is made by
// writing one after the other: SR or RR first, then SDES CNAME (RFC 3550 section 6.1), then
// feedback or BYE, e.g. `n = BuildRr(...); n += BuildSdesCname(..., out.subspan(n));` (check
// each for 0).

// SR with up to 31 report blocks.
size_t BuildSr(uint32_t ssrc, const SenderInfo& info, std::span<const ReportBlock> blocks,
               std::span<uint8_t> out);
// RR with up to 31 report blocks.
size_t BuildRr(uint32_t ssrc, std::span<const ReportBlock> blocks, std::span<uint8_t> out);
// SDES with one chunk holding one CNAME item (1..255 bytes).
size_t BuildSdesCname(uint32_t ssrc, std::span<const uint8_t> cname, std::span<uint8_t> out);
// BYE for 1..31 sources, without a reason.
size_t BuildBye(std::span<const uint32_t> ssrcs, std::span<uint8_t> out);
// Generic NACK (RTPFB, FMT 1) for `sequences`, which must be in ascending order modulo 2^16
// (oldest first, as a receiver finds them); packed into PID + BLP pairs of up to 17 numbers.
size_t BuildNack(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<const uint16_t> sequences,
                 std::span<uint8_t> out);
// PLI (PSFB, FMT 1).
size_t BuildPli(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<uint8_t> out);
// FIR (PSFB, FMT 4) with one or more entries (0 entries -> 0).
size_t BuildFir(uint32_t sender_ssrc, std::span<const FirEntry> entries, std::span<uint8_t> out);
// Receiver Estimated Maximum Bitrate (draft-alvestrand-rmcat-remb, payload-specific feedback
// FMT 15, "REMB"): asks the senders of `media_ssrcs` (1 to 255) to stay under `bitrate_bps`,
// written as an 18-bit mantissa and a 6-bit exponent (rounded down).
size_t BuildRemb(uint32_t sender_ssrc, uint64_t bitrate_bps, std::span<const uint32_t> media_ssrcs,
                 std::span<uint8_t> out);

// NTP time helpers (RFC 3550 section 4; NTP format of RFC 5905).
// The NTP timestamp of a Unix time in microseconds.
uint64_t NtpFromUnixMicros(int64_t unix_us);
// The middle 32 bits of an NTP timestamp (16.16 fixed point seconds), as LSR carries it.
inline uint32_t CompactNtp(uint64_t ntp) { return static_cast<uint32_t>(ntp >> 16); }
// A duration in 1/65536 s (DLSR units) from microseconds (negative -> 0, saturating).
uint32_t CompactNtpFromMicros(int64_t duration_us);
// Microseconds from a compact NTP duration.
int64_t MicrosFromCompactNtp(uint32_t compact);
// Round-trip time from a report block about our stream (RFC 3550 section 6.4.1, A = arrival time
// of the report in compact NTP): A - LSR - DLSR in microseconds; -1 when the block has no LSR.
int64_t RoundTripMicros(uint32_t arrival_compact_ntp, uint32_t last_sr,
                        uint32_t delay_since_last_sr);

// The compound packet of an audio endpoint (existing callers): an SR with at most one report
// block followed by an SDES CNAME.
struct SenderReport {
  uint32_t ssrc = 0;
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
  bool has_block = false;
  ReportBlock block;
};

// Writes SR + SDES CNAME; returns the size or 0 when `out` is too small.
size_t BuildSenderReport(const SenderReport& report, std::span<const uint8_t> cname,
                         std::span<uint8_t> out);

}  // namespace chorus::rtp
