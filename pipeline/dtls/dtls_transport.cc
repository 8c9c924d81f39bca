#include "pipeline/dtls/dtls_transport.h"

#include <openssl/srtp.h>

#include <algorithm>
#include <string>
#include <utility>

#include "pipeline/base/check.h"
#include "pipeline/dtls/dtls_context.h"
#include "pipeline/dtls/dtls_record.h"
#include "pipeline/dtls/openssl_util.h"

namespace chorus::dtls {
namespace {

// SSL_read calls per datagram after the handshake: enough for every record a datagram of
// max_datagram_bytes can hold, and a bound on the work whatever OpenSSL does with them.
constexpr int kMaxReadsPerDatagram = 64;
// Application data is read into this and thrown away.
constexpr size_t kScratchBytes = 2048;
// The largest keying material any profile exports (2 * (16 + 14)).
constexpr size_t kMaxExportBytes = 2 * srtp::kSrtpMaxKeyMaterialBytes;

template <typename Enum, size_t N>
void Add(std::array<std::atomic<uint64_t>, N>& counters, Enum index) {
  counters[static_cast<size_t>(index)].fetch_add(1, std::memory_order_relaxed);
}

// Marks a public call, so a listener callback that re-enters is caught in debug builds.
class CallScope {
 public:
  explicit CallScope(bool* in_call) : in_call_(in_call) {
    CHORUS_DCHECK(!*in_call_);
    *in_call_ = true;
  }
  ~CallScope() { *in_call_ = false; }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  bool* in_call_;
};

}  // namespace

const char* DtlsStateName(DtlsState state) {
  switch (state) {
    case DtlsState::kNew:
      return "new";
    case DtlsState::kConnecting:
      return "connecting";
    case DtlsState::kConnected:
      return "connected";
    case DtlsState::kFailed:
      return "failed";
    case DtlsState::kClosed:
      return "closed";
  }
  return "unknown";
}

const char* DtlsFailureName(DtlsFailure failure) {
  switch (failure) {
    case DtlsFailure::kTimeout:
      return "timeout";
    case DtlsFailure::kFingerprintMismatch:
      return "fingerprint_mismatch";
    case DtlsFailure::kNoSrtpProfile:
      return "no_srtp_profile";
    case DtlsFailure::kHandshakeBudget:
      return "handshake_budget";
    case DtlsFailure::kPeerAlert:
      return "peer_alert";
    case DtlsFailure::kProtocolError:
      return "protocol_error";
    case DtlsFailure::kKeyExport:
      return "key_export";
    case DtlsFailure::kCount:
      break;
  }
  return "unknown";
}

const char* DtlsDropName(DtlsDrop drop) {
  switch (drop) {
    case DtlsDrop::kOversized:
      return "oversized";
    case DtlsDrop::kNotDtls:
      return "not_dtls";
    case DtlsDrop::kMalformedRecord:
      return "malformed_record";
    case DtlsDrop::kNotAccepting:
      return "not_accepting";
    case DtlsDrop::kApplicationData:
      return "application_data";
    case DtlsDrop::kCount:
      break;
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<DtlsTransport>> DtlsTransport::Create(
    std::shared_ptr<const DtlsCertificate> certificate, const DtlsFingerprint& remote_fingerprint,
    Listener* listener, const base::Clock& clock, const DtlsTransportOptions& options) {
  if (certificate == nullptr || listener == nullptr) {
    return absl::InvalidArgumentError("DTLS transport: a certificate and a listener are required");
  }
  if (options.mtu_bytes < 256 || options.mtu_bytes > 1500) {
    return absl::InvalidArgumentError("DTLS transport: mtu_bytes must be 256..1500");
  }
  if (options.max_datagram_bytes < options.mtu_bytes || options.max_datagram_bytes > 16384) {
    return absl::InvalidArgumentError(
        "DTLS transport: max_datagram_bytes must be mtu_bytes..16384");
  }
  if (options.max_handshake_datagrams < 1 || options.max_handshake_bytes < 1) {
    return absl::InvalidArgumentError("DTLS transport: the handshake budget must be at least 1");
  }
  if (options.handshake_timeout_us < 1'000 || options.handshake_timeout_us > 600'000'000) {
    return absl::InvalidArgumentError("DTLS transport: handshake_timeout_us must be 1 ms..10 min");
  }
  if (options.initial_retransmit_us < 1'000 || options.max_retransmit_us > 60'000'000 ||
      options.initial_retransmit_us > options.max_retransmit_us) {
    return absl::InvalidArgumentError(
        "DTLS transport: retransmission timeouts must be 1 ms..60 s, initial <= max");
  }

  ERR_clear_error();
  SSL* ssl = SSL_new(certificate->server_context());
  BIO* incoming = BIO_new(BIO_s_mem());
  BIO* outgoing = BIO_new(BIO_s_mem());
  if (ssl == nullptr || incoming == nullptr || outgoing == nullptr) {
    BIO_free(incoming);
    BIO_free(outgoing);
    SSL_free(ssl);
    return absl::InternalError(internal::DrainOpenSslErrors("DTLS transport: SSL_new"));
  }
  // An empty memory BIO means "no datagram yet" (retry), not end of file.
  BIO_set_mem_eof_return(incoming, -1);
  BIO_set_mem_eof_return(outgoing, -1);
  SSL_set_bio(ssl, incoming, outgoing);  // the SSL owns both from here
  SSL_set_accept_state(ssl);
  // The MTU is ours to set (SSL_OP_NO_QUERY_MTU: a memory BIO knows no path). And no record we
  // write is larger than a datagram, so the write buffer OpenSSL allocates per SSL need not fit
  // 16 KB records: capping the send fragment (OpenSSL's floor is 512) saves 15 KB per transport.
  const long max_fragment = std::max<long>(512, static_cast<long>(options.mtu_bytes));
  if (SSL_set_mtu(ssl, static_cast<long>(options.mtu_bytes)) <= 0 ||
      SSL_set_max_send_fragment(ssl, max_fragment) != 1) {
    SSL_free(ssl);
    return absl::InternalError(internal::DrainOpenSslErrors("DTLS transport: MTU"));
  }

  std::unique_ptr<DtlsTransport> transport(
      new DtlsTransport(std::move(certificate), remote_fingerprint, listener, clock, options));
  transport->ssl_ = ssl;
  transport->incoming_ = incoming;
  transport->outgoing_ = outgoing;
  internal::AttachNotes(ssl, transport->notes_.get());
  return transport;
}

DtlsTransport::DtlsTransport(std::shared_ptr<const DtlsCertificate> certificate,
                             const DtlsFingerprint& remote_fingerprint, Listener* listener,
                             const base::Clock& clock, const DtlsTransportOptions& options)
    : certificate_(std::move(certificate)),
      remote_fingerprint_(remote_fingerprint),
      listener_(listener),
      clock_(clock),
      options_(options),
      deadline_us_(clock.NowUs() + options.handshake_timeout_us),
      notes_(std::make_unique<internal::HandshakeNotes>()) {
  notes_->remote_fingerprint = &remote_fingerprint_;
  notes_->initial_retransmit_us = options.initial_retransmit_us;
  notes_->max_retransmit_us = options.max_retransmit_us;
}

DtlsTransport::~DtlsTransport() { ReleaseSsl(); }

bool DtlsTransport::HandleDatagram(std::span<const uint8_t> datagram) {
  CHORUS_DCHECK(OnOwningThread());
  CallScope scope(&in_call_);
  ++stats_.datagrams_in;
  stats_.bytes_in += datagram.size();

  if (ssl_ == nullptr) {
    Drop(DtlsDrop::kNotAccepting);
    return false;
  }
  if (datagram.size() > options_.max_datagram_bytes) {
    Drop(DtlsDrop::kOversized);
    return false;
  }
  if (!IsDtlsFirstByte(datagram)) {
    Drop(DtlsDrop::kNotDtls);
    return false;
  }
  size_t records = 0;
  if (CountDtlsRecords(datagram, &records) != DtlsRecordResult::kOk) {
    Drop(DtlsDrop::kMalformedRecord);
    return false;
  }

  if (Handshaking()) {
    if (clock_.NowUs() >= deadline_us_) {
      Fail(DtlsFailure::kTimeout);
      return false;
    }
    ++handshake_datagrams_;
    handshake_bytes_ += datagram.size();
    if (handshake_datagrams_ > options_.max_handshake_datagrams ||
        handshake_bytes_ > options_.max_handshake_bytes) {
      Fail(DtlsFailure::kHandshakeBudget);
      return false;
    }
  }

  // The memory BIO copies the datagram; OpenSSL reads it as one datagram (it is the only thing
  // in the BIO, and whatever OpenSSL leaves unread is discarded below).
  if (BIO_write(incoming_, datagram.data(), static_cast<int>(datagram.size())) !=
      static_cast<int>(datagram.size())) {
    ERR_clear_error();
    Fail(DtlsFailure::kProtocolError);
    return false;
  }
  if (Handshaking()) {
    ContinueHandshake();
  } else {
    ReadAfterHandshake();
  }
  if (ssl_ != nullptr) BIO_reset(incoming_);
  return true;
}

void DtlsTransport::OnTimer(int64_t now_us) {
  CHORUS_DCHECK(OnOwningThread());
  CallScope scope(&in_call_);
  if (!Handshaking() || ssl_ == nullptr) return;
  if (now_us >= deadline_us_) {
    Fail(DtlsFailure::kTimeout);
    return;
  }
  if (state_ == DtlsState::kNew) return;  // nothing sent yet, nothing to resend
  ERR_clear_error();
  // > 0: a flight was resent; 0: OpenSSL's timer has not run out; < 0: OpenSSL gave up after its
  // twelfth timeout, or could not resend.
  const int result = DTLSv1_handle_timeout(ssl_);
  FlushOutgoing();
  ERR_clear_error();
  if (result > 0) {
    ++stats_.retransmissions;
    if (options_.counters != nullptr) {
      options_.counters->retransmissions.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (result < 0) {
    Fail(DtlsFailure::kTimeout);
  }
}

std::optional<int64_t> DtlsTransport::NextTimeoutUs() const {
  if (!Handshaking() || ssl_ == nullptr) return std::nullopt;
  int64_t next_us = deadline_us_;
  timeval left{};
  if (state_ == DtlsState::kConnecting && DTLSv1_get_timeout(ssl_, &left) == 1) {
    const int64_t left_us = int64_t{left.tv_sec} * 1'000'000 + left.tv_usec;
    next_us = std::min(next_us, clock_.NowUs() + left_us);
  }
  return next_us;
}

void DtlsTransport::Close() {
  CHORUS_DCHECK(OnOwningThread());
  CallScope scope(&in_call_);
  if (state_ == DtlsState::kFailed || state_ == DtlsState::kClosed) return;
  if (state_ == DtlsState::kConnected && ssl_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // writes close_notify; we do not wait for the peer's
    FlushOutgoing();
    ERR_clear_error();
  }
  FinishClosed(/*notify=*/false);
}

void DtlsTransport::Drop(DtlsDrop reason) {
  ++stats_.drops[static_cast<size_t>(reason)];
  if (options_.counters != nullptr) Add(options_.counters->drops, reason);
}

void DtlsTransport::ContinueHandshake() {
  if (state_ == DtlsState::kNew) {
    state_ = DtlsState::kConnecting;
    if (options_.counters != nullptr) {
      options_.counters->handshakes_started.fetch_add(1, std::memory_order_relaxed);
    }
  }
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  const int error = result == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, result);
  // Whatever OpenSSL wrote goes out now: our next flight on WANT_READ, the last one on success,
  // the alert on failure.
  FlushOutgoing();
  SyncRenegotiationCount();
  if (result == 1) {
    CompleteHandshake();
    return;
  }
  ERR_clear_error();
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
  Fail(FailureFromNotes());
}

void DtlsTransport::CompleteHandshake() {
  // The verify callback has checked the fingerprint already; this catches a handshake that ended
  // without the callback seeing a certificate at depth 0.
  if (!internal::PeerFingerprintMatches(ssl_, remote_fingerprint_)) {
    Fail(DtlsFailure::kFingerprintMismatch);
    return;
  }
  const SRTP_PROTECTION_PROFILE* profile = SSL_get_selected_srtp_profile(ssl_);
  const std::optional<srtp::SrtpSuite> suite =
      profile != nullptr ? SuiteFromSrtpProfile(static_cast<uint16_t>(profile->id)) : std::nullopt;
  if (!suite.has_value()) {
    Fail(DtlsFailure::kNoSrtpProfile);
    return;
  }

  std::array<uint8_t, kMaxExportBytes> material{};
  const size_t length = DtlsSrtpExportLength(*suite);
  ERR_clear_error();
  const bool exported =
      SSL_export_keying_material(ssl_, material.data(), length, kDtlsSrtpExporterLabel.data(),
                                 kDtlsSrtpExporterLabel.size(), nullptr, 0,
                                 /*use_context=*/0) == 1;
  absl::StatusOr<SrtpKeys> keys =
      exported ? SplitDtlsSrtpKeyingMaterial(*suite, std::span(material.data(), length),
                                             DtlsRole::kServer)
               : absl::InternalError("export failed");
  OPENSSL_cleanse(material.data(), material.size());
  ERR_clear_error();
  if (!keys.ok()) {
    Fail(DtlsFailure::kKeyExport);
    return;
  }

  state_ = DtlsState::kConnected;
  if (options_.counters != nullptr) {
    options_.counters->handshakes_completed.fetch_add(1, std::memory_order_relaxed);
  }
  listener_->OnDtlsConnected(*keys);
}

void DtlsTransport::ReadAfterHandshake() {
  // SSL_read processes whatever the datagram holds: a retransmitted client Finished (OpenSSL
  // answers with our last flight again: RFC 6347 4.2.4), alerts, a renegotiation ClientHello
  // (refused with a no_renegotiation alert), and application data, which WebRTC media does not
  // use here and is thrown away.
  std::array<uint8_t, kScratchBytes> scratch;
  for (int i = 0; i < kMaxReadsPerDatagram; ++i) {
    ERR_clear_error();
    const int read = SSL_read(ssl_, scratch.data(), static_cast<int>(scratch.size()));
    if (read > 0) {
      Drop(DtlsDrop::kApplicationData);
      continue;
    }
    const int error = SSL_get_error(ssl_, read);
    ERR_clear_error();
    FlushOutgoing();
    SyncRenegotiationCount();
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
    if (error == SSL_ERROR_ZERO_RETURN) {
      // close_notify: answer with ours (RFC 5246, section 7.2.1) and stop.
      SSL_shutdown(ssl_);
      FlushOutgoing();
      ERR_clear_error();
      FinishClosed(/*notify=*/true);
      return;
    }
    Fail(notes_->peer_fatal_alert ? DtlsFailure::kPeerAlert : DtlsFailure::kProtocolError);
    return;
  }
  FlushOutgoing();
  SyncRenegotiationCount();
}

void DtlsTransport::FlushOutgoing() {
  if (ssl_ == nullptr) return;
  char* data = nullptr;
  const long pending = BIO_get_mem_data(outgoing_, &data);
  if (pending <= 0 || data == nullptr) return;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data),
                                       static_cast<size_t>(pending));
  // A memory BIO keeps no datagram boundaries, so OpenSSL's records (each written to fit
  // mtu_bytes) are packed here, in order, into datagrams of at most mtu_bytes.
  auto send = [&](std::span<const uint8_t> datagram) {
    ++stats_.datagrams_out;
    stats_.bytes_out += datagram.size();
    listener_->OnDtlsSend(datagram);
  };
  size_t start = 0;
  size_t end = 0;
  while (end < bytes.size()) {
    DtlsRecordView record;
    if (ParseDtlsRecord(bytes.subspan(end), &record) != DtlsRecordResult::kOk) {
      CHORUS_DCHECK(false);  // OpenSSL writes whole records
      end = bytes.size();
      break;
    }
    if (end > start && end - start + record.record.size() > options_.mtu_bytes) {
      send(bytes.subspan(start, end - start));
      start = end;
    }
    end += record.record.size();
  }
  if (end > start) send(bytes.subspan(start, end - start));
  BIO_reset(outgoing_);
}

DtlsFailure DtlsTransport::FailureFromNotes() const {
  if (notes_->fingerprint_mismatch) return DtlsFailure::kFingerprintMismatch;
  if (notes_->no_srtp_profile) return DtlsFailure::kNoSrtpProfile;
  if (notes_->peer_fatal_alert) return DtlsFailure::kPeerAlert;
  return DtlsFailure::kProtocolError;
}

void DtlsTransport::Fail(DtlsFailure reason) {
  FlushOutgoing();
  ReleaseSsl();
  state_ = DtlsState::kFailed;
  failure_ = reason;
  if (options_.counters != nullptr) Add(options_.counters->failures, reason);
  listener_->OnDtlsFailed(reason);
}

void DtlsTransport::FinishClosed(bool notify) {
  ReleaseSsl();
  state_ = DtlsState::kClosed;
  if (notify) listener_->OnDtlsClosed();
}

void DtlsTransport::SyncRenegotiationCount() {
  const uint64_t refused = notes_->renegotiations_refused;
  if (refused == stats_.renegotiations_refused) return;
  if (options_.counters != nullptr) {
    options_.counters->renegotiations_refused.fetch_add(refused - stats_.renegotiations_refused,
                                                        std::memory_order_relaxed);
  }
  stats_.renegotiations_refused = refused;
}

void DtlsTransport::ReleaseSsl() {
  if (ssl_ == nullptr) return;
  SSL_free(ssl_);  // frees both BIOs
  ssl_ = nullptr;
  incoming_ = nullptr;
  outgoing_ = nullptr;
}

bool DtlsTransport::OnOwningThread() {
  const std::thread::id self = std::this_thread::get_id();
  if (owning_thread_ == std::thread::id()) owning_thread_ = self;
  return owning_thread_ == self;
}

}  // namespace chorus::dtls
