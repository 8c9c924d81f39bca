#include "services/common/grpc_logging.h"

#include "grpc/support/log.h"
#include "pipeline/base/log.h"

namespace chorus::common {
namespace {

void LogFromGrpc(gpr_log_func_args* args) {
  base::LogLevel level = base::LogLevel::kInfo;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = base::LogLevel::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = base::LogLevel::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = base::LogLevel::kError;
      break;
  }
  base::Log(level, "grpc",
            {{"message", args->message ? args->message : ""},
             {"file", args->file ? args->file : ""},
             {"line", args->line}});
}

}  // namespace

void RouteGrpcLogging() {
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(LogFromGrpc);
}

}  // namespace chorus::common
