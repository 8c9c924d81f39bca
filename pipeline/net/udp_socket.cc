#include "pipeline/net/udp_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace chorus::net {

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Bind(const SocketAddress& local) {
  if (local.empty()) return absl::InvalidArgumentError("no local address to bind");
  int fd = socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::string("socket: ") + std::strerror(errno));
  // Room for bursts (video keyframes, many endpoints per worker).
  int buffer_bytes = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
  if (bind(fd, local.sockaddr_ptr(), local.length()) != 0) {
    int error = errno;
    close(fd);
    return absl::UnavailableError("cannot bind UDP " + local.ToString() + ": " +
                                  std::strerror(error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return std::unique_ptr<UdpSocket>(
      new UdpSocket(fd, SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), length)));
}

UdpSocket::~UdpSocket() { close(fd_); }

int UdpSocket::Receive(std::span<uint8_t> buffer, SocketAddress* from) {
  sockaddr_storage address;
  iovec iov{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_name = &address;
  message.msg_namelen = sizeof(address);
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  ssize_t n = recvmsg(fd_, &message, 0);
  if (n < 0) return -1;
  if (message.msg_flags & MSG_TRUNC) return -2;
  if (from) {
    *from = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&address), message.msg_namelen);
  }
  return static_cast<int>(n);
}

bool UdpSocket::Send(std::span<const uint8_t> data, const SocketAddress& to) {
  if (to.empty()) return false;
  ssize_t n = sendto(fd_, data.data(), data.size(), 0, to.sockaddr_ptr(), to.length());
  return n == static_cast<ssize_t>(data.size());
}

bool UdpSocket::SetReceiveFilter(std::span<const sock_filter> program) {
  if (program.empty()) {
    int unused = 0;
    return setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) == 0 ||
           errno == ENOENT;
  }
  if (program.size() > BPF_MAXINSNS) return false;
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(program.size());
  fprog.filter = const_cast<sock_filter*>(program.data());
  return setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) == 0;
}

}  // namespace chorus::net
