#include "services/common/metrics.h"

#include <string>

#include "pipeline/base/build_info.h"

namespace chorus::common {

ServerMetrics::ServerMetrics(Role role) : registry_(std::make_shared<prometheus::Registry>()) {
  const base::BuildInfo& build = base::GetBuildInfo();
  prometheus::BuildGauge()
      .Name("chorus_build_info")
      .Help("Always 1; the labels say which build of Chorus runs and in which role")
      .Register(*registry_)
      .Add({{"version", std::string(build.version)},
            {"commit", std::string(build.git_commit)},
            {"compiler", std::string(build.compiler)},
            {"role", std::string(RoleName(role))}})
      .Set(1);
  ready_ = &prometheus::BuildGauge()
                .Name("chorus_ready")
                .Help("1 while the process accepts new work (what /readyz reports), else 0")
                .Register(*registry_)
                .Add({});
  draining_ = &prometheus::BuildGauge()
                   .Name("chorus_draining")
                   .Help("1 once SIGTERM started draining: no new rooms, running ones go on")
                   .Register(*registry_)
                   .Add({});
}

void ServerMetrics::SetReady(bool ready) { ready_->Set(ready ? 1 : 0); }
void ServerMetrics::SetDraining(bool draining) { draining_->Set(draining ? 1 : 0); }

}  // namespace chorus::common
