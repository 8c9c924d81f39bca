#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pipeline/net/udp_socket.h"

namespace chorus::net {

// Hands out UDP sockets bound on the media address within the configured port range, trying the
// ports round-robin so a port just released is not reused at once (late packets of an old
// endpoint must not reach a new one). Thread-safe; called on the control path only.
class PortAllocator {
 public:
  PortAllocator(std::string ip, uint16_t port_min, uint16_t port_max);

  // A socket on the first free port after the last one given. RESOURCE_EXHAUSTED when every
  // port of the range is taken.
  absl::StatusOr<std::unique_ptr<UdpSocket>> Allocate();

  uint32_t range_size() const { return uint32_t{port_max_} - port_min_ + 1; }

 private:
  const std::string ip_;
  const uint16_t port_min_;
  const uint16_t port_max_;
  absl::Mutex mutex_;
  uint32_t next_offset_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace chorus::net
