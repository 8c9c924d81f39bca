#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "services/controller/placement.h"

namespace chorus::controller {

// The media nodes a controller places rooms on and their health. The calls the controller makes
// to them go through MediaClientImpl (media_client.h), which borrows their channels; this class
// itself asks only for load reports. In `chorusd all` the one node is this process, reached through
// an in-process channel.
//
// A monitor thread asks every node for its load report each second. A node is placeable while it
// is ready, not draining, under its admission threshold and heard from within the last 5 s; a
// node silent for longer is marked failed once (the callback tells the rooms), and placeable again
// when it answers. Thread-safe.
class MediaNodes {
 public:
  MediaNodes();
  ~MediaNodes();

  // `metadata` (name, value) is sent with every call to that node (the in-process secret).
  void Add(std::string address, std::shared_ptr<grpc::Channel> channel,
           std::pair<std::string, std::string> metadata = {});
  size_t size() const;
  std::string address(size_t node) const;
  // The node id of the node's last load report; empty until it has answered once.
  std::string node_id(size_t node) const;
  // The node a room stored by a controller (perhaps an earlier process) was on: the one with that
  // address, else the one node whose reports carry `node_id` (an address may change when nodes
  // are found through DNS; ids that two nodes report find neither). nullopt: none of ours.
  std::optional<size_t> Locate(const std::string& address, const std::string& node_id) const;

  // Nodes found through DNS: every address `host` resolves to (a Kubernetes headless service) is
  // a node on `port`; the monitor re-resolves each 10 s and adds new addresses (addresses that
  // disappear fall silent and are failed like any silent node).
  // `connect` opens the channel to one found address ("ip:port").
  using Connector = std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>;
  void AddDnsName(std::string host, uint16_t port, Connector connect);
  // Resolves the DNS names now; returns how many nodes are known.
  size_t ResolveNow();
  // Asks every node for its load report now (as the monitor does each poll); returns how many
  // answered.
  size_t RefreshNow();

  // Starts the monitor; on its thread, `on_failed(node)` runs when a node falls silent, and
  // `on_answered(node)` when a node answers for the first time, or again after it had failed (the
  // controller then compares its sessions with its rooms). Either may be empty.
  void StartMonitor(std::function<void(size_t node)> on_failed,
                    std::function<void(size_t node)> on_answered = nullptr,
                    absl::Duration poll = absl::Seconds(1),
                    absl::Duration silence = absl::Seconds(5));
  void StopMonitor();

  // The placeable node with the most headroom (lowest load, then fewest sessions). Nodes never
  // heard from yet are asked at once, and the chosen node is asked again before it is returned
  // (it may have begun draining since its last report). RESOURCE_EXHAUSTED when none fits.
  absl::StatusOr<size_t> Place();

 private:
  // The one caller of the nodes' session and endpoint methods.
  friend class MediaClientImpl;
  // A context for a call to `node`: a 5 s deadline and the node's metadata.
  std::unique_ptr<grpc::ClientContext> NewContext(size_t node) const;
  // The channel to `node`, shared with the client's stub.
  std::shared_ptr<grpc::Channel> channel(size_t node) const;

  // One node: its channel, its last report and what placement counted since (media_nodes.cc).
  struct Node;
  // Asks node `i` for its load (no lock held during the call) and records the answer.
  bool Refresh(size_t i);
  // Refreshes node `i`'s report; true when it still takes rooms.
  bool Confirm(size_t i);
  // The node as placement sees it (placement.h).
  PlacementCandidate Candidate(const Node& node) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The best placeable node (ChooseNode), skipping those marked in `skip`.
  absl::StatusOr<size_t> PickFromReports(const std::vector<bool>& skip);

  struct DnsName {
    std::string host;
    uint16_t port;
    Connector connect;
  };
  std::vector<DnsName> dns_names_;  // set before the monitor starts
  absl::Time last_resolve_ = absl::InfinitePast();

  mutable absl::Mutex mutex_;
  // Nodes are only ever appended, and never move (unique_ptr).
  std::vector<std::unique_ptr<Node>> nodes_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Duration silence_ = absl::Seconds(5);
  std::thread monitor_;
};

}  // namespace chorus::controller
