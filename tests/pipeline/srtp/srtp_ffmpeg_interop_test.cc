// Interoperability with an independent SRTP implementation: the ffmpeg program (its own SRTP code,
// not libsrtp). Loopback UDP only; every child process is killed and reaped, every file removed.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"
#include "tests/pipeline/srtp/srtp_test_util.h"

extern char** environ;

namespace chorus::srtp {
namespace {

constexpr char kFfmpeg[] = "/usr/bin/ffmpeg";
// Fixed keys keep the test deterministic; they protect nothing.
constexpr char kKeyToChorus[] = "WVNfX19hZXNfY21fMTI4X2htYWNfc2hhMV84MF9f";
constexpr char kKeyFromChorus[] = "Q2hvcnVzIHNlbmRzIHRoaXMgdG8gZmZtcGVnISEh";

// A child process, killed (SIGKILL) and reaped on destruction unless it already exited.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    // stdout (ffmpeg prints the SDP of what it sends) goes nowhere; stderr stays for diagnosis.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // True once the child has exited; `exit_code` is its status (or -1 after a signal).
  bool Exited() {
    if (exited_ || pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return exited_;
  }
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A UDP socket bound to 127.0.0.1 on a port the kernel picks; closed on destruction.
class LoopbackSocket {
 public:
  LoopbackSocket() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

bool HaveFfmpeg() { return access(kFfmpeg, X_OK) == 0; }

// RFC 5761, 4: RTCP packet types 192-223 when RTP and RTCP share a port.
bool IsRtcp(std::span<const uint8_t> packet) {
  return packet.size() >= 2 && packet[1] >= 192 && packet[1] <= 223;
}

// G.711 mu-law sign: after inverting the byte, bit 7 set means negative.
bool MulawNegative(uint8_t sample) { return ((~sample) & 0x80) != 0; }

class SrtpFfmpegSuiteTest : public ::testing::TestWithParam<SrtpSuite> {};

TEST_P(SrtpFfmpegSuiteTest, ChorusUnprotectsWhatFfmpegSends) {
  const SrtpSuite suite = GetParam();
  if (!HaveFfmpeg()) GTEST_SKIP() << kFfmpeg << " is not installed";
  LoopbackSocket socket;
  ASSERT_GT(socket.port(), 0);
  const std::string port = std::to_string(socket.port());
  // rtcpport= sends ffmpeg's SRTCP to the same port (RFC 5761 style), so both are checked.
  ChildProcess ffmpeg({kFfmpeg,
                       "-nostdin",
                       "-hide_banner",
                       "-loglevel",
                       "error",
                       "-re",
                       "-f",
                       "lavfi",
                       "-i",
                       "sine=frequency=440:sample_rate=8000",
                       "-t",
                       "0.5",
                       "-c:a",
                       "pcm_mulaw",
                       "-f",
                       "rtp",
                       "-srtp_out_suite",
                       std::string(SuiteName(suite)),
                       "-srtp_out_params",
                       kKeyToChorus,
                       "srtp://127.0.0.1:" + port + "?rtcpport=" + port});
  ASSERT_TRUE(ffmpeg.started());

  const SrtpKeyMaterial key = *SrtpKeyMaterial::FromBase64(suite, kKeyToChorus);
  auto inbound = *SrtpSession::Create(key, Direction::kInbound);

  int rtp_packets = 0;
  int rtcp_packets = 0;
  int sign_changes = 0;
  size_t samples = 0;
  bool negative = false;
  uint16_t expected_sequence = 0;
  std::array<uint8_t, 2048> buffer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd poll_fd{socket.fd(), POLLIN, 0};
    if (poll(&poll_fd, 1, 300) <= 0) {
      if (ffmpeg.Exited()) break;  // sent everything and nothing more is queued
      continue;
    }
    const ssize_t received = recv(socket.fd(), buffer.data(), buffer.size(), 0);
    ASSERT_GT(received, 0);
    size_t length = 0;
    if (IsRtcp(std::span<const uint8_t>(buffer.data(), received))) {
      const SrtpResult result =
          inbound->UnprotectRtcp(buffer, static_cast<size_t>(received), &length);
      if (suite == SrtpSuite::kAesCm128HmacSha1_32) {
        // ffmpeg gives SRTCP the 32-bit tag under this name too, where RFC 4568 (6.2.2) keeps
        // 80 bits, as Chorus and libsrtp do: its reports are refused, its media is not.
        EXPECT_EQ(result, SrtpResult::kAuthFailed);
        continue;
      }
      ASSERT_EQ(result, SrtpResult::kOk);
      EXPECT_EQ(buffer[1], 200) << "ffmpeg sends sender reports";
      ++rtcp_packets;
      continue;
    }
    ASSERT_EQ(inbound->UnprotectRtp(buffer, static_cast<size_t>(received), &length),
              SrtpResult::kOk)
        << "RTP packet " << rtp_packets;
    ASSERT_GT(length, 12u);
    EXPECT_EQ(buffer[0] >> 6, 2);
    EXPECT_EQ(buffer[1] & 0x7f, 0) << "PCMU is static payload type 0";
    const uint16_t sequence = static_cast<uint16_t>((buffer[2] << 8) | buffer[3]);
    if (rtp_packets > 0) {
      EXPECT_EQ(sequence, expected_sequence);
    }
    expected_sequence = static_cast<uint16_t>(sequence + 1);
    for (size_t i = 12; i < length; ++i) {
      const bool sample_negative = MulawNegative(buffer[i]);
      if (samples > 0 && sample_negative != negative) ++sign_changes;
      negative = sample_negative;
      ++samples;
    }
    ++rtp_packets;
  }
  EXPECT_TRUE(ffmpeg.Exited());
  EXPECT_EQ(ffmpeg.exit_code(), 0);
  EXPECT_GT(rtp_packets, 0);
  if (suite == SrtpSuite::kAesCm128HmacSha1_80) {
    EXPECT_GT(rtcp_packets, 0);
  }
  // 0.5 s at 8000 Hz, and a 440 Hz tone changes sign 880 times a second.
  EXPECT_GE(samples, 3600u);
  ASSERT_GT(samples, 0u);
  const double sign_changes_per_second = sign_changes * 8000.0 / static_cast<double>(samples);
  EXPECT_NEAR(sign_changes_per_second, 880.0, 30.0);
}

// ffmpeg speaks only the AES-CM suites.
INSTANTIATE_TEST_SUITE_P(AesCmSuites, SrtpFfmpegSuiteTest,
                         ::testing::Values(SrtpSuite::kAesCm128HmacSha1_80,
                                           SrtpSuite::kAesCm128HmacSha1_32),
                         [](const ::testing::TestParamInfo<SrtpSuite>& info) {
                           return std::string(SuiteName(info.param));
                         });

// A port P with P + 1 free too (ffmpeg binds RTCP one above RTP), both released: 0 if none found.
uint16_t FreePortPair() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    LoopbackSocket rtp;
    if (rtp.port() == 0 || rtp.port() == 65535) continue;
    const int rtcp = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(rtp.port() + 1));
    const bool free =
        rtcp >= 0 && bind(rtcp, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    if (rtcp >= 0) close(rtcp);
    if (free) return rtp.port();
  }
  return 0;
}

TEST(SrtpFfmpegInteropTest, FfmpegUnprotectsWhatChorusSends) {
  if (!HaveFfmpeg()) GTEST_SKIP() << kFfmpeg << " is not installed";
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("chorus_srtp_interop_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  struct RemoveDir {
    std::filesystem::path path;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove_dir{dir};
  const std::filesystem::path sdp = dir / "chorus.sdp";
  const std::filesystem::path out = dir / "received.ulaw";
  const SrtpKeyMaterial key =
      *SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, kKeyFromChorus);
  LoopbackSocket sender;
  std::unique_ptr<ChildProcess> ffmpeg;
  int sent = 0;
  // ffmpeg binds the SDP's ports itself, so they are free ones released just before; another
  // process may take one in between (ffmpeg then exits at once): try again with another pair.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const uint16_t port = FreePortPair();
    ASSERT_GT(port, 0);
    {
      std::ofstream file(sdp);
      file << "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Chorus\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           << "m=audio " << port << " RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
           << "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" << kKeyFromChorus << "\r\n";
    }
    // -t 1: ffmpeg stops by itself after one second of audio; the copy keeps the bytes exact.
    ffmpeg = std::make_unique<ChildProcess>(
        std::vector<std::string>{kFfmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
                                 "-protocol_whitelist", "file,udp,rtp", "-i", sdp.string(), "-t",
                                 "1", "-c:a", "copy", "-f", "mulaw", "-y", out.string()});
    ASSERT_TRUE(ffmpeg->started());
    auto outbound = *SrtpSession::Create(key, Direction::kOutbound);  // from index 0 again
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    // Each packet's 160 samples are one value, n + 1 mod 128, so the received bytes show order.
    std::array<uint8_t, 256> buffer;
    sent = 0;
    for (uint16_t n = 0; n < 400 && !ffmpeg->Exited(); ++n) {
      size_t length = testing::WriteRtp(buffer, 0, n, n * 160u, 0x5eed5eed, 160,
                                        static_cast<uint8_t>(1 + n % 127));
      ASSERT_EQ(outbound->ProtectRtp(buffer, length, &length), SrtpResult::kOk);
      sendto(sender.fd(), buffer.data(), length, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
      ++sent;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!ffmpeg->Exited() || ffmpeg->exit_code() == 0 || sent > 25) break;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ffmpeg->Exited() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ffmpeg->Exited()) << "ffmpeg received nothing usable from " << sent << " packets";
  EXPECT_EQ(ffmpeg->exit_code(), 0);

  std::ifstream file(out, std::ios::binary);
  const std::vector<uint8_t> received((std::istreambuf_iterator<char>(file)),
                                      std::istreambuf_iterator<char>());
  ASSERT_GE(received.size(), 7200u) << "about one second of 8000 Hz audio";
  // Decrypted bit-exactly: runs of 160 equal bytes, each run one more than the last.
  size_t runs = 0;
  for (size_t start = 0; start + 160 <= received.size(); start += 160) {
    for (size_t i = 1; i < 160; ++i) ASSERT_EQ(received[start + i], received[start]) << start;
    if (start > 0) {
      const uint8_t previous = received[start - 1];
      EXPECT_EQ(received[start], previous % 127 + 1) << start;
    }
    ++runs;
  }
  EXPECT_GE(runs, 45u);
}

}  // namespace
}  // namespace chorus::srtp
