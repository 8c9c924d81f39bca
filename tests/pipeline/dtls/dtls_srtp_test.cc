#include "pipeline/dtls/dtls_srtp.h"

#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::dtls {
namespace {

using srtp::SrtpSuite;

std::vector<uint8_t> Range(size_t from, size_t to) {
  std::vector<uint8_t> out(to - from);
  std::iota(out.begin(), out.end(), static_cast<uint8_t>(from));
  return out;
}

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<uint8_t> Bytes(std::span<const uint8_t> span) { return {span.begin(), span.end()}; }

TEST(DtlsSrtpTest, ProfilesMapToSuites) {
  EXPECT_EQ(SuiteFromSrtpProfile(0x0001), SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(SuiteFromSrtpProfile(0x0002), SrtpSuite::kAesCm128HmacSha1_32);
  EXPECT_EQ(SuiteFromSrtpProfile(0x0007), SrtpSuite::kAeadAes128Gcm);
  EXPECT_EQ(SuiteFromSrtpProfile(0x0008), std::nullopt);  // AEAD_AES_256_GCM: not supported
  EXPECT_EQ(SuiteFromSrtpProfile(0x0000), std::nullopt);
  EXPECT_EQ(DtlsSrtpExportLength(SrtpSuite::kAesCm128HmacSha1_80), 60u);
  EXPECT_EQ(DtlsSrtpExportLength(SrtpSuite::kAeadAes128Gcm), 56u);
}

TEST(DtlsSrtpTest, SplitsAesCmMaterialPerRfc5764) {
  // Bytes 0..59: client key 0..15, server key 16..31, client salt 32..45, server salt 46..59.
  const std::vector<uint8_t> material = Range(0, 60);
  const auto server =
      SplitDtlsSrtpKeyingMaterial(SrtpSuite::kAesCm128HmacSha1_80, material, DtlsRole::kServer);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(server->suite, SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(Bytes(server->local.bytes()), Concat(Range(16, 32), Range(46, 60)));
  EXPECT_EQ(Bytes(server->remote.bytes()), Concat(Range(0, 16), Range(32, 46)));

  const auto client =
      SplitDtlsSrtpKeyingMaterial(SrtpSuite::kAesCm128HmacSha1_80, material, DtlsRole::kClient);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(Bytes(client->local.bytes()), Bytes(server->remote.bytes()));
  EXPECT_EQ(Bytes(client->remote.bytes()), Bytes(server->local.bytes()));
}

TEST(DtlsSrtpTest, SplitsGcmMaterialPerRfc7714) {
  // 12-byte salts: client salt 32..43, server salt 44..55.
  const std::vector<uint8_t> material = Range(100, 156);
  const auto server =
      SplitDtlsSrtpKeyingMaterial(SrtpSuite::kAeadAes128Gcm, material, DtlsRole::kServer);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Bytes(server->local.bytes()), Concat(Range(116, 132), Range(144, 156)));
  EXPECT_EQ(Bytes(server->remote.bytes()), Concat(Range(100, 116), Range(132, 144)));
  EXPECT_EQ(server->local.bytes().size(), 28u);
}

TEST(DtlsSrtpTest, RefusesTheWrongLength) {
  EXPECT_EQ(SplitDtlsSrtpKeyingMaterial(SrtpSuite::kAeadAes128Gcm, Range(0, 60), DtlsRole::kServer)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(
      SplitDtlsSrtpKeyingMaterial(SrtpSuite::kAesCm128HmacSha1_80, {}, DtlsRole::kServer).ok());
}

}  // namespace
}  // namespace chorus::dtls
