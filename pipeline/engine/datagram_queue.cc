#include "pipeline/engine/datagram_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace chorus::engine {

absl::StatusOr<std::unique_ptr<DatagramQueue>> DatagramQueue::Create(size_t capacity,
                                                                     Signal signal) {
  size_t rounded = 1;
  while (rounded < capacity) rounded <<= 1;
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return absl::InternalError(std::string("eventfd: ") + std::strerror(errno));
  return std::unique_ptr<DatagramQueue>(new DatagramQueue(fd, rounded, signal));
}

DatagramQueue::DatagramQueue(int event_fd, size_t capacity, Signal signal)
    : event_fd_(event_fd),
      signal_(signal == Signal::kEventFd),
      mask_(capacity - 1),
      bytes_(capacity * kSlotBytes),
      lengths_(capacity, 0) {}

DatagramQueue::~DatagramQueue() { close(event_fd_); }

bool DatagramQueue::Push(std::span<const uint8_t> datagram) {
  if (datagram.size() > kSlotBytes) return false;
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - head_.load(std::memory_order_acquire) > mask_) return false;  // full
  const size_t slot = tail & mask_;
  std::memcpy(bytes_.data() + slot * kSlotBytes, datagram.data(), datagram.size());
  lengths_[slot] = static_cast<uint16_t>(datagram.size());
  tail_.store(tail + 1, std::memory_order_release);
  if (signal_) {
    const uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof(one));
  }
  return true;
}

bool DatagramQueue::TakeOne(std::span<uint8_t> buffer, int* length) {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  if (head == tail_.load(std::memory_order_acquire)) return false;
  const size_t slot = head & mask_;
  const size_t size = lengths_[slot];
  if (size > buffer.size()) {
    *length = -2;
  } else {
    std::memcpy(buffer.data(), bytes_.data() + slot * kSlotBytes, size);
    *length = static_cast<int>(size);
  }
  head_.store(head + 1, std::memory_order_release);
  return true;
}

int DatagramQueue::Pop(std::span<uint8_t> buffer) {
  int length = -1;
  if (TakeOne(buffer, &length)) return length;
  if (!signal_) return -1;  // one thread: nothing can have come meanwhile
  // Empty: reset the eventfd, then look once more, so a push between the two is not missed (its
  // write comes after its slot, and either we see the slot now or the eventfd stays set).
  uint64_t count = 0;
  (void)!read(event_fd_, &count, sizeof(count));
  if (TakeOne(buffer, &length)) {
    // Several pushes may have landed between the empty look and the reset, their signals
    // swallowed by it: signal again while anything is left, so the consumer's loop comes back.
    if (head_.load(std::memory_order_relaxed) != tail_.load(std::memory_order_acquire)) {
      const uint64_t one = 1;
      (void)!write(event_fd_, &one, sizeof(one));
    }
    return length;
  }
  return -1;
}

}  // namespace chorus::engine
