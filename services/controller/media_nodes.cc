#include "services/controller/media_nodes.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chorus/v1/media_node.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "pipeline/base/log.h"

namespace chorus::controller {

struct MediaNodes::Node {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  // Asks for load reports only; the client makes every other call (media_client.h).
  std::unique_ptr<chorus::internal::v1::MediaNode::Stub> stub;
  std::pair<std::string, std::string> metadata;
  bool known = false;
  bool failed = false;
  absl::Time last_report = absl::InfinitePast();
  chorus::internal::v1::LoadReport report;
  int placed_since_report = 0;
  // Answered for the first time, or again after having failed; the monitor tells on_answered.
  bool answered_news = false;
};

MediaNodes::MediaNodes() = default;

MediaNodes::~MediaNodes() { StopMonitor(); }

void MediaNodes::Add(std::string address, std::shared_ptr<grpc::Channel> channel,
                     std::pair<std::string, std::string> metadata) {
  auto node = std::make_unique<Node>();
  node->address = std::move(address);
  node->stub = chorus::internal::v1::MediaNode::NewStub(channel);
  node->channel = std::move(channel);
  node->metadata = std::move(metadata);
  absl::MutexLock lock(&mutex_);
  nodes_.push_back(std::move(node));
}

size_t MediaNodes::size() const {
  absl::MutexLock lock(&mutex_);
  return nodes_.size();
}

std::unique_ptr<grpc::ClientContext> MediaNodes::NewContext(size_t node) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  absl::MutexLock lock(&mutex_);
  if (!nodes_[node]->metadata.first.empty()) {
    context->AddMetadata(nodes_[node]->metadata.first, nodes_[node]->metadata.second);
  }
  return context;
}

std::shared_ptr<grpc::Channel> MediaNodes::channel(size_t node) const {
  absl::MutexLock lock(&mutex_);
  return nodes_[node]->channel;
}

std::string MediaNodes::address(size_t node) const {
  absl::MutexLock lock(&mutex_);
  return nodes_[node]->address;
}

std::string MediaNodes::node_id(size_t node) const {
  absl::MutexLock lock(&mutex_);
  return nodes_[node]->known ? nodes_[node]->report.node_id() : std::string();
}

std::optional<size_t> MediaNodes::Locate(const std::string& address,
                                         const std::string& node_id) const {
  absl::MutexLock lock(&mutex_);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!address.empty() && nodes_[i]->address == address) return i;
  }
  if (node_id.empty()) return std::nullopt;
  std::optional<size_t> found;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->known || nodes_[i]->report.node_id() != node_id) continue;
    if (found.has_value()) return std::nullopt;  // two nodes call themselves so: neither
    found = i;
  }
  return found;
}

void MediaNodes::AddDnsName(std::string host, uint16_t port, Connector connect) {
  dns_names_.push_back({std::move(host), port, std::move(connect)});
}

size_t MediaNodes::ResolveNow() {
  last_resolve_ = absl::Now();
  for (const DnsName& name : dns_names_) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(name.host.c_str(), nullptr, &hints, &found) != 0) {
      base::Log(base::LogLevel::kWarning, "media_nodes_unresolved", {{"name", name.host}});
      continue;
    }
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      char ip[NI_MAXHOST];
      if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof(ip), nullptr, 0, NI_NUMERICHOST) != 0) {
        continue;
      }
      const std::string address = a->ai_family == AF_INET6 ? absl::StrCat("[", ip, "]:", name.port)
                                                           : absl::StrCat(ip, ":", name.port);
      bool known = false;
      {
        absl::MutexLock lock(&mutex_);
        for (const auto& node : nodes_) known |= node->address == address;
      }
      if (known) continue;
      Add(address, name.connect(address));
      base::Log(base::LogLevel::kInfo, "media_node_discovered", {{"node", address}});
    }
    freeaddrinfo(found);
  }
  return size();
}

size_t MediaNodes::RefreshNow() {
  size_t answered = 0;
  const size_t count = size();
  for (size_t i = 0; i < count; ++i) answered += Refresh(i) ? 1 : 0;
  return answered;
}

bool MediaNodes::Refresh(size_t i) {
  auto context = NewContext(i);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  chorus::internal::v1::LoadReport report;
  chorus::internal::v1::MediaNode::Stub* stub = nullptr;
  {
    absl::MutexLock lock(&mutex_);
    stub = nodes_[i]->stub.get();  // never moves: nodes are only appended
  }
  grpc::Status status = stub->GetLoad(context.get(), {}, &report);
  absl::MutexLock lock(&mutex_);
  Node& node = *nodes_[i];
  if (!status.ok()) return false;
  if (!node.known) node.answered_news = true;
  node.known = true;
  node.report = report;
  node.last_report = absl::Now();
  node.placed_since_report = 0;
  if (node.failed) {
    node.failed = false;
    node.answered_news = true;
    base::Log(base::LogLevel::kInfo, "media_node_recovered", {{"node", node.address}});
  }
  return true;
}

