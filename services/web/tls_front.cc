#include "services/web/tls_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/server_config.h"

namespace chorus::web {
namespace {

constexpr int kHandshakeSeconds = 10;
constexpr int kWriteSeconds = 30;

void SetTimeouts(int fd, int receive_seconds, int send_seconds) {
  timeval receive{receive_seconds, 0};
  timeval send{send_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive, sizeof(receive));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send, sizeof(send));
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string PeerAddress(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof(text));
  } else if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof(text));
  }
  return text;
}

// A TLS context with the certificate chain and key of these files, or null.
SSL_CTX* NewContext(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

absl::Status TlsFront::Reload() {
  SSL_CTX* fresh = NewContext(options_.cert_file, options_.key_file);
  if (fresh == nullptr) {
    return absl::InvalidArgumentError(
        "the web listener's TLS certificate and key cannot be loaded (PEM files that match); the "
        "old ones stay");
  }
  SSL_CTX* old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = ctx_;
    ctx_ = fresh;
  }
  SSL_CTX_free(old);  // connections made with it hold references of their own
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsFront>> TlsFront::Start(Options options) {
  auto host_port = common::ParseHostPort(options.listen);
  if (!host_port.ok()) return host_port.status();
  std::unique_ptr<TlsFront> front(new TlsFront());
  front->options_ = std::move(options);
  front->ctx_ = NewContext(front->options_.cert_file, front->options_.key_file);
  if (front->ctx_ == nullptr) {
    return absl::InvalidArgumentError(
        "the web listener's TLS certificate and key cannot be loaded (PEM files that match)");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(host_port->port);
  const std::string host = host_port->host == "localhost" ? "127.0.0.1" : host_port->host;
  if (getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--web_listen: cannot use ", front->options_.listen));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool bound =
      fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, 128) == 0;
  freeaddrinfo(found);
  if (!bound) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --web_listen=", front->options_.listen));
  }
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  front->port_ =
      ntohs(local.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(local).sin_port
                                       : reinterpret_cast<sockaddr_in6&>(local).sin6_port);
  front->listener_ = fd;
  if (pipe2(front->wake_, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  TlsFront* self = front.get();
  front->acceptor_ = std::thread([self] { self->AcceptLoop(); });
  return front;
}

TlsFront::~TlsFront() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    char byte = 1;
    (void)!write(wake_[1], &byte, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Unblocks relays waiting in a handshake or a write.
    for (auto& [fd, thread] : relays_) shutdown(fd, SHUT_RDWR);
    for (auto& [fd, thread] : relays_) threads.push_back(std::move(thread));
    relays_.clear();
    for (auto& thread : finished_) threads.push_back(std::move(thread));
    finished_.clear();
  }
  for (auto& thread : threads) {
    if (thread.joinable()) thread.join();
  }
  if (listener_ >= 0) close(listener_);
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

std::string TlsFront::ClientAddress(uint16_t relay_port) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = clients_.find(relay_port);
  return it == clients_.end() ? std::string() : it->second;
}

void TlsFront::AcceptLoop() {
  while (!stopping_) {
    std::array<pollfd, 2> fds = {pollfd{listener_, POLLIN, 0}, pollfd{wake_[0], POLLIN, 0}};
    if (poll(fds.data(), fds.size(), 1000) < 0) continue;
    std::vector<std::thread> done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done.swap(finished_);
    }
    for (auto& thread : done) thread.join();
    if (stopping_ || (fds[0].revents & POLLIN) == 0) continue;
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    int client = accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::string address = PeerAddress(peer);
    std::lock_guard<std::mutex> lock(mutex_);
    // One address cannot take every slot (each holds a thread, even before its handshake).
    int& from_source = per_source_[address];
    if (static_cast<int>(relays_.size()) >= options_.max_connections ||
        (options_.max_connections_per_source > 0 &&
         from_source >= options_.max_connections_per_source)) {
      if (from_source == 0) per_source_.erase(address);
      close(client);
      continue;
    }
    ++from_source;
    relays_[client] = std::thread([this, client, address] {
      Relay(client, address);
      std::lock_guard<std::mutex> lock(mutex_);
      auto source = per_source_.find(address);
      if (source != per_source_.end() && --source->second <= 0) per_source_.erase(source);
      auto it = relays_.find(client);
      if (it != relays_.end()) {
        finished_.push_back(std::move(it->second));
        relays_.erase(it);
      }
      close(client);
    });
  }
}

void TlsFront::Relay(int client, std::string address) {
  SetTimeouts(client, kHandshakeSeconds, kWriteSeconds);
  SSL* ssl;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ssl = SSL_new(ctx_);
  }
  if (ssl == nullptr) return;
  SSL_set_fd(ssl, client);
  if (SSL_accept(ssl) != 1) {
    ERR_clear_error();
    SSL_free(ssl);
    return;
  }
  SetTimeouts(client, 0, kWriteSeconds);
  int backend = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(options_.backend_port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint16_t relay_port = 0;
  if (backend >= 0 && connect(backend, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    getsockname(backend, reinterpret_cast<sockaddr*>(&local), &length);
    relay_port = ntohs(local.sin_port);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      clients_[relay_port] = address;
    }
    SetTimeouts(backend, 0, kWriteSeconds);
    int one = 1;
    setsockopt(backend, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::array<char, 16384> buffer;
    while (!stopping_) {
      if (SSL_pending(ssl) == 0) {
        std::array<pollfd, 3> fds = {pollfd{client, POLLIN, 0}, pollfd{backend, POLLIN, 0},
                                     pollfd{wake_[0], POLLIN, 0}};
        if (poll(fds.data(), fds.size(), -1) < 0) break;
        if (fds[2].revents != 0) break;
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
          ssize_t n = recv(backend, buffer.data(), buffer.size(), 0);
          if (n <= 0 || SSL_write(ssl, buffer.data(), static_cast<int>(n)) != n) break;
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      }
      int n = SSL_read(ssl, buffer.data(), static_cast<int>(buffer.size()));
      if (n <= 0) {
        if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) continue;
        break;
      }
      if (!WriteAll(backend, buffer.data(), static_cast<size_t>(n))) break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    clients_.erase(relay_port);
  }
  if (backend >= 0) close(backend);
  ERR_clear_error();
  SSL_shutdown(ssl);
  SSL_free(ssl);
}

}  // namespace chorus::web
