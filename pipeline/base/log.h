#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "absl/time/time.h"

// JSON-lines logging for the control plane.
//
// One event per line on stderr: {"ts":"…","level":"info","event":"listening","grpc":"…"}.
// Events are short fixed identifiers; values are ids, addresses, counts and reasons.
// Privacy rule: never pass a display name, PIN, token, invite text or consent reference as a
// value. Rooms and participants are named by their opaque ids only.
//
// Thread-safe; a line is written with a single write(2). Not for the media hot path: the data
// plane counts in metrics instead of logging per packet.

namespace chorus::base {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

std::string_view LogLevelName(LogLevel level);
// Parses "debug", "info", "warning" or "error"; false when the text is none of them.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// One key/value pair of a log line. The overloads keep integer, floating and boolean values typed
// in the JSON output.
class LogField {
 public:
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;

  LogField(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  LogField(std::string_view key, const char* value) : key_(key), value_(std::string_view(value)) {}
  LogField(std::string_view key, const std::string& value)
      : key_(key), value_(std::string_view(value)) {}
  LogField(std::string_view key, int value) : key_(key), value_(int64_t{value}) {}
  LogField(std::string_view key, long value) : key_(key), value_(int64_t{value}) {}
  LogField(std::string_view key, long long value) : key_(key), value_(int64_t{value}) {}
  LogField(std::string_view key, unsigned value) : key_(key), value_(uint64_t{value}) {}
  LogField(std::string_view key, unsigned long value) : key_(key), value_(uint64_t{value}) {}
  LogField(std::string_view key, unsigned long long value) : key_(key), value_(uint64_t{value}) {}
  LogField(std::string_view key, double value) : key_(key), value_(value) {}
  LogField(std::string_view key, bool value) : key_(key), value_(value) {}

  std::string_view key() const { return key_; }
  const Value& value() const { return value_; }

 private:
  std::string_view key_;
  Value value_;
};

// Formats one line (with its trailing newline) without writing it. Exposed for tests.
std::string FormatLogLine(absl::Time time, LogLevel level, std::string_view event,
                          std::initializer_list<LogField> fields);

// Writes one line when `level` is at or above the minimum level.
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// Replaces where lines go (stderr by default); tests capture lines with it. Passing nullptr
// restores stderr. The sink is called with the log lock held.
void SetLogSinkForTesting(std::function<void(std::string_view line)> sink);

}  // namespace chorus::base