void MediaNodes::StartMonitor(std::function<void(size_t node)> on_failed,
                              std::function<void(size_t node)> on_answered, absl::Duration poll,
                              absl::Duration silence) {
  silence_ = silence;
  monitor_ = std::thread([this, on_failed = std::move(on_failed),
                          on_answered = std::move(on_answered), poll, silence] {
    for (;;) {
      if (!dns_names_.empty() && absl::Now() - last_resolve_ >= absl::Seconds(10)) ResolveNow();
      const size_t count = size();
      for (size_t i = 0; i < count; ++i) {
        if (Refresh(i)) {
          bool news = false;
          {
            absl::MutexLock lock(&mutex_);
            news = std::exchange(nodes_[i]->answered_news, false);
          }
          if (news && on_answered) on_answered(i);
          continue;
        }
        bool newly_failed = false;
        {
          absl::MutexLock lock(&mutex_);
          Node& node = *nodes_[i];
          if (!node.failed && node.known && absl::Now() - node.last_report > silence) {
            node.failed = true;
            newly_failed = true;
            base::Log(base::LogLevel::kWarning, "media_node_failed", {{"node", node.address}});
          }
        }
        if (newly_failed && on_failed) on_failed(i);
      }
      absl::MutexLock lock(&mutex_);
      if (mutex_.AwaitWithTimeout(absl::Condition(&stopping_), poll)) return;
    }
  });
}

void MediaNodes::StopMonitor() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (monitor_.joinable()) monitor_.join();
}

absl::StatusOr<size_t> MediaNodes::Place() {
  const size_t count = size();
  for (size_t i = 0; i < count; ++i) {
    bool known = false;
    {
      absl::MutexLock lock(&mutex_);
      known = nodes_[i]->known;
    }
    if (!known) Refresh(i);
  }
  // A report is up to one poll old: the chosen node may have begun draining, or stopped, since.
  // Ask it again before placing a room on it, and choose again without it when it no longer takes
  // rooms (its SIGTERM must not fail the joins of that moment).
  std::vector<bool> skip(count, false);
  bool asked_all = false;
  for (;;) {
    auto best = PickFromReports(skip);
    if (best.ok()) {
      if (Confirm(*best)) return best;
      skip[*best] = true;
      continue;
    }
    if (asked_all) return best;
    // The reports may be stale (a node that just became ready, or recovered): ask again once.
    for (size_t i = 0; i < count; ++i) Refresh(i);
    std::fill(skip.begin(), skip.end(), false);
    asked_all = true;
  }
}

bool MediaNodes::Confirm(size_t i) {
  int placed = 0;
  {
    absl::MutexLock lock(&mutex_);
    placed = nodes_[i]->placed_since_report;
  }
  if (!Refresh(i)) return false;
  absl::MutexLock lock(&mutex_);
  Node& node = *nodes_[i];
  // The fresh report may not count the rooms placed just before it yet: keep counting them.
  node.placed_since_report = placed;
  return Placeable(Candidate(node), absl::Now(), silence_);
}

PlacementCandidate MediaNodes::Candidate(const Node& node) const {
  PlacementCandidate candidate;
  candidate.known = node.known;
  candidate.failed = node.failed;
  candidate.last_report = node.last_report;
  candidate.ready = node.report.ready();
  candidate.draining = node.report.draining();
  candidate.load = node.report.load();
  candidate.admission_threshold = node.report.admission_threshold();
  candidate.sessions = node.report.sessions();
  candidate.placed_since_report = node.placed_since_report;
  return candidate;
}

absl::StatusOr<size_t> MediaNodes::PickFromReports(const std::vector<bool>& skip) {
  absl::MutexLock lock(&mutex_);
  std::vector<PlacementCandidate> candidates;
  candidates.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    candidates.push_back(Candidate(*nodes_[i]));
    candidates.back().skip = i < skip.size() && skip[i];
  }
  const std::optional<size_t> best = ChooseNode(candidates, absl::Now(), silence_);
  if (!best.has_value()) {
    return absl::ResourceExhaustedError(
        "no media node can take a room now (all draining, unready, silent or loaded above "
        "their admission threshold)");
  }
  ++nodes_[*best]->placed_since_report;
  return *best;
}

}  // namespace chorus::controller
