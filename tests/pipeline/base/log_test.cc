#include "pipeline/base/log.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::base {
namespace {

TEST(LogTest, FormatsOneJsonObjectPerLineWithTypedValues) {
  absl::Time time = absl::FromUnixMillis(1'700'000'000'123);
  std::string line =
      FormatLogLine(time, LogLevel::kInfo, "listening",
                    {{"grpc", "127.0.0.1:7700"}, {"port", 7700}, {"load", 0.5}, {"tls", false}});
  EXPECT_EQ(line,
            "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"event\":\"listening\","
            "\"grpc\":\"127.0.0.1:7700\",\"port\":7700,\"load\":0.5,\"tls\":false}\n");
}

TEST(LogTest, EscapesEverythingThatWouldBreakTheLine) {
  std::string line = FormatLogLine(absl::UnixEpoch(), LogLevel::kError, "e",
                                   {{"reason", "a\"b\\c\nd\re\tf\x01g"}});
  EXPECT_NE(line.find(R"("reason":"a\"b\\c\nd\re\tf\u0001g")"), std::string::npos) << line;
  // Exactly one newline: the one ending the line.
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(LogTest, NonFiniteNumbersBecomeNull) {
  std::string line = FormatLogLine(absl::UnixEpoch(), LogLevel::kInfo, "e",
                                   {{"x", std::numeric_limits<double>::quiet_NaN()}});
  EXPECT_NE(line.find("\"x\":null"), std::string::npos) << line;
}

TEST(LogTest, HonoursTheMinimumLevelAndTheSink) {
  std::vector<std::string> lines;
  SetLogSinkForTesting([&](std::string_view line) { lines.emplace_back(line); });
  LogLevel previous = MinLogLevel();
  SetMinLogLevel(LogLevel::kWarning);
  Log(LogLevel::kInfo, "dropped");
  Log(LogLevel::kError, "kept", {{"count", 3u}});
  SetMinLogLevel(previous);
  SetLogSinkForTesting(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"event\":\"kept\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"count\":3"), std::string::npos);
}

TEST(LogTest, ParsesLevelNames) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("error", &level));
  EXPECT_EQ(level, LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

}  // namespace
}  // namespace chorus::base
