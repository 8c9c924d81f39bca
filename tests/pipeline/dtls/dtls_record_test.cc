#include "pipeline/dtls/dtls_record.h"

#include <array>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::dtls {
namespace {

std::vector<uint8_t> Record(uint8_t type, uint16_t epoch, uint64_t sequence, size_t length,
                            uint16_t version = 0xFEFD) {
  std::vector<uint8_t> out = {type, static_cast<uint8_t>(version >> 8),
                              static_cast<uint8_t>(version), static_cast<uint8_t>(epoch >> 8),
                              static_cast<uint8_t>(epoch)};
  for (int shift = 40; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(sequence >> shift));
  out.push_back(static_cast<uint8_t>(length >> 8));
  out.push_back(static_cast<uint8_t>(length));
  for (size_t i = 0; i < length; ++i) out.push_back(static_cast<uint8_t>(i));
  return out;
}

std::vector<uint8_t> Join(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

TEST(DtlsRecordTest, Rfc7983FirstByte) {
  EXPECT_FALSE(IsDtlsFirstByte({}));
  const uint8_t stun[] = {0x00}, zrtp[] = {16}, low[] = {19}, dtls[] = {20}, high[] = {63},
                turn[] = {64}, rtp[] = {128};
  EXPECT_FALSE(IsDtlsFirstByte(stun));
  EXPECT_FALSE(IsDtlsFirstByte(zrtp));
  EXPECT_FALSE(IsDtlsFirstByte(low));
  EXPECT_TRUE(IsDtlsFirstByte(dtls));
  EXPECT_TRUE(IsDtlsFirstByte(high));
  EXPECT_FALSE(IsDtlsFirstByte(turn));
  EXPECT_FALSE(IsDtlsFirstByte(rtp));
}

TEST(DtlsRecordTest, ParsesHeaderFields) {
  const auto bytes = Record(kContentHandshake, 1, 0x0102030405ull, 5);
  DtlsRecordView record;
  ASSERT_EQ(ParseDtlsRecord(bytes, &record), DtlsRecordResult::kOk);
  EXPECT_EQ(record.content_type, kContentHandshake);
  EXPECT_EQ(record.version, 0xFEFD);
  EXPECT_EQ(record.epoch, 1);
  EXPECT_EQ(record.sequence_number, 0x0102030405ull);
  EXPECT_EQ(record.fragment.size(), 5u);
  EXPECT_EQ(record.record.size(), 18u);
  EXPECT_EQ(record.fragment.data(), bytes.data() + 13);
}

TEST(DtlsRecordTest, SplitsSeveralRecords) {
  const auto datagram =
      Join({Record(kContentHandshake, 0, 1, 100), Record(kContentChangeCipherSpec, 0, 2, 1),
            Record(kContentHandshake, 1, 0, 0, 0xFEFF)});
  std::array<DtlsRecordView, 4> records;
  size_t count = 0;
  ASSERT_EQ(SplitDtlsRecords(datagram, records, &count), DtlsRecordResult::kOk);
  ASSERT_EQ(count, 3u);
  EXPECT_EQ(records[0].fragment.size(), 100u);
  EXPECT_EQ(records[1].content_type, kContentChangeCipherSpec);
  EXPECT_EQ(records[2].epoch, 1);
  EXPECT_EQ(records[2].version, 0xFEFF);
  EXPECT_TRUE(records[2].fragment.empty());
  size_t counted = 0;
  EXPECT_EQ(CountDtlsRecords(datagram, &counted), DtlsRecordResult::kOk);
  EXPECT_EQ(counted, 3u);

  std::array<DtlsRecordView, 2> too_few;
  EXPECT_EQ(SplitDtlsRecords(datagram, too_few, &count), DtlsRecordResult::kTooManyRecords);
  EXPECT_EQ(count, 2u);
}

TEST(DtlsRecordTest, RefusesMalformedDatagrams) {
  std::array<DtlsRecordView, 8> records;
  size_t count = 0;
  EXPECT_EQ(SplitDtlsRecords({}, records, &count), DtlsRecordResult::kEmpty);

  auto good = Record(kContentAlert, 0, 0, 2);
  auto truncated_header = std::vector<uint8_t>(good.begin(), good.begin() + 12);
  EXPECT_EQ(SplitDtlsRecords(truncated_header, records, &count),
            DtlsRecordResult::kTruncatedHeader);

  auto truncated_fragment = std::vector<uint8_t>(good.begin(), good.end() - 1);
  EXPECT_EQ(SplitDtlsRecords(truncated_fragment, records, &count),
            DtlsRecordResult::kTruncatedFragment);

  // A good record followed by a stray byte: the whole datagram is refused, the first record was
  // parsed.
  auto trailing = Join({good, {kContentAlert}});
  EXPECT_EQ(SplitDtlsRecords(trailing, records, &count), DtlsRecordResult::kTruncatedHeader);
  EXPECT_EQ(count, 1u);

  EXPECT_EQ(SplitDtlsRecords(Record(19, 0, 0, 1), records, &count),
            DtlsRecordResult::kBadContentType);
  EXPECT_EQ(SplitDtlsRecords(Record(24, 0, 0, 1), records, &count),
            DtlsRecordResult::kBadContentType);
  EXPECT_EQ(SplitDtlsRecords(Record(kContentHandshake, 0, 0, 1, 0x0303), records, &count),
            DtlsRecordResult::kBadVersion);
  EXPECT_EQ(SplitDtlsRecords(Record(kContentHandshake, 0, 0, 1, 0xFEFC), records, &count),
            DtlsRecordResult::kBadVersion);

  // The length field at its maximum against a short datagram.
  auto huge = Record(kContentApplicationData, 1, 0, 0);
  huge[11] = 0xff;
  huge[12] = 0xff;
  EXPECT_EQ(CountDtlsRecords(huge, &count), DtlsRecordResult::kTruncatedFragment);
  EXPECT_STREQ(DtlsRecordResultName(DtlsRecordResult::kTruncatedFragment), "truncated_fragment");
}

}  // namespace
}  // namespace chorus::dtls
