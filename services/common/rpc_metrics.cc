#include "services/common/rpc_metrics.h"

#include <array>
#include <string>

#include "google/protobuf/descriptor.h"
#include "prometheus/counter.h"

namespace chorus::common {
namespace {

// grpc::StatusCode names, indexed by code (0 to 16).
constexpr std::array<const char*, 17> kCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char* CodeName(grpc::StatusCode code) {
  const auto index = static_cast<size_t>(code);
  return index < kCodeNames.size() ? kCodeNames[index] : "UNKNOWN";
}

class RpcMetricsInterceptorImpl final : public grpc::experimental::Interceptor {
 public:
  // `service` and `method` are labels already checked to be bounded.
  RpcMetricsInterceptorImpl(prometheus::Family<prometheus::Counter>* calls, std::string service,
                            std::string method)
      : calls_(calls), service_(std::move(service)), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      calls_
          ->Add({{"service", service_},
                 {"method", method_},
                 {"code", CodeName(methods->GetSendStatus().error_code())}})
          .Increment();
    }
    methods->Proceed();
  }

 private:
  prometheus::Family<prometheus::Counter>* const calls_;  // owned by the registry
  const std::string service_;
  const std::string method_;
};

class RpcMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(prometheus::Registry& registry)
      : calls_(&prometheus::BuildCounter()
                    .Name("chorus_rpcs_total")
                    .Help("gRPC calls answered, by service, method and status code")
                    .Register(registry)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // "/chorus.v1.Rooms/JoinRoom": a label only when it names a method of a compiled-in service.
    std::string path = info->method() != nullptr ? info->method() : "";
    std::string service = "unknown";
    std::string method = "unknown";
    const size_t slash = path.rfind('/');
    if (path.size() > 1 && path[0] == '/' && slash != std::string::npos && slash > 1) {
      const std::string full =
          path.substr(1, slash - 1) + "." + path.substr(slash + 1);  // chorus.v1.Rooms.JoinRoom
      const google::protobuf::MethodDescriptor* found =
          google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
      if (found != nullptr) {
        service = found->service()->full_name();
        method = found->name();
      } else if (path == "/grpc.health.v1.Health/Check" || path == "/grpc.health.v1.Health/Watch") {
        // gRPC's own health service, whose messages are not in the generated pool.
        service = "grpc.health.v1.Health";
        method = path.substr(slash + 1);
      }
    }
    return new RpcMetricsInterceptorImpl(calls_, std::move(service), std::move(method));
  }

 private:
  prometheus::Family<prometheus::Counter>* const calls_;  // owned by the registry
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcMetricsInterceptor(
    prometheus::Registry& registry) {
  return std::make_unique<RpcMetricsFactory>(registry);
}

}  // namespace chorus::common
