// chorus-send-floor: what the machine's kernel charges a sender for the packets a lecture sends,
// with nothing of a Chorus session around them. N listeners each get one datagram every 20 ms, as
// each listener of a forwarded lecture does; the listeners are receiving sockets in a second
// process that drains them with epoll, as the load generator does. Prints the sender's CPU over the
// window, in cores, so that a lecture's CPU (benchmarks/load/lecture.sh) can be read against
// the least any server would pay for the same packets on the same machine.
//
// The packets are built, protected and sent with the project's own pieces (rtp::RtpPacketBuilder,
// srtp::SrtpSession, net::UdpSocket, engine::SendBatch), as Chorus sends them, with no mixing,
// no endpoint and no tick around them:
//   --mode=per_socket  each listener its own socket, one sendto(2) per packet (an SDES endpoint,
//                      with its own port: net::UdpSocket::Send)
//   --mode=one_socket  one socket, the tick's packets in sendmmsg(2) calls of 64 (the shared
//                      WebRTC port: engine::SendBatch)
//   --protect          each packet also SRTP-protected with its listener's own context
//                      (AES_CM_128_HMAC_SHA1_80), as each listener has its own key
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "pipeline/engine/webrtc_transport.h"
#include "pipeline/net/socket_address.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_crypto.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"
#include "pipeline/srtp/srtp_suite.h"

ABSL_FLAG(int, listeners, 1000, "listeners, each sent one datagram per tick (1 to 5000)");
ABSL_FLAG(int, datagram_bytes, 120, "bytes of each datagram before SRTP (40 to 1400)");
ABSL_FLAG(double, seconds, 10, "measured window, after one second of warm-up (0.1 to 600)");
ABSL_FLAG(std::string, mode, "per_socket", "per_socket (sendto) or one_socket (sendmmsg)");
ABSL_FLAG(bool, protect, false, "SRTP-protect each packet with its listener's own context");

