#include "tools/loadgen/server_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chorus::loadgen {
namespace {

// Closes the descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool WaitFor(int fd, short events, absl::Time deadline) {
  const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (left_ms <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 60000))) == 1;
}

}  // namespace

absl::StatusOr<std::string> HttpRequest(absl::string_view url, absl::string_view method,
                                        absl::string_view body, int timeout_ms) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("not an http:// URL: ", url));
  }
  const size_t slash = rest.find('/');
  const absl::string_view host_port = rest.substr(0, slash);
  const std::string path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = host_port.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("the URL needs host:port: ", url));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  const std::string host(host_port.substr(0, colon));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the URL host must be an IPv4 address: ", url));
  }
  const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::UnavailableError("socket() failed");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS || !WaitFor(fd.get(), POLLOUT, deadline)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", host_port));
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", host_port));
  }
  const std::string request = absl::StrCat(
      method, " ", path, " HTTP/1.0\r\nHost: ", host_port,
      "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
      "\r\n\r\n", body);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      if (!WaitFor(fd.get(), POLLOUT, deadline)) return absl::UnavailableError("send timed out");
    } else {
      return absl::UnavailableError(absl::StrCat("send to ", host_port, " failed"));
    }
  }
  std::string answer;
  char buffer[16384];
  constexpr size_t kMaxAnswer = 64 << 20;
  for (;;) {
    const ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n > 0) {
      answer.append(buffer, static_cast<size_t>(n));
      if (answer.size() > kMaxAnswer) return absl::InternalError("answer larger than 64 MB");
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!WaitFor(fd.get(), POLLIN, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat("no answer from ", url, " in time"));
      }
    } else {
      return absl::UnavailableError(absl::StrCat("receive from ", host_port, " failed"));
    }
  }
  const size_t header_end = answer.find("\r\n\r\n");
  if (header_end == std::string::npos || answer.rfind("HTTP/", 0) != 0) {
    return absl::InternalError(absl::StrCat("malformed HTTP answer from ", url));
  }
  const std::string status_line = answer.substr(0, answer.find("\r\n"));
  const size_t space = status_line.find(' ');
  int code = 0;
  if (space == std::string::npos || !absl::SimpleAtoi(status_line.substr(space + 1, 3), &code)) {
    return absl::InternalError(absl::StrCat("malformed HTTP status from ", url));
  }
  if (code < 200 || code > 299) {
    return absl::FailedPreconditionError(absl::StrCat(url, ": ", status_line));
  }
  return answer.substr(header_end + 4);
}

MetricsSnapshot MetricsSnapshot::Parse(absl::string_view text) {
  MetricsSnapshot snapshot;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    absl::string_view name = line.substr(0, std::min(brace, line.find(' ')));
    absl::string_view labels;
    if (brace != absl::string_view::npos) {
      const size_t close = line.find('}', brace);
      if (close == absl::string_view::npos || close > space) continue;
      labels = line.substr(brace + 1, close - brace - 1);
    }
    // "value" or "value timestamp": the value is the first field after the labels.
    absl::string_view after = absl::StripAsciiWhitespace(
        line.substr(brace == absl::string_view::npos ? name.size() : line.find('}') + 1));
    after = after.substr(0, after.find(' '));
    double value = 0;
    if (!absl::SimpleAtod(after, &value) || !std::isfinite(value)) continue;
    snapshot.values_[std::string(name)] += value;
    if (absl::EndsWith(name, "_bucket")) {
      const size_t le = labels.find("le=\"");
      if (le == absl::string_view::npos) continue;
      absl::string_view bound_text = labels.substr(le + 4);
      bound_text = bound_text.substr(0, bound_text.find('"'));
      double bound = 0;
      if (bound_text == "+Inf") {
        bound = std::numeric_limits<double>::infinity();
      } else if (!absl::SimpleAtod(bound_text, &bound)) {
        continue;
      }
      absl::string_view base = name.substr(0, name.size() - 7);
      snapshot.buckets_[std::string(base)][bound] += value;
    }
  }
  return snapshot;
}

std::optional<double> MetricsSnapshot::Value(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::optional<double> MetricsSnapshot::QuantileSince(const MetricsSnapshot& earlier,
                                                     absl::string_view name, double q) const {
  auto now = buckets_.find(name);
  if (now == buckets_.end()) return std::nullopt;
  std::vector<std::pair<double, double>> counts;  // bound, cumulative count in the window
  auto before = earlier.buckets_.find(name);
  for (const auto& [bound, count] : now->second) {
    double previous = 0;
    if (before != earlier.buckets_.end()) {
      auto b = before->second.find(bound);
      if (b != before->second.end()) previous = b->second;
    }
    counts.emplace_back(bound, std::max(0.0, count - previous));
  }
  if (counts.empty() || counts.back().second <= 0) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * counts.back().second;
  double lower_bound = 0, lower_count = 0;
  for (const auto& [bound, count] : counts) {
    if (count >= rank) {
      if (std::isinf(bound)) return lower_bound;  // beyond the last finite bucket
      const double f = count > lower_count ? (rank - lower_count) / (count - lower_count) : 1.0;
      return lower_bound + (bound - lower_bound) * f;
    }
    lower_bound = bound;
    lower_count = count;
  }
  return lower_bound;
}

absl::StatusOr<ProcessUsage> ReadProcessUsage(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
  const size_t close = text.rfind(')');
  if (!stat || close == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(text).substr(close + 2), ' ', absl::SkipEmpty());
  // After ')': field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InternalError(absl::StrCat("unreadable /proc/", pid, "/stat"));
  }
  ProcessUsage usage;
  usage.cpu_seconds =
      static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream in(line.substr(6));
      in >> usage.rss_kb;
    }
  }
  return usage;
}

}  // namespace chorus::loadgen
