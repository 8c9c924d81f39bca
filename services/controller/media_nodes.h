#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chorus/v1/media_node.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace chorus::controller {

// The media nodes a controller places rooms on, and the client calls it makes to them.
// In `chorusd all` the one node is this process, reached through an in-process channel.
// Thread-safe (gRPC stubs are).
class MediaNodes {
 public:
  struct Node {
    std::string address;  // for logs and placement; "in-process" for the embedded node
    std::unique_ptr<chorus::internal::v1::MediaNode::Stub> stub;
    std::pair<std::string, std::string> metadata;
  };

  // `metadata` (name, value) is sent with every call to that node (the in-process secret).
  void Add(std::string address, std::shared_ptr<grpc::Channel> channel,
           std::pair<std::string, std::string> metadata = {});
  // A context for a call to `node`: a 5 s deadline and the node's metadata.
  std::unique_ptr<grpc::ClientContext> NewContext(size_t node) const;
  size_t size() const;

  // The ready, not draining node with the lowest load under its admission threshold (asked with
  // GetLoad). RESOURCE_EXHAUSTED when none fits.
  absl::StatusOr<size_t> Place() const;

  chorus::internal::v1::MediaNode::Stub& stub(size_t node) const;
  std::string address(size_t node) const;

 private:
  mutable absl::Mutex mutex_;
  // Nodes are only ever appended, and stubs never move (unique_ptr).
  std::vector<Node> nodes_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace chorus::controller
