#include "tools/loadgen/webrtc_client.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pipeline/ice/ice_lite.h"

namespace chorus::loadgen {
namespace {

std::string OpenSslError(const char* what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  char text[256] = {};
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  return absl::StrCat(what, code != 0 ? ": " : "", text);
}

// The write side of a client's SSL: every write OpenSSL makes is one datagram for the sink (DTLS
// writes each record group it sends as one call, sized to the MTU).
int SinkWrite(BIO* bio, const char* data, int length) {
  auto* sink = static_cast<DtlsClient::Sink*>(BIO_get_data(bio));
  if (sink == nullptr || length <= 0) return length;
  sink->SendDatagram(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data),
                                              static_cast<size_t>(length)));
  return length;
}

long SinkControl(BIO*, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    default:
      return 0;  // no pending bytes, no MTU query (SSL_OP_NO_QUERY_MTU), nothing else
  }
}

int SinkCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* SinkMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "loadgen datagrams");
    BIO_meth_set_write(m, SinkWrite);
    BIO_meth_set_ctrl(m, SinkControl);
    BIO_meth_set_create(m, SinkCreate);
    return m;
  }();
  return method;
}

// Self-signed server certificates are the rule in WebRTC: the chain is not checked, the
// fingerprint is (after the handshake, against the answer's).
int AcceptAnyChain(int, X509_STORE_CTX*) { return 1; }

// The retransmission timer: the configured first timeout (kept in the SSL's app data), doubled.
unsigned int RetransmitTimer(SSL* ssl, unsigned int previous_us) {
  const auto initial =
      static_cast<unsigned int>(reinterpret_cast<uintptr_t>(SSL_get_app_data(ssl)));
  if (previous_us == 0) return initial;
  return previous_us >= 4'000'000 ? 8'000'000 : previous_us * 2;
}

}  // namespace

// ----- ICE -----

absl::StatusOr<IceClient> IceClient::Create(const std::string& local_ufrag,
                                            const std::string& remote_ufrag,
                                            const std::string& remote_pwd, uint64_t tie_breaker) {
  // The password is only checked for its grammar here; the ufrags go into the USERNAME.
  for (const ice::IceCredentials& credentials :
       {ice::IceCredentials{local_ufrag, std::string(22, 'a')},
        ice::IceCredentials{remote_ufrag, remote_pwd}}) {
    if (absl::Status valid = ice::ValidateIceCredentials(credentials); !valid.ok()) return valid;
  }
  auto key = ice::StunIntegrityKey::Create(std::string_view(remote_pwd));
  if (!key.ok()) return key.status();
  return IceClient(absl::StrCat(remote_ufrag, ":", local_ufrag), *std::move(key), tie_breaker);
}

size_t IceClient::BuildCheck(std::span<uint8_t> out, bool nominate) {
  ice::StunTransactionId id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) return 0;
  pending_ = id;
  pending_nominates_ = nominate;
  return RebuildPending(out);
}

size_t IceClient::RebuildPending(std::span<uint8_t> out) {
  if (!pending_.has_value()) return 0;
  ice::StunBindingRequest request;
  request.transaction_id = *pending_;
  request.username = username_;
  request.priority = kIceCheckPriority;
  request.use_candidate = pending_nominates_;
  request.controlling = true;
  request.tie_breaker = tie_breaker_;
  return ice::BuildBindingRequest(out, request, key_);
}

IceClient::Response IceClient::HandleResponse(std::span<const uint8_t> datagram) {
  if (!pending_.has_value() || !ice::IsStun(datagram)) return Response::kIgnored;
  ice::StunMessage message;
  if (ice::ParseStun(datagram, &message) != ice::StunParseResult::kOk ||
      message.method != ice::kStunMethodBinding || message.transaction_id != *pending_) {
    return Response::kIgnored;
  }
  if (message.message_class == ice::StunClass::kErrorResponse) {
    // Errors for unauthenticated requests carry no integrity (RFC 8489 section 9.1.3); the
    // transaction id, which only the server saw, is what ties it to the request.
    pending_.reset();
    return Response::kError;
  }
  if (message.message_class != ice::StunClass::kSuccessResponse ||
      !ice::VerifyFingerprint(datagram, message) ||
      !ice::VerifyMessageIntegrity(datagram, message, key_)) {
    return Response::kIgnored;
  }
  pending_.reset();
  return Response::kSuccess;
}

