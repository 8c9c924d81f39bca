#include "pipeline/base/log.h"

#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pipeline/base/check.h"

namespace chorus::base {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};

std::mutex& SinkMutex() {
  static std::mutex mutex;
  return mutex;
}

std::function<void(std::string_view)>& Sink() {
  static std::function<void(std::string_view)> sink;
  return sink;
}

void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out->append(escaped);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendValue(std::string* out, const LogField::Value& value) {
  if (const auto* s = std::get_if<std::string_view>(&value)) {
    AppendJsonString(out, *s);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    absl::StrAppend(out, *i);
  } else if (const auto* u = std::get_if<uint64_t>(&value)) {
    absl::StrAppend(out, *u);
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (std::isfinite(*d)) {
      absl::StrAppend(out, *d);
    } else {
      out->append("null");  // JSON has no NaN or infinity
    }
  } else if (const auto* b = std::get_if<bool>(&value)) {
    out->append(*b ? "true" : "false");
  }
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return;  // nowhere else to report a failing stderr
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel candidate :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LogLevelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

std::string FormatLogLine(absl::Time time, LogLevel level, std::string_view event,
                          std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(128);
  line.append("{\"ts\":");
  AppendJsonString(&line, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()));
  line.append(",\"level\":");
  AppendJsonString(&line, LogLevelName(level));
  line.append(",\"event\":");
  AppendJsonString(&line, event);
  for (const LogField& field : fields) {
    line.push_back(',');
    AppendJsonString(&line, field.key());
    line.push_back(':');
    AppendValue(&line, field.value());
  }
  line.append("}\n");
  return line;
}

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  std::string line = FormatLogLine(absl::Now(), level, event, fields);
  std::lock_guard<std::mutex> lock(SinkMutex());
  if (Sink()) {
    Sink()(line);
  } else {
    WriteAll(STDERR_FILENO, line);
  }
}

void SetMinLogLevel(LogLevel level) { g_min_level.store(level, std::memory_order_relaxed); }

LogLevel MinLogLevel() { return g_min_level.load(std::memory_order_relaxed); }

void SetLogSinkForTesting(std::function<void(std::string_view line)> sink) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
}

namespace internal {

void CheckFailed(const char* condition, const char* file, int line) {
  Log(LogLevel::kError, "check_failed", {{"condition", condition}, {"file", file}, {"line", line}});
  std::abort();
}

}  // namespace internal
}  // namespace chorus::base
