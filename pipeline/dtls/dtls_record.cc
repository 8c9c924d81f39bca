#include "pipeline/dtls/dtls_record.h"

namespace chorus::dtls {
namespace {

constexpr uint16_t kDtls10Version = 0xFEFF;
constexpr uint16_t kDtls12Version = 0xFEFD;

uint16_t ReadU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

const char* DtlsRecordResultName(DtlsRecordResult result) {
  switch (result) {
    case DtlsRecordResult::kOk:
      return "ok";
    case DtlsRecordResult::kEmpty:
      return "empty";
    case DtlsRecordResult::kTruncatedHeader:
      return "truncated_header";
    case DtlsRecordResult::kTruncatedFragment:
      return "truncated_fragment";
    case DtlsRecordResult::kBadContentType:
      return "bad_content_type";
    case DtlsRecordResult::kBadVersion:
      return "bad_version";
    case DtlsRecordResult::kTooManyRecords:
      return "too_many_records";
  }
  return "unknown";
}

DtlsRecordResult ParseDtlsRecord(std::span<const uint8_t> data, DtlsRecordView* record) {
  if (data.empty()) return DtlsRecordResult::kEmpty;
  if (data.size() < kDtlsRecordHeaderBytes) return DtlsRecordResult::kTruncatedHeader;
  const uint8_t type = data[0];
  if (type < kContentChangeCipherSpec || type > kContentApplicationData) {
    return DtlsRecordResult::kBadContentType;
  }
  const uint16_t version = ReadU16(&data[1]);
  if (version != kDtls10Version && version != kDtls12Version) {
    return DtlsRecordResult::kBadVersion;
  }
  const size_t length = ReadU16(&data[11]);
  if (length > data.size() - kDtlsRecordHeaderBytes) return DtlsRecordResult::kTruncatedFragment;

  record->content_type = type;
  record->version = version;
  record->epoch = ReadU16(&data[3]);
  uint64_t sequence = 0;
  for (size_t i = 5; i < 11; ++i) sequence = (sequence << 8) | data[i];
  record->sequence_number = sequence;
  record->fragment = data.subspan(kDtlsRecordHeaderBytes, length);
  record->record = data.first(kDtlsRecordHeaderBytes + length);
  return DtlsRecordResult::kOk;
}

DtlsRecordResult SplitDtlsRecords(std::span<const uint8_t> datagram,
                                  std::span<DtlsRecordView> records, size_t* count) {
  *count = 0;
  if (datagram.empty()) return DtlsRecordResult::kEmpty;
  while (!datagram.empty()) {
    DtlsRecordView record;
    const DtlsRecordResult result = ParseDtlsRecord(datagram, &record);
    if (result != DtlsRecordResult::kOk) return result;
    if (*count == records.size()) return DtlsRecordResult::kTooManyRecords;
    records[(*count)++] = record;
    datagram = datagram.subspan(record.record.size());
  }
  return DtlsRecordResult::kOk;
}

DtlsRecordResult CountDtlsRecords(std::span<const uint8_t> datagram, size_t* count) {
  *count = 0;
  if (datagram.empty()) return DtlsRecordResult::kEmpty;
  size_t records = 0;
  while (!datagram.empty()) {
    DtlsRecordView record;
    const DtlsRecordResult result = ParseDtlsRecord(datagram, &record);
    if (result != DtlsRecordResult::kOk) return result;
    ++records;
    datagram = datagram.subspan(record.record.size());
  }
  *count = records;
  return DtlsRecordResult::kOk;
}

}  // namespace chorus::dtls
