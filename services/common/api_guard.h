#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grpcpp/support/server_interceptor.h"

namespace chorus::common {

// Longest error message an RPC answers with; longer ones are cut (a client's metadata limit must
// never be what it sees instead of the reason).
inline constexpr size_t kMaxErrorMessage = 256;

// A short, printable excerpt of caller input for an error message: at most `max` characters of
// printable ASCII, anything else replaced by '?', "..." when cut. Error messages name the field
// and the rule; they quote input only through this.
std::string Excerpt(std::string_view input, size_t max = 24);

// Every RPC's answer passes through this interceptor on its way out:
// - a request gRPC could not parse (for example a string field that is not UTF-8) answers
//   INVALID_ARGUMENT saying so, instead of INTERNAL with no message;
// - an error message is cut to kMaxErrorMessage bytes of printable text.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
ApiGuardInterceptors();

// The status the guard sends for `status` (exposed for tests).
grpc::Status GuardStatus(const grpc::Status& status);

// Sends libprotobuf's own diagnostics into the JSON log (event "protobuf") instead of raw lines
// on stderr, without field contents: only quoted protobuf field names survive.
void RouteProtobufLogging();

}  // namespace chorus::common
