#pragma once

// RAII for the OpenSSL handles this module creates, and OpenSSL's error queue turned into text at
// the edge where a failure becomes an absl::Status. Module internal.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

namespace chorus::dtls::internal {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};

using UniqueBignum = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using UniqueSsl = std::unique_ptr<SSL, OpenSslDeleter<SSL, SSL_free>>;
using UniqueSslCtx = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX, SSL_CTX_free>>;
using UniqueX509 = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;

// Drains this thread's OpenSSL error queue into "what: reason; reason". The queue is per thread
// and would otherwise confuse the next SSL_get_error() on the worker.
inline std::string DrainOpenSslErrors(std::string_view what) {
  std::string text(what);
  bool first = true;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    text += first ? ": " : "; ";
    text += buffer;
    first = false;
  }
  return text;
}

}  // namespace chorus::dtls::internal