// ----- DTLS -----

absl::StatusOr<std::shared_ptr<const ClientCertificate>> ClientCertificate::Generate() {
  std::shared_ptr<ClientCertificate> out(new ClientCertificate());
  out->key_ = EVP_EC_gen("P-256");
  if (out->key_ == nullptr) return absl::InternalError(OpenSslError("EC key generation"));
  out->certificate_ = X509_new();
  X509* x = out->certificate_;
  uint64_t serial = 0;
  if (x == nullptr || RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial)) != 1) {
    return absl::InternalError(OpenSslError("certificate"));
  }
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), (serial >> 1) | 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("loadgen"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, out->key_);
  if (X509_sign(x, out->key_, EVP_sha256()) <= 0) {
    return absl::InternalError(OpenSslError("certificate signature"));
  }
  unsigned int length = 0;
  if (X509_digest(x, EVP_sha256(), out->fingerprint_.data(), &length) != 1 || length != 32) {
    return absl::InternalError(OpenSslError("certificate fingerprint"));
  }
  return std::shared_ptr<const ClientCertificate>(std::move(out));
}

ClientCertificate::~ClientCertificate() {
  X509_free(certificate_);
  EVP_PKEY_free(key_);
}

absl::StatusOr<std::unique_ptr<DtlsClientContext>> DtlsClientContext::Create(
    const std::string& profiles) {
  SSL_CTX* context = SSL_CTX_new(DTLS_client_method());
  if (context == nullptr) return absl::InternalError(OpenSslError("SSL_CTX_new"));
  std::unique_ptr<DtlsClientContext> out(new DtlsClientContext(context));
  if (SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(context, DTLS1_2_VERSION) != 1) {
    return absl::InternalError(OpenSslError("DTLS 1.2"));
  }
  // OpenSSL's use_srtp setter returns 0 on success.
  if (SSL_CTX_set_tlsext_use_srtp(context, profiles.c_str()) != 0) {
    return absl::InvalidArgumentError(OpenSslError("SRTP profiles"));
  }
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, AcceptAnyChain);
  SSL_CTX_set_options(context, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  return out;
}

DtlsClientContext::~DtlsClientContext() { SSL_CTX_free(context_); }

DtlsClient::DtlsClient(std::shared_ptr<const ClientCertificate> certificate, Sink* sink)
    : certificate_(std::move(certificate)), sink_(sink) {}

DtlsClient::~DtlsClient() { SSL_free(ssl_); }

absl::StatusOr<std::unique_ptr<DtlsClient>> DtlsClient::Create(
    const DtlsClientContext& context, std::shared_ptr<const ClientCertificate> certificate,
    Sink* sink, unsigned int initial_timeout_us) {
  if (certificate == nullptr || sink == nullptr || initial_timeout_us == 0) {
    return absl::InvalidArgumentError("DTLS client: certificate, sink and timeout are needed");
  }
  std::unique_ptr<DtlsClient> client(new DtlsClient(std::move(certificate), sink));
  SSL* ssl = SSL_new(context.get());
  if (ssl == nullptr) return absl::InternalError(OpenSslError("SSL_new"));
  client->ssl_ = ssl;
  if (SSL_use_certificate(ssl, client->certificate_->certificate()) != 1 ||
      SSL_use_PrivateKey(ssl, client->certificate_->key()) != 1) {
    return absl::InternalError(OpenSslError("client certificate"));
  }
  BIO* incoming = BIO_new(BIO_s_mem());
  BIO* outgoing = BIO_new(SinkMethod());
  if (incoming == nullptr || outgoing == nullptr) {
    BIO_free(incoming);
    BIO_free(outgoing);
    return absl::InternalError(OpenSslError("BIO_new"));
  }
  BIO_set_mem_eof_return(incoming, -1);  // empty: "try again", not end of file
  BIO_set_data(outgoing, sink);
  SSL_set_bio(ssl, incoming, outgoing);  // the SSL owns both from here
  client->incoming_ = incoming;
  SSL_set_connect_state(ssl);
  SSL_set_mtu(ssl, 1200);
  SSL_set_app_data(ssl, reinterpret_cast<void*>(uintptr_t{initial_timeout_us}));
  DTLS_set_timer_cb(ssl, RetransmitTimer);
  return client;
}

