// A lossy UDP relay for the end-to-end tests: forwards every datagram arriving on --listen to
// --to, dropping a seeded random share (--loss) of them, for at most --seconds. Stands between an
// ffmpeg sender and Chorus to show what packet loss does to what the others hear.
// Usage: chorus-udp-relay --listen=127.0.0.1:P --to=127.0.0.1:Q --loss=0.05 --seed=1 --seconds=10
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace {

std::string Flag(int argc, char** argv, const char* name, const char* fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

bool ParseAddress(const std::string& text, sockaddr_in* out) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::memset(out, 0, sizeof(*out));
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1)));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  sockaddr_in listen_address;
  sockaddr_in to_address;
  if (!ParseAddress(Flag(argc, argv, "listen", ""), &listen_address) ||
      !ParseAddress(Flag(argc, argv, "to", ""), &to_address)) {
    std::fprintf(stderr,
                 "usage: %s --listen=IP:PORT --to=IP:PORT [--loss=0.05] [--seed=1] "
                 "[--seconds=10]\n",
                 argv[0]);
    return 2;
  }
  const double loss = std::atof(Flag(argc, argv, "loss", "0.05").c_str());
  const double seconds = std::atof(Flag(argc, argv, "seconds", "10").c_str());
  std::mt19937 random(static_cast<uint32_t>(std::atoi(Flag(argc, argv, "seed", "1").c_str())));
  std::bernoulli_distribution drop(loss);

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&listen_address), sizeof(listen_address))) {
    std::perror("bind");
    return 1;
  }
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  long forwarded = 0;
  long dropped = 0;
  unsigned char buffer[2048];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) continue;
    if (drop(random)) {
      ++dropped;
      continue;
    }
    sendto(fd, buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&to_address),
           sizeof(to_address));
    ++forwarded;
  }
  close(fd);
  std::printf("forwarded %ld dropped %ld\n", forwarded, dropped);
  return 0;
}
