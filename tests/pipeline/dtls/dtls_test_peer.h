#pragma once

// Test peers for DtlsTransport: an independent DTLS 1.2 client written directly on OpenSSL
// (DTLS_client_method, its own self-signed certificate, a memory BIO to read and a datagram sink
// BIO that keeps each write as one datagram, as a UDP socket would), a Listener that records what
// the server reports, and a Link that carries datagrams between the two in memory, optionally
// dropping some. Shared by the unit tests, the benchmark and the fuzzer.

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pipeline/dtls/dtls_fingerprint.h"
#include "pipeline/dtls/dtls_srtp.h"
#include "pipeline/dtls/dtls_transport.h"

namespace chorus::dtls::testing {

using Datagram = std::vector<uint8_t>;

struct TestClientOptions {
  // use_srtp profiles offered, in the client's order; empty: no use_srtp extension.
  std::string srtp_profiles = "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM";
  // The server certificate's fingerprint the client insists on; unset: accept any.
  std::optional<DtlsFingerprint> expected_server_fingerprint;
  // First retransmission timeout of the client (0: OpenSSL's default of 1 s).
  unsigned int initial_timeout_us = 0;
  size_t mtu_bytes = 1200;
};

// Its key and certificate, made once and reused by clients that share them (benchmarks).
class TestClientIdentity {
 public:
  static std::shared_ptr<const TestClientIdentity> Generate();
  ~TestClientIdentity();
  EVP_PKEY* key() const { return key_; }
  X509* certificate() const { return certificate_; }
  const DtlsFingerprint& fingerprint() const { return fingerprint_; }

 private:
  TestClientIdentity() = default;
  EVP_PKEY* key_ = nullptr;
  X509* certificate_ = nullptr;
  DtlsFingerprint fingerprint_;
};

class TestDtlsClient {
 public:
  explicit TestDtlsClient(const TestClientOptions& options = {},
                          std::shared_ptr<const TestClientIdentity> identity = nullptr);
  ~TestDtlsClient();
  TestDtlsClient(const TestDtlsClient&) = delete;
  TestDtlsClient& operator=(const TestDtlsClient&) = delete;

  const DtlsFingerprint& fingerprint() const { return identity_->fingerprint(); }

  // Sends the ClientHello.
  void Start();
  // One datagram from the server.
  void Receive(std::span<const uint8_t> datagram);
  // Lets OpenSSL retransmit if its timer ran out; true when it did.
  bool HandleTimeout();
  // Datagrams the client has written since the last call.
  std::vector<Datagram> TakeOutgoing();

  bool connected() const { return connected_; }
  bool failed() const { return failed_; }
  bool received_close_notify() const { return received_close_notify_; }
  const std::vector<Datagram>& application_data() const { return application_data_; }

  // After the handshake: RFC 5764 keying material, the negotiated profile id, the server's
  // certificate.
  std::vector<uint8_t> ExportKeyingMaterial(size_t length) const;
  uint16_t selected_profile() const;
  X509* server_certificate() const;

  void Write(std::span<const uint8_t> data);
  // Starts a renegotiation (a new ClientHello inside the association).
  void Renegotiate();
  void Shutdown();
  SSL* ssl() const { return ssl_; }

 private:
  void Drive();

  std::shared_ptr<const TestClientIdentity> identity_;
  SSL_CTX* context_ = nullptr;  // owned
  SSL* ssl_ = nullptr;          // owned; owns both BIOs
  BIO* incoming_ = nullptr;     // owned by ssl_
  std::vector<Datagram> outgoing_;
  std::optional<DtlsFingerprint> expected_server_fingerprint_;
  unsigned int initial_timeout_us_ = 0;
  bool connected_ = false;
  bool failed_ = false;
  bool received_close_notify_ = false;
  std::vector<Datagram> application_data_;
};

// Records what a DtlsTransport reports.
class RecordingListener : public DtlsTransport::Listener {
 public:
  void OnDtlsSend(std::span<const uint8_t> datagram) override {
    sent.emplace_back(datagram.begin(), datagram.end());
    ++datagrams_sent;
  }
  void OnDtlsConnected(const SrtpKeys& keys_in) override {
    keys.emplace(keys_in);
    ++connected_calls;
  }
  void OnDtlsFailed(DtlsFailure reason) override {
    failure = reason;
    ++failed_calls;
  }
  void OnDtlsClosed() override { ++closed_calls; }

  std::vector<Datagram> TakeSent() { return std::exchange(sent, {}); }

  std::vector<Datagram> sent;  // not yet delivered
  uint64_t datagrams_sent = 0;
  std::optional<SrtpKeys> keys;
  std::optional<DtlsFailure> failure;
  int connected_calls = 0;
  int failed_calls = 0;
  int closed_calls = 0;
};

// Carries datagrams between a client and a server transport until neither has anything to say.
class Link {
 public:
  enum class Direction { kToServer, kToClient };
  // Returns true to drop the datagram. `index` counts datagrams in that direction from 0.
  using DropFilter = std::function<bool(Direction direction, size_t index, const Datagram&)>;

  Link(TestDtlsClient* client, DtlsTransport* server, RecordingListener* server_listener)
      : client_(client), server_(server), listener_(server_listener) {}

  void set_drop_filter(DropFilter filter) { drop_ = std::move(filter); }
  // Optional hook around each server call (the benchmark times the server's share with it).
  void set_server_call_hook(std::function<void(const std::function<void()>&)> hook) {
    server_hook_ = std::move(hook);
  }

  // Delivers everything in flight, both ways, until quiet or `max_rounds` exchanges.
  void Pump(int max_rounds = 32);
  // Client.Start() and Pump().
  void Handshake() {
    client_->Start();
    Pump();
  }

  size_t datagrams_to_server() const { return to_server_count_; }
  size_t datagrams_to_client() const { return to_client_count_; }

 private:
  void CallServer(const std::function<void()>& call);

  TestDtlsClient* client_;
  DtlsTransport* server_;
  RecordingListener* listener_;
  DropFilter drop_;
  std::function<void(const std::function<void()>&)> server_hook_;
  size_t to_server_count_ = 0;
  size_t to_client_count_ = 0;
};

}  // namespace chorus::dtls::testing