void DtlsClient::Start(const std::array<uint8_t, 32>& server_fingerprint) {
  if (state_ != State::kIdle) return;
  server_fingerprint_ = server_fingerprint;
  state_ = State::kConnecting;
  Drive();
}

DtlsClient::State DtlsClient::Receive(std::span<const uint8_t> datagram) {
  if (state_ == State::kIdle || state_ == State::kFailed) return state_;
  // One datagram at a time: a memory BIO does not keep datagram boundaries.
  BIO_write(incoming_, datagram.data(), static_cast<int>(datagram.size()));
  Drive();
  (void)BIO_reset(incoming_);
  return state_;
}

void DtlsClient::Drive() {
  ERR_clear_error();
  if (state_ == State::kConnecting) {
    const int result = SSL_do_handshake(ssl_);
    if (result != 1) {
      const int error = SSL_get_error(ssl_, result);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        Fail(OpenSslError("DTLS handshake"));
      }
      ERR_clear_error();
      return;
    }
    X509* server = SSL_get0_peer_certificate(ssl_);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (server == nullptr || X509_digest(server, EVP_sha256(), digest, &length) != 1 ||
        length != server_fingerprint_.size() ||
        CRYPTO_memcmp(digest, server_fingerprint_.data(), length) != 0) {
      Fail("the server's certificate does not match the answer's fingerprint");
      return;
    }
    if (SSL_get_selected_srtp_profile(ssl_) == nullptr) {
      Fail("the server selected no SRTP profile");
      return;
    }
    state_ = State::kConnected;
  }
  // After the handshake: whatever else the server sends (a retransmitted flight, an alert) is
  // read and dropped.
  for (int i = 0; i < 4; ++i) {
    uint8_t scratch[1500];
    const int read = SSL_read(ssl_, scratch, sizeof(scratch));
    if (read <= 0) break;
  }
  ERR_clear_error();
}

bool DtlsClient::OnTimer() {
  if (state_ != State::kConnecting) return false;
  timeval left{};
  if (DTLSv1_get_timeout(ssl_, &left) != 1 || left.tv_sec != 0 || left.tv_usec != 0) return false;
  ERR_clear_error();
  const int result = DTLSv1_handle_timeout(ssl_);
  if (result < 0) Fail(OpenSslError("DTLS retransmission limit"));
  ERR_clear_error();
  return result > 0;
}

void DtlsClient::Fail(std::string why) {
  state_ = State::kFailed;
  failure_ = std::move(why);
}

absl::StatusOr<dtls::SrtpKeys> DtlsClient::ExportSrtpKeys() const {
  if (state_ != State::kConnected) {
    return absl::FailedPreconditionError("DTLS handshake not complete");
  }
  const SRTP_PROTECTION_PROFILE* profile = SSL_get_selected_srtp_profile(ssl_);
  const std::optional<srtp::SrtpSuite> suite =
      profile != nullptr ? dtls::SuiteFromSrtpProfile(static_cast<uint16_t>(profile->id))
                         : std::nullopt;
  if (!suite.has_value()) return absl::InternalError("the server selected an unknown profile");
  std::vector<uint8_t> material(dtls::DtlsSrtpExportLength(*suite));
  if (SSL_export_keying_material(ssl_, material.data(), material.size(),
                                 dtls::kDtlsSrtpExporterLabel.data(),
                                 dtls::kDtlsSrtpExporterLabel.size(), nullptr, 0, 0) != 1) {
    return absl::InternalError(OpenSslError("SRTP key export"));
  }
  auto keys = dtls::SplitDtlsSrtpKeyingMaterial(*suite, material, dtls::DtlsRole::kClient);
  OPENSSL_cleanse(material.data(), material.size());
  return keys;
}

}  // namespace chorus::loadgen
