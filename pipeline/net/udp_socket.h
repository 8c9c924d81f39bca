#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/net/datagram_io.h"
#include "pipeline/net/socket_address.h"

namespace chorus::net {

// A non-blocking UDP socket bound to one local address: one per media endpoint, carrying RTP and
// RTCP multiplexed (RFC 5761). Owns its file descriptor. Used on one media worker thread after
// creation; no allocation in Receive/Send.
class UdpSocket final : public DatagramIo {
 public:
  // Binds to `local` (port 0 picks one). UNAVAILABLE when the port is taken.
  static absl::StatusOr<std::unique_ptr<UdpSocket>> Bind(const SocketAddress& local);
  ~UdpSocket() override;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const override { return fd_; }
  const SocketAddress& local_address() const override { return local_; }

  // One datagram into `buffer`. Returns its length (a datagram longer than the buffer is
  // reported as -2 and dropped), -1 when nothing is waiting or on error.
  int Receive(std::span<uint8_t> buffer, SocketAddress* from) override;
  // Sends one datagram; false when the kernel refused it (full buffer, unreachable).
  bool Send(std::span<const uint8_t> data, const SocketAddress& to) override;
  // SO_ATTACH_FILTER / SO_DETACH_FILTER. What the program drops counts in the kernel's UDP
  // InErrors (and the socket's drops), not here.
  bool SetReceiveFilter(std::span<const sock_filter> program) override;

 private:
  UdpSocket(int fd, SocketAddress local) : fd_(fd), local_(local) {}
  int fd_;
  SocketAddress local_;
};

}  // namespace chorus::net
