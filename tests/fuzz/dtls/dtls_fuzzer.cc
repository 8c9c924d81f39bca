// Arbitrary datagrams fed to a fresh server DtlsTransport, as a hostile or broken peer on the
// ICE-selected 5-tuple would send them. Nothing may crash, read out of bounds, connect without a
// valid handshake, or send a datagram larger than the MTU. Each datagram also goes through the
// record splitter, whose result must tile the datagram exactly.
//
// Input: one flag byte, then datagrams, each a 2-byte big-endian length and that many bytes.
//   bit 0: a genuine ClientHello (from an in-process OpenSSL client) goes first, so the fuzzer
//          reaches the states after it (server flight sent, waiting for the client's flight);
//   bit 1: the first datagram is that ClientHello with the first fuzz datagram written over it
//          from byte 13 on (the handshake message: extensions, use_srtp, lengths);
//   bit 2: OnTimer after every datagram, with time moving 1 s each time (deadline reached too).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "pipeline/base/clock.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_record.h"
#include "pipeline/dtls/dtls_transport.h"
#include "tests/pipeline/dtls/dtls_test_peer.h"

namespace {

using chorus::dtls::CountDtlsRecords;
using chorus::dtls::DtlsCertificate;
using chorus::dtls::DtlsFailure;
using chorus::dtls::DtlsRecordResult;
using chorus::dtls::DtlsRecordView;
using chorus::dtls::DtlsState;
using chorus::dtls::DtlsTransport;
using chorus::dtls::SplitDtlsRecords;
using chorus::dtls::SrtpKeys;

constexpr size_t kMtuBytes = 1200;
constexpr size_t kMaxDatagrams = 64;

class CheckingListener : public DtlsTransport::Listener {
 public:
  void OnDtlsSend(std::span<const uint8_t> datagram) override {
    if (datagram.empty() || datagram.size() > kMtuBytes) std::abort();
    size_t records = 0;
    if (CountDtlsRecords(datagram, &records) != DtlsRecordResult::kOk) std::abort();
  }
  // Only a peer holding the client's private key can finish a handshake.
  void OnDtlsConnected(const SrtpKeys&) override { std::abort(); }
  void OnDtlsFailed(DtlsFailure) override {}
  void OnDtlsClosed() override { std::abort(); }
};

struct Fixture {
  Fixture() : certificate(*DtlsCertificate::Generate()) {
    chorus::dtls::testing::TestDtlsClient client;
    client.Start();
    client_hello = client.TakeOutgoing().at(0);
    client_fingerprint = client.fingerprint();
  }
  std::shared_ptr<const DtlsCertificate> certificate;
  std::vector<uint8_t> client_hello;
  chorus::dtls::DtlsFingerprint client_fingerprint;
};

void CheckSplit(std::span<const uint8_t> datagram) {
  std::array<DtlsRecordView, 8> records;
  size_t count = 0;
  const DtlsRecordResult result = SplitDtlsRecords(datagram, records, &count);
  size_t covered = 0;
  for (size_t i = 0; i < count; ++i) {
    if (records[i].record.data() != datagram.data() + covered) std::abort();
    if (records[i].record.size() != 13 + records[i].fragment.size()) std::abort();
    covered += records[i].record.size();
  }
  if (covered > datagram.size()) std::abort();
  if (result == DtlsRecordResult::kOk && covered != datagram.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::span<const uint8_t> input(data + 1, size - 1);

  // Exactly sized heap copies, so AddressSanitizer sees any read past a datagram.
  std::vector<std::unique_ptr<uint8_t[]>> storage;
  std::vector<std::span<const uint8_t>> datagrams;
  auto add = [&](std::span<const uint8_t> bytes) {
    storage.push_back(std::make_unique<uint8_t[]>(bytes.size() + 1));
    std::copy(bytes.begin(), bytes.end(), storage.back().get());
    datagrams.emplace_back(storage.back().get(), bytes.size());
  };
  std::vector<std::span<const uint8_t>> fuzz;
  while (input.size() >= 2 && fuzz.size() < kMaxDatagrams) {
    const size_t length = std::min<size_t>((size_t{input[0]} << 8) | input[1], input.size() - 2);
    fuzz.push_back(input.subspan(2, length));
    input = input.subspan(2 + length);
  }

  size_t first_fuzz = 0;
  if ((flags & 0x02) != 0 && !fuzz.empty()) {
    std::vector<uint8_t> hello = fixture->client_hello;
    for (size_t i = 0; i < fuzz[0].size() && 13 + i < hello.size(); ++i) hello[13 + i] = fuzz[0][i];
    add(hello);
    first_fuzz = 1;
  } else if ((flags & 0x01) != 0) {
    add(fixture->client_hello);
  }
  for (size_t i = first_fuzz; i < fuzz.size(); ++i) add(fuzz[i]);

  chorus::base::FakeClock clock;
  CheckingListener listener;
  auto transport = *DtlsTransport::Create(fixture->certificate, fixture->client_fingerprint,
                                          &listener, clock, {.mtu_bytes = kMtuBytes});
  for (std::span<const uint8_t> datagram : datagrams) {
    CheckSplit(datagram);
    transport->HandleDatagram(datagram);
    if ((flags & 0x04) != 0) {
      clock.AdvanceUs(1'000'000);
      transport->OnTimer(clock.NowUs());
      (void)transport->NextTimeoutUs();
    }
  }
  if (transport->state() == DtlsState::kConnected) std::abort();
  transport->Close();
  return 0;
}
