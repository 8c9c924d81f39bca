#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/net/event_loop.h"
#include "pipeline/net/port_allocator.h"
#include "pipeline/net/socket_address.h"
#include "pipeline/net/udp_socket.h"

namespace chorus::net {
namespace {

TEST(SocketAddressTest, ParsesPrintsAndCompares) {
  auto v4 = SocketAddress::FromIp("127.0.0.1", 5004);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "127.0.0.1:5004");
  auto v6 = SocketAddress::FromIp("::1", 5006);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "[::1]:5006");
  EXPECT_FALSE(*v4 == *v6);
  EXPECT_TRUE(*v4 == *SocketAddress::FromIp("127.0.0.1", 5004));
  EXPECT_FALSE(SocketAddress::FromIp("localhost", 1).ok());
  EXPECT_FALSE(SocketAddress::FromIp("999.1.1.1", 1).ok());
}

TEST(UdpSocketTest, SendsAndReceivesOnLoopback) {
  auto a = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  auto b = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_NE((*b)->local_address().port(), 0);
  const uint8_t payload[] = {0x80, 0x00, 0x01, 0x02};
  ASSERT_TRUE((*a)->Send(payload, (*b)->local_address()));
  uint8_t buffer[64];
  SocketAddress from;
  int n = -1;
  for (int i = 0; i < 100 && n < 0; ++i) {
    n = (*b)->Receive(buffer, &from);
    if (n < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(n, 4);
  EXPECT_TRUE(from == (*a)->local_address());
  EXPECT_EQ((*b)->Receive(buffer, &from), -1);  // nothing more waiting
}

TEST(UdpSocketTest, ReportsTruncatedDatagrams) {
  auto a = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  auto b = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<uint8_t> big(3000, 0xab);
  ASSERT_TRUE((*a)->Send(big, (*b)->local_address()));
  uint8_t buffer[1500];
  int n = -1;
  for (int i = 0; i < 100 && n == -1; ++i) {
    n = (*b)->Receive(buffer, nullptr);
    if (n == -1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(n, -2);
}

TEST(PortAllocatorTest, StaysInItsRangeAndSaysWhenFull) {
  // Find two free adjacent ports first, so the test does not depend on what else runs here.
  auto probe = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  ASSERT_TRUE(probe.ok());
  uint16_t base = (*probe)->local_address().port();
  probe->reset();
  PortAllocator allocator("127.0.0.1", base, base);
  auto first = allocator.Allocate();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->local_address().port(), base);
  auto second = allocator.Allocate();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  first->reset();
  EXPECT_TRUE(allocator.Allocate().ok());
}

TEST(EventLoopTest, RunsPostedCommandsAndStops) {
  auto loop = EventLoop::Create(4);
  ASSERT_TRUE(loop.ok());
  std::atomic<int> ran{0};
  std::thread thread([&] { (*loop)->Run(); });
  for (int i = 0; i < 3; ++i) {
    while (!(*loop)->Post([&] { ran++; })) std::this_thread::yield();
  }
  (*loop)->Post([&] { (*loop)->Stop(); });
  thread.join();
  EXPECT_EQ(ran.load(), 3);
}

TEST(EventLoopTest, RefusesCommandsBeyondItsInbox) {
  auto loop = EventLoop::Create(2);
  ASSERT_TRUE(loop.ok());
  EXPECT_TRUE((*loop)->Post([] {}));
  EXPECT_TRUE((*loop)->Post([] {}));
  EXPECT_FALSE((*loop)->Post([] {}));
  (*loop)->RunOnce(0);
  EXPECT_TRUE((*loop)->Post([] {}));
}

TEST(EventLoopTest, TicksAndDispatchesReadableSockets) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int ticks = 0;
  ASSERT_TRUE((*loop)->StartTicker(2000, [&](uint64_t periods) { ticks += periods; }));
  while (ticks < 3) (*loop)->RunOnce(100);
  (*loop)->StopTicker();

  auto socket = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  auto sender = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  ASSERT_TRUE(socket.ok() && sender.ok());
  struct Reader : EventLoop::Handler {
    UdpSocket* socket;
    int packets = 0;
    void OnReadable() override {
      uint8_t buffer[100];
      while (socket->Receive(buffer, nullptr) >= 0) packets++;
    }
  } reader;
  reader.socket = socket->get();
  ASSERT_TRUE((*loop)->Add((*socket)->fd(), &reader));
  const uint8_t data[] = {1, 2, 3};
  (*sender)->Send(data, (*socket)->local_address());
  (*sender)->Send(data, (*socket)->local_address());
  for (int i = 0; i < 50 && reader.packets < 2; ++i) (*loop)->RunOnce(20);
  EXPECT_EQ(reader.packets, 2);
  (*loop)->Remove((*socket)->fd(), &reader);
}

// A producer on the loop's own thread wakes a consumer without a system call: MarkReady calls
// the handler of that descriptor after the batch, even though the descriptor never became
// readable; the loop does not sleep while a handler is due; a removed handler is not called.
TEST(EventLoopTest, AHandlerMarkedReadyIsCalledAfterTheBatchWithoutItsDescriptor) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  // Two descriptors that are never written: only MarkReady can call their handlers.
  auto quiet = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  auto other = UdpSocket::Bind(*SocketAddress::FromIp("127.0.0.1", 0));
  ASSERT_TRUE(quiet.ok() && other.ok());
  struct Counter : EventLoop::Handler {
    int calls = 0;
    std::function<void()> then;
    void OnReadable() override {
      ++calls;
      if (then) then();
    }
  } first, second;
  ASSERT_TRUE((*loop)->Add((*quiet)->fd(), &first));
  ASSERT_TRUE((*loop)->Add((*other)->fd(), &second));
  (*loop)->MarkReady((*quiet)->fd());
  (*loop)->MarkReady(12345);  // not watched: nothing
  // A timeout of a minute: the loop must not wait on epoll while a handler is due.
  (*loop)->RunOnce(60'000);
  EXPECT_EQ(first.calls, 1);
  EXPECT_EQ(second.calls, 0);
  // A handler marks another ready: called in the same round.
  first.then = [&] { (*loop)->MarkReady((*other)->fd()); };
  (*loop)->MarkReady((*quiet)->fd());
  (*loop)->RunOnce(60'000);
  EXPECT_EQ(first.calls, 2);
  EXPECT_EQ(second.calls, 1);
  // A handler removed after being marked is not called, in a batch or outside one.
  first.then = [&] { (*loop)->Remove((*other)->fd(), &second); };
  (*loop)->MarkReady((*quiet)->fd());
  (*loop)->MarkReady((*other)->fd());
  (*loop)->RunOnce(60'000);
  EXPECT_EQ(first.calls, 3);
  EXPECT_EQ(second.calls, 1);
  first.then = nullptr;
  (*loop)->MarkReady((*quiet)->fd());
  (*loop)->Remove((*quiet)->fd(), &first);
  (*loop)->RunOnce(0);
  EXPECT_EQ(first.calls, 3);
}

}  // namespace
}  // namespace chorus::net
