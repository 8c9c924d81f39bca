// Memory held by half-open handshakes: a peer that sends a ClientHello and then nothing makes the
// server keep its handshake state (ECDHE key, transcript, the flight kept for retransmission)
// until the deadline. Many such transports must each hold a small, fixed amount.

#include <malloc.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/base/clock.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_transport.h"
#include "tests/pipeline/dtls/dtls_test_peer.h"

#if defined(__SANITIZE_ADDRESS__)
#define CHORUS_DTLS_MALLINFO_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHORUS_DTLS_MALLINFO_WORKS 0
#endif
#endif
#ifndef CHORUS_DTLS_MALLINFO_WORKS
#define CHORUS_DTLS_MALLINFO_WORKS 1
#endif

namespace chorus::dtls {
namespace {

using testing::Datagram;
using testing::RecordingListener;
using testing::TestDtlsClient;

size_t HeapInUse() { return mallinfo2().uordblks; }

TEST(DtlsMemoryTest, HalfOpenTransportsHoldBoundedMemory) {
  if (!CHORUS_DTLS_MALLINFO_WORKS) GTEST_SKIP() << "the sanitizer's allocator hides mallinfo2";
  auto certificate = *DtlsCertificate::Generate();
  TestDtlsClient client;
  client.Start();
  const std::vector<Datagram> hello = client.TakeOutgoing();
  ASSERT_EQ(hello.size(), 1u);

  base::FakeClock clock;
  constexpr int kTransports = 200;
  std::vector<std::unique_ptr<RecordingListener>> listeners;
  std::vector<std::unique_ptr<DtlsTransport>> transports;
  listeners.reserve(kTransports);
  transports.reserve(kTransports);
  for (int i = 0; i < kTransports; ++i) listeners.push_back(std::make_unique<RecordingListener>());

  // Warm-up: OpenSSL's lazily built tables (method fetches, EC precomputation) are not per
  // transport.
  {
    RecordingListener listener;
    auto warm = *DtlsTransport::Create(certificate, client.fingerprint(), &listener, clock);
    warm->HandleDatagram(hello[0]);
  }

  const size_t before = HeapInUse();
  for (int i = 0; i < kTransports; ++i) {
    transports.push_back(
        *DtlsTransport::Create(certificate, client.fingerprint(), listeners[i].get(), clock));
  }
  const size_t created = HeapInUse();
  for (int i = 0; i < kTransports; ++i) {
    transports[i]->HandleDatagram(hello[0]);
    listeners[i]->sent.clear();
    listeners[i]->sent.shrink_to_fit();
    ASSERT_EQ(transports[i]->state(), DtlsState::kConnecting);
  }
  const size_t half_open = HeapInUse();
  const double idle_bytes = static_cast<double>(created - before) / kTransports;
  const double half_open_bytes = static_cast<double>(half_open - before) / kTransports;
  std::printf("DTLS transport memory: %.0f bytes idle, %.0f bytes half-open (per transport)\n",
              idle_bytes, half_open_bytes);
  RecordProperty("idle_bytes_per_transport", static_cast<int>(idle_bytes));
  RecordProperty("half_open_bytes_per_transport", static_cast<int>(half_open_bytes));
  EXPECT_LT(half_open_bytes, 80 * 1024);

  // A failed transport gives its OpenSSL state back at once.
  for (auto& transport : transports) transport->OnTimer(clock.NowUs() + 30'000'000);
  const size_t failed = HeapInUse();
  const double failed_bytes = static_cast<double>(failed - before) / kTransports;
  std::printf("DTLS transport memory: %.0f bytes after failure (per transport)\n", failed_bytes);
  EXPECT_LT(failed_bytes, 1024);
}

TEST(DtlsMemoryTest, ConnectedTransportsHoldBoundedMemory) {
  if (!CHORUS_DTLS_MALLINFO_WORKS) GTEST_SKIP() << "the sanitizer's allocator hides mallinfo2";
  auto certificate = *DtlsCertificate::Generate();
  auto identity = testing::TestClientIdentity::Generate();
  base::FakeClock clock;
  constexpr int kTransports = 50;
  std::vector<std::unique_ptr<RecordingListener>> listeners;
  std::vector<std::unique_ptr<DtlsTransport>> transports;
  listeners.reserve(kTransports);
  transports.reserve(kTransports);
  for (int i = 0; i < kTransports; ++i) listeners.push_back(std::make_unique<RecordingListener>());
  {
    RecordingListener listener;
    TestDtlsClient client({}, identity);
    auto warm = *DtlsTransport::Create(certificate, client.fingerprint(), &listener, clock);
    testing::Link(&client, warm.get(), &listener).Handshake();
  }

  const size_t before = HeapInUse();
  for (int i = 0; i < kTransports; ++i) {
    TestDtlsClient client({}, identity);  // gone before the measurement
    transports.push_back(
        *DtlsTransport::Create(certificate, client.fingerprint(), listeners[i].get(), clock));
    testing::Link(&client, transports[i].get(), listeners[i].get()).Handshake();
    ASSERT_EQ(transports[i]->state(), DtlsState::kConnected);
    listeners[i]->sent.clear();
    listeners[i]->sent.shrink_to_fit();
  }
  const double connected_bytes = static_cast<double>(HeapInUse() - before) / kTransports;
  std::printf("DTLS transport memory: %.0f bytes connected (per transport)\n", connected_bytes);
  RecordProperty("connected_bytes_per_transport", static_cast<int>(connected_bytes));
  EXPECT_LT(connected_bytes, 80 * 1024);
}

}  // namespace
}  // namespace chorus::dtls
