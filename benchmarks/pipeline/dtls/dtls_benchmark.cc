// DTLS-SRTP handshake cost. BM_Handshake runs complete handshakes between a server DtlsTransport
// and the in-memory OpenSSL test client, one core, both in this thread: items/s counts whole
// handshakes (both sides), and the server's share is timed apart (thread CPU time inside
// DtlsTransport::Create and every server call), reported as server_cpu_us (median per handshake)
// and server_handshakes_per_s (what one core could serve if clients cost it nothing).
// BM_ClientHelloOnly is the server's cost of a half-open handshake (one ClientHello answered),
// the work a flood of new peers causes per transport; BM_HalfOpenMemory reports the heap each
// half-open transport holds; BM_DropGarbage is the cost of refusing a datagram that is not DTLS.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/base/clock.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_transport.h"
#include "tests/pipeline/dtls/dtls_test_peer.h"

namespace chorus::dtls {
namespace {

using testing::Datagram;
using testing::Link;
using testing::RecordingListener;
using testing::TestClientIdentity;
using testing::TestClientOptions;
using testing::TestDtlsClient;

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

const std::shared_ptr<const DtlsCertificate>& NodeCertificate() {
  static const auto certificate = *DtlsCertificate::Generate();
  return certificate;
}

const std::shared_ptr<const TestClientIdentity>& ClientIdentity() {
  static const auto identity = TestClientIdentity::Generate();
  return identity;
}

void BM_Handshake(benchmark::State& state) {
  const char* profiles = state.range(0) == 0 ? "SRTP_AEAD_AES_128_GCM" : "SRTP_AES128_CM_SHA1_80";
  const TestClientOptions options{.srtp_profiles = profiles};
  base::FakeClock clock;
  std::vector<double> server_us;
  server_us.reserve(1 << 16);
  int64_t server_total_ns = 0;
  for (auto _ : state) {
    TestDtlsClient client(options, ClientIdentity());
    RecordingListener listener;
    int64_t server_ns = 0;
    auto timed = [&server_ns](const auto& call) {
      const int64_t start = ThreadCpuNs();
      call();
      server_ns += ThreadCpuNs() - start;
    };
    std::unique_ptr<DtlsTransport> server;
    timed([&] {
      server = *DtlsTransport::Create(NodeCertificate(), client.fingerprint(), &listener, clock);
    });
    Link link(&client, server.get(), &listener);
    link.set_server_call_hook(timed);
    link.Handshake();
    if (server->state() != DtlsState::kConnected || !client.connected()) {
      state.SkipWithError("handshake failed");
      break;
    }
    timed([&] { server.reset(); });
    server_total_ns += server_ns;
    server_us.push_back(static_cast<double>(server_ns) / 1e3);
  }
  if (server_us.empty()) return;
  std::nth_element(server_us.begin(), server_us.begin() + server_us.size() / 2, server_us.end());
  const double median_us = server_us[server_us.size() / 2];
  state.SetLabel(profiles);
  state.SetItemsProcessed(state.iterations());
  state.counters["server_cpu_us"] = median_us;
  state.counters["server_handshakes_per_s"] = 1e6 / median_us;
  state.counters["server_cpu_us_mean"] =
      static_cast<double>(server_total_ns) / 1e3 / static_cast<double>(server_us.size());
}
BENCHMARK(BM_Handshake)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

Datagram OneClientHello() {
  TestDtlsClient client({}, ClientIdentity());
  client.Start();
  return client.TakeOutgoing().at(0);
}

void BM_ClientHelloOnly(benchmark::State& state) {
  const Datagram hello = OneClientHello();
  base::FakeClock clock;
  RecordingListener listener;
  for (auto _ : state) {
    auto server = *DtlsTransport::Create(NodeCertificate(), ClientIdentity()->fingerprint(),
                                         &listener, clock);
    server->HandleDatagram(hello);
    if (server->state() != DtlsState::kConnecting) {
      state.SkipWithError("ClientHello refused");
      break;
    }
    listener.sent.clear();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClientHelloOnly)->Unit(benchmark::kMicrosecond);

void BM_HalfOpenMemory(benchmark::State& state) {
  const Datagram hello = OneClientHello();
  base::FakeClock clock;
  constexpr int kTransports = 256;
  double bytes_per_transport = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<RecordingListener>> listeners;
    std::vector<std::unique_ptr<DtlsTransport>> transports;
    for (int i = 0; i < kTransports; ++i)
      listeners.push_back(std::make_unique<RecordingListener>());
    transports.reserve(kTransports);
    const size_t before = mallinfo2().uordblks;
    for (int i = 0; i < kTransports; ++i) {
      transports.push_back(*DtlsTransport::Create(
          NodeCertificate(), ClientIdentity()->fingerprint(), listeners[i].get(), clock));
      transports.back()->HandleDatagram(hello);
      listeners[i]->sent = {};
    }
    bytes_per_transport =
        static_cast<double>(mallinfo2().uordblks - before) / static_cast<double>(kTransports);
  }
  state.counters["bytes_per_half_open"] = bytes_per_transport;
  state.SetItemsProcessed(state.iterations() * kTransports);
}
BENCHMARK(BM_HalfOpenMemory)->Iterations(4)->Unit(benchmark::kMillisecond);

void BM_DropGarbage(benchmark::State& state) {
  base::FakeClock clock;
  RecordingListener listener;
  auto server =
      *DtlsTransport::Create(NodeCertificate(), ClientIdentity()->fingerprint(), &listener, clock);
  // A DTLS-looking first byte and a record length past the end: refused by the framing check.
  Datagram garbage(200, 0x16);
  for (auto _ : state) benchmark::DoNotOptimize(server->HandleDatagram(garbage));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DropGarbage);

}  // namespace
}  // namespace chorus::dtls
