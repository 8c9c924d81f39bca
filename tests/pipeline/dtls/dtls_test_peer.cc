#include "tests/pipeline/dtls/dtls_test_peer.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace chorus::dtls::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  ERR_print_errors_fp(stderr);
  std::fprintf(stderr, "test DTLS client: %s\n", what);
  std::abort();
}

// A write-only BIO that keeps each write as one datagram, as sendto() on a UDP socket does.
BIO_METHOD* DatagramSinkMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "datagram sink");
    BIO_meth_set_write(m, [](BIO* bio, const char* data, int length) -> int {
      auto* out = static_cast<std::vector<Datagram>*>(BIO_get_data(bio));
      out->emplace_back(data, data + length);
      return length;
    });
    BIO_meth_set_ctrl(m, [](BIO*, int command, long, void*) -> long {
      return command == BIO_CTRL_FLUSH ? 1 : 0;
    });
    BIO_meth_set_create(m, [](BIO* bio) -> int {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// The SSL ex_data slot that holds the expected server fingerprint (made once, thread-safe).
int VerifyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Like a browser: accept a self-signed server certificate, then insist on its fingerprint.
int VerifyServer(int, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto* expected =
      static_cast<const std::optional<DtlsFingerprint>*>(SSL_get_ex_data(ssl, VerifyIndex()));
  if (expected == nullptr || !expected->has_value()) return 1;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  X509_digest(X509_STORE_CTX_get_current_cert(store), EVP_sha256(), digest, &length);
  return length == 32 && std::memcmp(digest, (*expected)->sha256.data(), 32) == 0 ? 1 : 0;
}

unsigned int ClientTimer(SSL* ssl, unsigned int previous_us) {
  const auto initial =
      static_cast<unsigned int>(reinterpret_cast<uintptr_t>(SSL_get_app_data(ssl)));
  return previous_us == 0 ? initial : previous_us * 2;
}

}  // namespace

std::shared_ptr<const TestClientIdentity> TestClientIdentity::Generate() {
  std::shared_ptr<TestClientIdentity> identity(new TestClientIdentity());
  identity->key_ = EVP_EC_gen("P-256");
  if (identity->key_ == nullptr) Die("key");
  X509* x = X509_new();
  identity->certificate_ = x;
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::rand() & 0x7fffffff) + 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test-browser"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, identity->key_);
  if (X509_sign(x, identity->key_, EVP_sha256()) <= 0) Die("sign");
  unsigned int length = 0;
  X509_digest(x, EVP_sha256(), identity->fingerprint_.sha256.data(), &length);
  return identity;
}

TestClientIdentity::~TestClientIdentity() {
  X509_free(certificate_);
  EVP_PKEY_free(key_);
}

TestDtlsClient::TestDtlsClient(const TestClientOptions& options,
                               std::shared_ptr<const TestClientIdentity> identity)
    : identity_(identity != nullptr ? std::move(identity) : TestClientIdentity::Generate()),
      expected_server_fingerprint_(options.expected_server_fingerprint),
      initial_timeout_us_(options.initial_timeout_us) {
  context_ = SSL_CTX_new(DTLS_client_method());
  if (context_ == nullptr) Die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(context_, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(context_, DTLS1_2_VERSION);
  if (!options.srtp_profiles.empty() &&
      SSL_CTX_set_tlsext_use_srtp(context_, options.srtp_profiles.c_str()) != 0) {
    Die("use_srtp");
  }
  if (SSL_CTX_use_certificate(context_, identity_->certificate()) != 1 ||
      SSL_CTX_use_PrivateKey(context_, identity_->key()) != 1) {
    Die("certificate");
  }
  SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, VerifyServer);
  SSL_CTX_set_options(context_, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);

  ssl_ = SSL_new(context_);
  incoming_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(incoming_, -1);
  BIO* sink = BIO_new(DatagramSinkMethod());
  BIO_set_data(sink, &outgoing_);
  SSL_set_bio(ssl_, incoming_, sink);
  SSL_set_connect_state(ssl_);
  SSL_set_mtu(ssl_, static_cast<long>(options.mtu_bytes));
  SSL_set_ex_data(ssl_, VerifyIndex(), &expected_server_fingerprint_);
  if (initial_timeout_us_ != 0) {
    SSL_set_app_data(ssl_, reinterpret_cast<void*>(uintptr_t{initial_timeout_us_}));
    DTLS_set_timer_cb(ssl_, ClientTimer);
  }
}

