#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chorus/v1/media_node.pb.h"
#include "chorus/v1/rooms.pb.h"

namespace chorus::controller {

class MediaNodes;

// What the controller asks of its media nodes, in the controller's terms: a room's session, a
// participant's endpoint in it, its routing, a room's layout. Nodes are MediaNodes indexes. Every
// call is one request to the node with a deadline (5 s unless said otherwise); a failure comes
// back with the node's canonical code and message (UNAVAILABLE or DEADLINE_EXCEEDED when the node
// did not answer). A session is named "sessions/<room id>", an endpoint
// "sessions/<room id>/endpoints/<participant id>".
//
// MediaClientImpl is the only caller of the media nodes' internal API besides the load reports
// MediaNodes asks for, and the only user of its stub besides them (no header includes it); tests
// of the join flow use a fake. Thread-safe.
class MediaClient {
 public:
  virtual ~MediaClient() = default;

  // ----- The nodes (MediaNodes) -----
  // How many nodes are configured (0: no join can be placed).
  virtual size_t NodeCount() const = 0;
  // The node with the most headroom for a new room (MediaNodes::Place); RESOURCE_EXHAUSTED when
  // none can take one.
  virtual absl::StatusOr<size_t> PlaceRoom() = 0;
  // The node's address and the id of its last load report (empty until it answered once): a
  // room's record keeps both to find its node again after a restart.
  virtual std::string NodeAddress(size_t node) const = 0;
  virtual std::string NodeId(size_t node) const = 0;

  // ----- Sessions -----
  // Creates the room's session with one audio bus per language (none: one floor bus). OK when
  // the node runs it already (another join of the same moment created it).
  virtual absl::Status CreateSession(size_t node, const std::string& room_id,
                                     const std::vector<std::string>& languages) = 0;
  // Ends the room's session and every endpoint in it (NOT_FOUND when the node has none).
  virtual absl::Status DeleteSession(size_t node, const std::string& room_id) = 0;
  // Sends the room's layout policy (max_tiles 0 becomes the default of 9 tiles).
  virtual absl::Status SetLayout(size_t node, const std::string& room_id,
                                 const chorus::v1::LayoutPolicy& policy) = 0;
  // Who speaks and how each endpoint's media flows, for the speakers and the media timeout.
  virtual absl::StatusOr<chorus::internal::v1::SessionStats> GetSessionStats(
      size_t node, const std::string& room_id) = 0;
  // Every session the node runs with its endpoints, for reconciliation (3 s deadline: the
  // controller waits for it before it serves).
  virtual absl::StatusOr<chorus::internal::v1::ListSessionsResponse> ListSessions(size_t node) = 0;

  // ----- Endpoints -----
  // Adds the participant's endpoint (its offer and routing in `endpoint`) to the room's session;
  // the node's answer (its local streams, or the WebRTC answer SDP).
  virtual absl::StatusOr<chorus::internal::v1::Endpoint> AddEndpoint(
      size_t node, const std::string& room_id, const std::string& participant,
      const chorus::internal::v1::Endpoint& endpoint) = 0;
  // Removes the participant's endpoint (its media stops at once).
  virtual absl::Status RemoveEndpoint(size_t node, const std::string& room_id,
                                      const std::string& participant) = 0;
  // Removes an endpoint by the name the node gave it (one that belongs to no participant).
  virtual absl::Status RemoveEndpointNamed(size_t node, const std::string& endpoint_name) = 0;
  // The participant asked for a keyframe of its view (outside RTCP).
  virtual absl::Status RequestKeyframe(size_t node, const std::string& room_id,
                                       const std::string& participant) = 0;
  // Sends the routing fields named in `paths` ("routing", "routing.muted", ...) of the
  // participant's endpoint.
  virtual absl::Status UpdateRouting(size_t node, const std::string& room_id,
                                     const std::string& participant,
                                     const chorus::internal::v1::Routing& routing,
                                     const std::vector<std::string>& paths) = 0;
  // Renegotiates a participant's media in the same call: a WebRTC participant's new offer
  // (`offer.webrtc_offer_sdp`), or an RTP participant's streams now (`offer.remote_streams`: a
  // content stream starts or stops); the node's answer.
  virtual absl::StatusOr<chorus::internal::v1::Endpoint> Renegotiate(
      size_t node, const std::string& room_id, const std::string& participant,
      const chorus::internal::v1::Endpoint& offer) = 0;
};

// The media client over the nodes of a MediaNodes (not owned; it must outlive the client).
class MediaClientImpl final : public MediaClient {
 public:
  explicit MediaClientImpl(MediaNodes* nodes);
  ~MediaClientImpl() override;

  size_t NodeCount() const override;
  absl::StatusOr<size_t> PlaceRoom() override;
  std::string NodeAddress(size_t node) const override;
  std::string NodeId(size_t node) const override;
  absl::Status CreateSession(size_t node, const std::string& room_id,
                             const std::vector<std::string>& languages) override;
  absl::Status DeleteSession(size_t node, const std::string& room_id) override;
  absl::Status SetLayout(size_t node, const std::string& room_id,
                         const chorus::v1::LayoutPolicy& policy) override;
  absl::StatusOr<chorus::internal::v1::SessionStats> GetSessionStats(
      size_t node, const std::string& room_id) override;
  absl::StatusOr<chorus::internal::v1::ListSessionsResponse> ListSessions(size_t node) override;
  absl::StatusOr<chorus::internal::v1::Endpoint> AddEndpoint(
      size_t node, const std::string& room_id, const std::string& participant,
      const chorus::internal::v1::Endpoint& endpoint) override;
  absl::Status RemoveEndpoint(size_t node, const std::string& room_id,
                              const std::string& participant) override;
  absl::Status RemoveEndpointNamed(size_t node, const std::string& endpoint_name) override;
  absl::Status RequestKeyframe(size_t node, const std::string& room_id,
                               const std::string& participant) override;
  absl::Status UpdateRouting(size_t node, const std::string& room_id,
                             const std::string& participant,
                             const chorus::internal::v1::Routing& routing,
                             const std::vector<std::string>& paths) override;
  absl::StatusOr<chorus::internal::v1::Endpoint> Renegotiate(
      size_t node, const std::string& room_id, const std::string& participant,
      const chorus::internal::v1::Endpoint& offer) override;

 private:
  // One stub per node over the node's channel, made at its first call (media_client.cc).
  class Stubs;

  MediaNodes* const nodes_;  // not owned
  const std::unique_ptr<Stubs> stubs_;
};

}  // namespace chorus::controller
