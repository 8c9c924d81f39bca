#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chorus::net {

// An IPv4 or IPv6 address and port, as the kernel takes it. Cheap to copy; no allocation.
class SocketAddress {
 public:
  SocketAddress() = default;
  // From a numeric IP ("127.0.0.1", "::1") and a port. INVALID_ARGUMENT for anything else (no
  // name resolution: media addresses are always literal).
  static absl::StatusOr<SocketAddress> FromIp(std::string_view ip, uint16_t port);
  // From what recvfrom/recvmmsg filled in.
  static SocketAddress FromSockaddr(const sockaddr* address, socklen_t length);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  bool empty() const { return length_ == 0; }
  uint16_t port() const;
  std::string ip() const;
  std::string ToString() const;  // "1.2.3.4:5" or "[::1]:5"

  // Same family, IP and port.
  bool operator==(const SocketAddress& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace chorus::net
