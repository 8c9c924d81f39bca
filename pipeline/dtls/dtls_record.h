#pragma once

// DTLS record framing (RFC 6347, section 4.1; RFC 9147 keeps the same header for DTLS 1.2) and
// the RFC 7983 first-byte test that tells DTLS from STUN, RTP/RTCP and the rest on one socket.
//
// A datagram carries one or more records, each a 13-byte header (content type, version, epoch,
// 48-bit sequence number, length) and that many bytes of fragment. These functions only walk the
// headers with bounds checks: they decrypt and interpret nothing. DtlsTransport uses them to drop
// and count what is not DTLS before OpenSSL sees it, and to pack what OpenSSL writes into
// datagrams no larger than the MTU.
//
// Pure functions over caller-owned bytes: any thread, no allocation, nothing thrown or logged.

#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::dtls {

inline constexpr size_t kDtlsRecordHeaderBytes = 13;

// Record content types DTLS 1.2 carries (RFC 5246, section 6.2.1).
inline constexpr uint8_t kContentChangeCipherSpec = 20;
inline constexpr uint8_t kContentAlert = 21;
inline constexpr uint8_t kContentHandshake = 22;
inline constexpr uint8_t kContentApplicationData = 23;

// RFC 7983, section 7: a datagram whose first byte is 20..63 goes to DTLS (the rest of that range
// is reserved for DTLS and TLS content types). False for an empty datagram.
inline bool IsDtlsFirstByte(std::span<const uint8_t> datagram) {
  return !datagram.empty() && datagram[0] >= 20 && datagram[0] <= 63;
}

// One record: views into the datagram, valid while it is.
struct DtlsRecordView {
  uint8_t content_type = 0;
  uint16_t version = 0;          // 0xFEFF DTLS 1.0, 0xFEFD DTLS 1.2 (one's complement form)
  uint16_t epoch = 0;            // 0 until ChangeCipherSpec, then encrypted
  uint64_t sequence_number = 0;  // 48 bits
  std::span<const uint8_t> fragment;
  std::span<const uint8_t> record;  // header + fragment
};

// Why a datagram is not a sequence of well-formed DTLS 1.0/1.2 records. Anything but kOk means the
// whole datagram is dropped (RFC 6347 4.1.2.7 lets a receiver drop invalid records silently).
enum class DtlsRecordResult : uint8_t {
  kOk,
  kEmpty,              // no bytes
  kTruncatedHeader,    // fewer than 13 bytes where a record header should start
  kTruncatedFragment,  // the length field runs past the datagram
  kBadContentType,     // not ChangeCipherSpec, Alert, Handshake or ApplicationData
  kBadVersion,         // not DTLS 1.0 (0xFEFF) or 1.2 (0xFEFD)
  kTooManyRecords,     // more records than the caller's array holds
};

// A short stable name for metrics labels ("truncated_header", ...).
const char* DtlsRecordResultName(DtlsRecordResult result);

// Parses the record at the front of `data` into `*record`. Does not look past its fragment.
DtlsRecordResult ParseDtlsRecord(std::span<const uint8_t> data, DtlsRecordView* record);

// Walks every record of `datagram` into `records` (in order) and sets `*count` to how many there
// are. kOk only when the records cover the datagram exactly and all fit in `records`; on any other
// result `*count` is the number of records parsed before the problem (those views stay valid).
DtlsRecordResult SplitDtlsRecords(std::span<const uint8_t> datagram,
                                  std::span<DtlsRecordView> records, size_t* count);

// Counts the records of `datagram` without storing them: the same checks as SplitDtlsRecords with
// no limit on the number. Returns kOk and sets `*count` when the whole datagram is well formed.
DtlsRecordResult CountDtlsRecords(std::span<const uint8_t> datagram, size_t* count);

}  // namespace chorus::dtls