namespace {

constexpr int64_t kTickNs = 20'000'000;
constexpr size_t kBufferBytes = 1500;

int64_t MonotonicNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

int Fail(const char* what) {
  std::fprintf(stderr, "chorus-send-floor: %s\n", what);
  return 1;
}

// A UDP socket on 127.0.0.1 with a kernel-chosen port, bound as a media endpoint's is; null on
// failure.
std::unique_ptr<chorus::net::UdpSocket> BoundSocket() {
  auto socket = chorus::net::UdpSocket::Bind(*chorus::net::SocketAddress::FromIp("127.0.0.1", 0));
  return socket.ok() ? *std::move(socket) : nullptr;
}

// The listeners' side: drains every socket until the parent closes `stop_fd`.
[[noreturn]] void Receive(const std::vector<std::unique_ptr<chorus::net::UdpSocket>>& sockets,
                          int stop_fd) {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.u64 = ~uint64_t{0};
  if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, stop_fd, &stop) != 0) _exit(1);
  for (size_t i = 0; i < sockets.size(); ++i) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, sockets[i]->fd(), &event) != 0) _exit(1);
  }
  std::array<epoll_event, 256> events{};
  std::array<uint8_t, kBufferBytes> buffer{};
  for (;;) {
    const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) _exit(1);
    for (int k = 0; k < n; ++k) {
      if (events[k].data.u64 == ~uint64_t{0}) _exit(0);
      const int fd = sockets[events[k].data.u64]->fd();
      while (recv(fd, buffer.data(), buffer.size(), 0) >= 0) {
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "chorus-send-floor [--listeners=1000] [--seconds=10] [--mode=per_socket|one_socket] "
      "[--protect]: the sender's CPU for one datagram per listener every 20 ms");
  absl::ParseCommandLine(argc, argv);
  const int listeners = absl::GetFlag(FLAGS_listeners);
  const int datagram_bytes = absl::GetFlag(FLAGS_datagram_bytes);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const bool protect = absl::GetFlag(FLAGS_protect);
  if (listeners < 1 || listeners > 5000) return Fail("--listeners must be 1 to 5000");
  if (datagram_bytes < 40 || datagram_bytes > 1400) return Fail("--datagram_bytes: 40 to 1400");
  if (!(seconds >= 0.1 && seconds <= 600)) return Fail("--seconds must be 0.1 to 600");
  const bool one_socket = mode == "one_socket";
  if (!one_socket && mode != "per_socket") return Fail("--mode: per_socket or one_socket");

  std::vector<std::unique_ptr<chorus::net::UdpSocket>> receivers(static_cast<size_t>(listeners));
  std::vector<chorus::net::SocketAddress> destinations(receivers.size());
  for (size_t i = 0; i < receivers.size(); ++i) {
    receivers[i] = BoundSocket();
    if (receivers[i] == nullptr)
      return Fail("cannot open the listeners' sockets (raise ulimit -n?)");
    destinations[i] = receivers[i]->local_address();
  }
  int stop_pipe[2];
  if (pipe2(stop_pipe, O_CLOEXEC) != 0) return Fail("pipe failed");
  const pid_t child = fork();
  if (child < 0) return Fail("fork failed");
  if (child == 0) {
    close(stop_pipe[1]);
    Receive(receivers, stop_pipe[0]);
  }
  close(stop_pipe[0]);
  receivers.clear();  // the listeners' process has them

  std::vector<std::unique_ptr<chorus::net::UdpSocket>> senders(one_socket ? 1
                                                                          : destinations.size());
  for (auto& socket : senders) {
    socket = BoundSocket();
    if (socket == nullptr) return Fail("cannot open the sending sockets (raise ulimit -n?)");
  }
  chorus::engine::SendBatch batch(senders.front()->fd());
  std::vector<std::unique_ptr<chorus::srtp::SrtpSession>> contexts;
  if (protect) {
    for (size_t i = 0; i < destinations.size(); ++i) {
      auto session = chorus::srtp::SrtpSession::Create(
          chorus::srtp::SrtpKeyMaterial::Generate(chorus::srtp::SrtpSuite::kAesCm128HmacSha1_80),
          chorus::srtp::Direction::kOutbound);
      if (!session.ok()) return Fail("cannot create an SRTP context");
      contexts.push_back(*std::move(session));
    }
  }

  // One buffer per listener, as each listener's packet is its own after protection.
  std::vector<std::array<uint8_t, kBufferBytes>> buffers(destinations.size());
  const std::vector<uint8_t> payload(static_cast<size_t>(datagram_bytes) - 12, 0x5a);
  uint16_t sequence = 0;
  auto send_tick = [&] {
    ++sequence;
    for (size_t i = 0; i < destinations.size(); ++i) {
      chorus::rtp::RtpPacketBuilder builder;
      builder.set_payload_type(111);
      builder.set_sequence_number(sequence);
      builder.set_timestamp(static_cast<uint32_t>(sequence) * 960);
      builder.set_ssrc(static_cast<uint32_t>(0x10000 + i));
      size_t length = builder.Build(payload, buffers[i]);
      if (protect) {
        size_t out = 0;
        if (contexts[i]->ProtectRtp(buffers[i], length, &out) == chorus::srtp::SrtpResult::kOk) {
          length = out;
        }
      }
      const std::span<const uint8_t> datagram(buffers[i].data(), length);
      if (one_socket) {
        batch.Add(datagram, destinations[i]);
      } else {
        (void)senders[i]->Send(datagram, destinations[i]);
      }
    }
    batch.Flush();  // a full socket buffer loses the rest, as for a server
  };

  const int64_t warmup_ticks = 50;
  const auto measured_ticks = static_cast<int64_t>(seconds * 1e9 / kTickNs);
  int64_t deadline = MonotonicNs();
  double cpu_start = 0;
  int64_t wall_start = 0;
  for (int64_t tick = 0; tick < warmup_ticks + measured_ticks; ++tick) {
    if (tick == warmup_ticks) {
      cpu_start = ProcessCpuSeconds();
      wall_start = MonotonicNs();
    }
    send_tick();
    deadline += kTickNs;
    const timespec until{static_cast<time_t>(deadline / 1'000'000'000),
                         static_cast<long>(deadline % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
  }
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const double wall = static_cast<double>(MonotonicNs() - wall_start) * 1e-9;
  close(stop_pipe[1]);
  int status = 0;
  waitpid(child, &status, 0);
  const double packets = static_cast<double>(measured_ticks) * static_cast<double>(listeners);
  const std::string primitives =
      protect
          ? ", SRTP-protected (" +
                std::string(chorus::srtp::CryptoBackendName(chorus::srtp::ActiveCryptoBackend())) +
                ")"
          : "";
  std::printf("send floor: %d listeners x 50 datagrams/s, %s%s: %.3f cores (%.2f us a datagram)\n",
              listeners, one_socket ? "one socket, sendmmsg" : "a socket each, sendto",
              primitives.c_str(), cpu / wall, cpu / packets * 1e6);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : Fail("the listeners' process failed");
}
