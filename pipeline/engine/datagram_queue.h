#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace chorus::engine {

// A bounded single-producer, single-consumer queue of datagrams between two threads (a WebRTC
// transport on a media worker hands a participant's video to its video worker), with an eventfd
// that is readable while datagrams wait, so the consumer's event loop wakes for them. Lock-free;
// slots are allocated once. A full queue drops (the caller counts it).
class DatagramQueue {
 public:
  static constexpr size_t kSlotBytes = 1500;

  // How the consumer learns that datagrams wait.
  enum class Signal {
    kEventFd,  // the eventfd (a write per push, a read when found empty): any two threads
    kNone,     // nothing: producer and consumer share a thread and an event loop, and the
               // producer marks the consumer ready there (net::EventLoop::MarkReady on fd())
  };
  // `capacity` datagrams (rounded up to a power of two).
  static absl::StatusOr<std::unique_ptr<DatagramQueue>> Create(size_t capacity,
                                                               Signal signal = Signal::kEventFd);
  ~DatagramQueue();
  DatagramQueue(const DatagramQueue&) = delete;
  DatagramQueue& operator=(const DatagramQueue&) = delete;

  // Producer thread only. False when full or the datagram is larger than a slot.
  bool Push(std::span<const uint8_t> datagram);
  // Consumer thread only: the next datagram into `buffer`; its length, -2 when it did not fit
  // (dropped), -1 when the queue is empty (the eventfd is then reset, so epoll waits again).
  int Pop(std::span<uint8_t> buffer);
  int fd() const { return event_fd_; }

 private:
  DatagramQueue(int event_fd, size_t capacity, Signal signal);
  bool TakeOne(std::span<uint8_t> buffer, int* length);

  const int event_fd_;
  const bool signal_;  // Signal::kEventFd
  const size_t mask_;
  std::vector<uint8_t> bytes_;                 // capacity * kSlotBytes
  std::vector<uint16_t> lengths_;              // per slot
  alignas(64) std::atomic<uint64_t> head_{0};  // next to pop (consumer)
  alignas(64) std::atomic<uint64_t> tail_{0};  // next to push (producer)
};

}  // namespace chorus::engine
