#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>

#include "pipeline/net/socket_address.h"

namespace chorus::net {

// Where an endpoint's datagrams come from and go to: its own UDP socket (plain RTP and SDES-SRTP
// endpoints), or one stream of a WebRTC transport that shares a socket with other participants
// and does ICE, DTLS and SRTP itself (engine/webrtc_transport.h). The endpoint does not know
// which. Same threading as the endpoint that uses it; no allocation in Receive/Send.
class DatagramIo {
 public:
  virtual ~DatagramIo() = default;
  // Readable (epoll) when Receive has something.
  virtual int fd() const = 0;
  // The address the peer sends to (for the answer).
  virtual const SocketAddress& local_address() const = 0;
  // One datagram into `buffer`: its length, -2 when it did not fit (dropped), -1 when nothing
  // waits.
  virtual int Receive(std::span<uint8_t> buffer, SocketAddress* from) = 0;
  // Sends one datagram to `to` (a transport that knows its peer's address ignores `to`); false
  // when it was not sent.
  virtual bool Send(std::span<const uint8_t> data, const SocketAddress& to) = 0;
  // Has the kernel run `program` (classic BPF) on each datagram before it is queued, dropping
  // those it returns 0 for; an empty program removes it. False when this transport cannot (a
  // shared socket) or the kernel refused it.
  virtual bool SetReceiveFilter(std::span<const sock_filter> program) {
    (void)program;
    return false;
  }
};

}  // namespace chorus::net
