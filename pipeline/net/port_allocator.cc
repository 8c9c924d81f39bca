#include "pipeline/net/port_allocator.h"

namespace chorus::net {

PortAllocator::PortAllocator(std::string ip, uint16_t port_min, uint16_t port_max)
    : ip_(std::move(ip)),
      port_min_(port_min),
      port_max_(port_max < port_min ? port_min : port_max) {}

absl::StatusOr<std::unique_ptr<UdpSocket>> PortAllocator::Allocate() {
  absl::MutexLock lock(&mutex_);
  const uint32_t size = range_size();
  for (uint32_t attempt = 0; attempt < size; ++attempt) {
    uint32_t offset = next_offset_;
    next_offset_ = (next_offset_ + 1) % size;
    auto address = SocketAddress::FromIp(ip_, static_cast<uint16_t>(port_min_ + offset));
    if (!address.ok()) return address.status();
    auto socket = UdpSocket::Bind(*address);
    if (socket.ok()) return socket;
  }
  return absl::ResourceExhaustedError("every media port from " + std::to_string(port_min_) +
                                      " to " + std::to_string(port_max_) + " is in use");
}

}  // namespace chorus::net
