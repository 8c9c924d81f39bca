#include "services/common/api_guard.h"

#include <string>

#include "google/protobuf/stubs/logging.h"
#include "pipeline/base/log.h"

namespace chorus::common {
namespace {

bool Printable(char c) { return c >= 0x20 && c < 0x7f; }

std::string Printable(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += Printable(c) ? c : '?';
  }
  return out;
}

class GuardInterceptor final : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      grpc::Status guarded = GuardStatus(status);
      if (guarded.error_code() != status.error_code() ||
          guarded.error_message() != status.error_message()) {
        methods->ModifySendStatus(guarded);
      }
    }
    methods->Proceed();
  }
};

class GuardFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new GuardInterceptor();
  }
};

// Keeps what libprotobuf quotes only when it is a field or type name; anything else in quotes
// (which could be a caller's data) becomes "...".
std::string WithoutContents(std::string_view message) {
  std::string out;
  size_t i = 0;
  while (i < message.size() && out.size() < kMaxErrorMessage) {
    const char c = message[i];
    if (c == '\'' || c == '"') {
      const size_t end = message.find(c, i + 1);
      if (end == std::string_view::npos) break;
      std::string_view quoted = message.substr(i + 1, end - i - 1);
      bool name = !quoted.empty() && quoted.size() <= 128;
      for (char q : quoted) {
        name &= (q >= 'a' && q <= 'z') || (q >= 'A' && q <= 'Z') || (q >= '0' && q <= '9') ||
                q == '_' || q == '.';
      }
      out += c;
      out += name ? std::string(quoted) : "...";
      out += c;
      i = end + 1;
      continue;
    }
    out += Printable(c) ? c : '?';
    ++i;
  }
  return out;
}

void LogFromProtobuf(google::protobuf::LogLevel level, const char* /*file*/, int /*line*/,
                     const std::string& message) {
  base::LogLevel ours = base::LogLevel::kInfo;
  if (level == google::protobuf::LOGLEVEL_WARNING) ours = base::LogLevel::kWarning;
  if (level >= google::protobuf::LOGLEVEL_ERROR) ours = base::LogLevel::kError;
  base::Log(ours, "protobuf", {{"message", WithoutContents(message)}});
}

}  // namespace

std::string Excerpt(std::string_view input, size_t max) { return Printable(input, max); }

grpc::Status GuardStatus(const grpc::Status& status) {
  if (status.ok()) return status;
  if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().empty()) {
    // What gRPC answers when the request does not parse as the method's message.
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the request is not a valid message for this method (malformed protobuf, "
                        "or a string field that is not UTF-8)");
  }
  const std::string& message = status.error_message();
  bool clean = message.size() <= kMaxErrorMessage;
  for (char c : message) clean &= Printable(c);
  if (clean) return status;
  return grpc::Status(status.error_code(), Printable(message, kMaxErrorMessage - 3));
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
ApiGuardInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<GuardFactory>());
  return factories;
}

void RouteProtobufLogging() { google::protobuf::SetLogHandler(LogFromProtobuf); }

}  // namespace chorus::common
