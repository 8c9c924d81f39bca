#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.pb.h"
#include "chorus/v1/rooms.pb.h"
#include "grpcpp/support/status.h"

// The public API's requests as the controller's gRPC face takes them: the checks of their fields
// (each field accepted or refused the same way wherever it arrives, with a short message naming
// the field and the rule, never quoting the input), the conversion of a media
// offer to the media node's endpoint and of its answer back, and paging. No state, no rules of a
// room (room_rules.h).
namespace chorus::controller::api {

grpc::Status Invalid(const std::string& message);
grpc::Status NotFound(const std::string& message);
grpc::Status Precondition(const std::string& message);

// A room id a platform may choose: 4 to 63 of a-z, 0-9 and '-', starting with a letter.
bool ValidRoomId(const std::string& id);
// "rooms/{room}/participants/{participant}" into "rooms/{room}" and the participant id (empty
// when the name ends there); false when it is not of that shape.
bool SplitParticipantName(const std::string& name, std::string* room_name,
                          std::string* participant_id);
// The same for a request's `name` field: at most 256 characters and a participant id, else
// INVALID_ARGUMENT (the name not quoted).
grpc::Status ParseParticipantName(const std::string& name, std::string* room_name,
                                  std::string* participant_id);
// A PIN: 4 to 12 digits.
bool ValidPin(const std::string& pin);
// No control characters (C0, DEL); the text is otherwise free (UTF-8 is checked by protobuf).
bool NoControlCharacters(const std::string& text);
// A duration as protobuf defines it: nanos 0 to 999,999,999 for a positive one; Chorus takes
// no negative durations.
bool ValidDuration(const google::protobuf::Duration& duration);

// The one check of a room's end, `field` being "expire_time" or "ttl" (the two ways of giving
// it), for a room created at `created`, at `now`: CreateRoom and UpdateRoom both run it. Sets
// `end`.
grpc::Status CheckExpiry(std::string_view field, const chorus::v1::Room& in, absl::Time created,
                         absl::Time now, absl::Time* end);

// The one check of each settable Room field: CreateRoom runs it on every field, UpdateRoom on the
// fields of its mask, so a value is accepted or refused the same way wherever it arrives.
// `max_participants_limit`: the server's limit on a room's size.
grpc::Status CheckRoomField(std::string_view field, const chorus::v1::Room& in,
                            int max_participants_limit);

// The shape of a media offer: enums known, sizes bounded, ids in range. What the codecs, keys
// and addresses mean is the media node's to judge.
grpc::Status CheckRtpOffer(const chorus::v1::RtpOffer& rtp);

// A public media offer (checked) as the internal endpoint the node takes.
grpc::Status OfferToEndpoint(const chorus::v1::MediaOffer& offer,
                             chorus::internal::v1::Endpoint* endpoint);

// The node's endpoint as the public answer.
void EndpointToAnswer(const chorus::internal::v1::Endpoint& endpoint,
                      chorus::v1::MediaAnswer* answer);

// Offset paging (AIP-158) of one listing, tokens "<prefix><offset>": the request is checked up
// front; the page's [begin, end) and the next token follow once the listing's size is known.
class Pager {
 public:
  Pager(const char* prefix, int page_size, const std::string& token);
  const grpc::Status& status() const { return status_; }
  // For a listing of `total` items; INVALID_ARGUMENT when the token points past its end.
  grpc::Status Range(size_t total, size_t* begin, size_t* end, std::string* next_token) const;

 private:
  const std::string prefix_;
  int size_;
  size_t offset_ = 0;
  grpc::Status status_;
};

}  // namespace chorus::controller::api