TestDtlsClient::~TestDtlsClient() {
  SSL_free(ssl_);
  SSL_CTX_free(context_);
}

void TestDtlsClient::Start() { Drive(); }

void TestDtlsClient::Receive(std::span<const uint8_t> datagram) {
  if (failed_) return;
  BIO_write(incoming_, datagram.data(), static_cast<int>(datagram.size()));
  Drive();
  BIO_reset(incoming_);
}

void TestDtlsClient::Drive() {
  ERR_clear_error();
  if (!connected_ || SSL_renegotiate_pending(ssl_)) {
    const int result = SSL_do_handshake(ssl_);
    if (result == 1) {
      connected_ = true;
    } else {
      const int error = SSL_get_error(ssl_, result);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        if (!connected_) failed_ = true;
        ERR_clear_error();
        return;
      }
    }
  }
  if (!connected_) return;
  for (int i = 0; i < 16; ++i) {
    uint8_t buffer[2048];
    const int read = SSL_read(ssl_, buffer, sizeof(buffer));
    if (read > 0) {
      application_data_.emplace_back(buffer, buffer + read);
      continue;
    }
    if (SSL_get_error(ssl_, read) == SSL_ERROR_ZERO_RETURN) received_close_notify_ = true;
    break;
  }
  ERR_clear_error();
}

bool TestDtlsClient::HandleTimeout() {
  ERR_clear_error();
  const bool resent = DTLSv1_handle_timeout(ssl_) > 0;
  ERR_clear_error();
  return resent;
}

std::vector<Datagram> TestDtlsClient::TakeOutgoing() { return std::exchange(outgoing_, {}); }

std::vector<uint8_t> TestDtlsClient::ExportKeyingMaterial(size_t length) const {
  std::vector<uint8_t> out(length);
  static constexpr char kLabel[] = "EXTRACTOR-dtls_srtp";
  if (SSL_export_keying_material(ssl_, out.data(), length, kLabel, sizeof(kLabel) - 1, nullptr, 0,
                                 0) != 1) {
    out.clear();
  }
  return out;
}

uint16_t TestDtlsClient::selected_profile() const {
  const SRTP_PROTECTION_PROFILE* profile = SSL_get_selected_srtp_profile(ssl_);
  return profile != nullptr ? static_cast<uint16_t>(profile->id) : 0;
}

X509* TestDtlsClient::server_certificate() const { return SSL_get0_peer_certificate(ssl_); }

void TestDtlsClient::Write(std::span<const uint8_t> data) {
  SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
  ERR_clear_error();
}

void TestDtlsClient::Renegotiate() {
  if (SSL_renegotiate(ssl_) != 1) Die("SSL_renegotiate");
  SSL_do_handshake(ssl_);
  ERR_clear_error();
}

void TestDtlsClient::Shutdown() {
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

void Link::CallServer(const std::function<void()>& call) {
  if (server_hook_) {
    server_hook_(call);
  } else {
    call();
  }
}

void Link::Pump(int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    std::vector<Datagram> to_server = client_->TakeOutgoing();
    std::vector<Datagram> to_client = listener_->TakeSent();
    if (to_server.empty() && to_client.empty()) return;
    for (const Datagram& datagram : to_server) {
      const size_t index = to_server_count_++;
      if (drop_ && drop_(Direction::kToServer, index, datagram)) continue;
      CallServer([&] { server_->HandleDatagram(datagram); });
    }
    for (const Datagram& datagram : to_client) {
      const size_t index = to_client_count_++;
      if (drop_ && drop_(Direction::kToClient, index, datagram)) continue;
      client_->Receive(datagram);
    }
  }
}

}  // namespace chorus::dtls::testing
