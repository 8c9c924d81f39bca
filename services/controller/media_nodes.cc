#include "services/controller/media_nodes.h"

#include <chrono>
#include <utility>

#include "grpcpp/client_context.h"

namespace chorus::controller {

void MediaNodes::Add(std::string address, std::shared_ptr<grpc::Channel> channel,
                     std::pair<std::string, std::string> metadata) {
  absl::MutexLock lock(&mutex_);
  nodes_.push_back(
      {std::move(address), chorus::internal::v1::MediaNode::NewStub(channel), std::move(metadata)});
}

std::unique_ptr<grpc::ClientContext> MediaNodes::NewContext(size_t node) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  absl::MutexLock lock(&mutex_);
  if (!nodes_[node].metadata.first.empty()) {
    context->AddMetadata(nodes_[node].metadata.first, nodes_[node].metadata.second);
  }
  return context;
}

size_t MediaNodes::size() const {
  absl::MutexLock lock(&mutex_);
  return nodes_.size();
}

chorus::internal::v1::MediaNode::Stub& MediaNodes::stub(size_t node) const {
  absl::MutexLock lock(&mutex_);
  return *nodes_[node].stub;
}

std::string MediaNodes::address(size_t node) const {
  absl::MutexLock lock(&mutex_);
  return nodes_[node].address;
}

absl::StatusOr<size_t> MediaNodes::Place() const {
  const size_t count = size();
  size_t best = count;
  double best_load = 2.0;
  for (size_t i = 0; i < count; ++i) {
    auto context = NewContext(i);
    chorus::internal::v1::LoadReport report;
    if (!stub(i).GetLoad(context.get(), {}, &report).ok()) continue;
    if (!report.ready() || report.draining() || report.load() >= report.admission_threshold()) {
      continue;
    }
    if (report.load() < best_load) {
      best_load = report.load();
      best = i;
    }
  }
  if (best == count) {
    return absl::ResourceExhaustedError(
        "no media node can take a room now (all draining, unready, unreachable or loaded above "
        "their admission threshold)");
  }
  return best;
}

}  // namespace chorus::controller
