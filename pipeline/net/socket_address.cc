#include "pipeline/net/socket_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace chorus::net {

absl::StatusOr<SocketAddress> SocketAddress::FromIp(std::string_view ip, uint16_t port) {
  SocketAddress result;
  std::string text(ip);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&result.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage_);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    result.length_ = sizeof(sockaddr_in);
    return result;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    result.length_ = sizeof(sockaddr_in6);
    return result;
  }
  std::string message = "'";
  message.append(text).append("' is not an IPv4 or IPv6 address");
  return absl::InvalidArgumentError(message);
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr* address, socklen_t length) {
  SocketAddress result;
  if (address == nullptr || length == 0 || length > sizeof(result.storage_)) return result;
  if (address->sa_family != AF_INET && address->sa_family != AF_INET6) return result;
  std::memcpy(&result.storage_, address, length);
  result.length_ = length;
  return result;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof(text));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

std::string SocketAddress::ToString() const {
  std::string text;
  if (family() == AF_INET6) {
    text.append("[").append(ip()).append("]");
  } else {
    text.append(ip());
  }
  text.append(":").append(std::to_string(port()));
  return text;
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family()) return false;
  if (family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage_);
    const auto* b = reinterpret_cast<const sockaddr_in*>(&other.storage_);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage_);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(&other.storage_);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return length_ == 0 && other.length_ == 0;
}

}  // namespace chorus::net
