#include <cinttypes>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tools/loadgen/server_driver.h"
#include "tools/loadgen/server_probe.h"

namespace chorus::loadgen {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Janus answers JSON objects (or, for a long poll with maxev > 1, an array of them).
absl::StatusOr<std::vector<Struct>> ParseObjects(const std::string& text) {
  Struct wrapper;
  const std::string json = absl::StrCat("{\"items\": ", text.empty() ? "null" : text, "}");
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &wrapper);
  if (!parsed.ok()) return absl::InternalError("Janus answered something that is not JSON");
  std::vector<Struct> objects;
  const Value& items = wrapper.fields().at("items");
  if (items.has_struct_value()) objects.push_back(items.struct_value());
  if (items.has_list_value()) {
    for (const Value& item : items.list_value().values()) {
      if (item.has_struct_value()) objects.push_back(item.struct_value());
    }
  }
  return objects;
}

const Value* Field(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

std::string StringField(const Struct& object, const std::string& name) {
  const Value* value = Field(object, name);
  return value != nullptr && value->has_string_value() ? value->string_value() : "";
}

// Janus ids are random integers below 2^53, exact in a double.
uint64_t IdField(const Struct& object, const std::string& name) {
  const Value* value = Field(object, name);
  if (value == nullptr || !value->has_number_value() || value->number_value() < 0) return 0;
  return static_cast<uint64_t>(value->number_value());
}

const Struct* StructField(const Struct& object, const std::string& name) {
  const Value* value = Field(object, name);
  return value != nullptr && value->has_struct_value() ? &value->struct_value() : nullptr;
}

// The plugin's answer inside a Janus message ("plugindata": {"data": {...}}).
const Struct* PluginData(const Struct& object) {
  const Struct* plugin = StructField(object, "plugindata");
  return plugin == nullptr ? nullptr : StructField(*plugin, "data");
}

class JanusDriver final : public ServerDriver {
 public:
  explicit JanusDriver(const JanusDriverConfig& config)
      : config_(config), room_base_(std::random_device{}() % 1000000 * 1000 + 1000) {}

  absl::StatusOr<std::string> CreateRoom(int index, int size) override {
    if (session_ == 0) {
      auto session = Post(config_.url, R"({"janus": "create", "transaction": "session"})");
      if (!session.ok()) return session.status();
      const Struct* data = StructField(*session, "data");
      session_ = data == nullptr ? 0 : IdField(*data, "id");
      if (session_ == 0) return absl::InternalError("Janus created no session");
      auto handle = Attach();
      if (!handle.ok()) return handle.status();
      admin_handle_ = *handle;
    }
    const uint64_t room = room_base_ + static_cast<uint64_t>(index);
    auto answer =
        Post(HandleUrl(admin_handle_),
             absl::StrCat(R"({"janus": "message", "transaction": "room", "body": {)",
                          R"("request": "create", "room": )", room, R"(, "sampling_rate": )",
                          config_.sampling_rate_hz,
                          R"(, "allow_rtp_participants": true, "audiolevel_ext": true)",
                          R"(, "permanent": false, "description": "load )", index, R"("}})"));
    if (!answer.ok()) return answer.status();
    const Struct* data = PluginData(*answer);
    if (data == nullptr || StringField(*data, "audiobridge") != "created") {
      return absl::InternalError(absl::StrCat(
          "AudioBridge did not create room ", room, " (", size,
          " participants): ", data == nullptr ? "no answer" : StringField(*data, "error")));
    }
    rooms_.push_back(room);
    return absl::StrCat(room);
  }

  absl::StatusOr<JoinAnswer> Join(const std::string& room, int index_in_room,
                                  const JoinOffer& offer) override {
    if (!offer.key_base64.empty() || !offer.webrtc_sdp.empty()) {
      return absl::InvalidArgumentError("the Janus driver joins plain RTP participants only");
    }
    if (offer.video_port != 0) {
      return absl::InvalidArgumentError("Janus AudioBridge carries audio only (no --video)");
    }
    auto handle = Attach();
    if (!handle.ok()) return handle.status();
    const std::string transaction = absl::StrCat("join-", ++transactions_);
    auto ack = Post(
        HandleUrl(*handle),
        absl::StrCat(R"({"janus": "message", "transaction": ")", transaction, R"(", "body": {)",
                     R"("request": "join", "room": )", room, R"(, "display": "p)", index_in_room,
                     R"(", "rtp": {"ip": ")", offer.ip, R"(", "port": )", offer.port,
                     R"(, "payload_type": )", static_cast<int>(offer.payload_type),
                     R"(, "audiolevel_ext": )", static_cast<int>(offer.audio_level_id), "}}}"));
    if (!ack.ok()) return ack.status();
    // The join is answered asynchronously, as an event on the session's long poll.
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto events = HttpRequest(absl::StrCat(config_.url, "/", session_, "?maxev=50"), "GET", "",
                                config_.timeout_ms + 35000);
      if (!events.ok()) return events.status();
      auto objects = ParseObjects(*events);
      if (!objects.ok()) return objects.status();
      for (const Struct& event : *objects) {
        if (StringField(event, "transaction") != transaction) continue;
        const Struct* data = PluginData(event);
        if (data == nullptr || StringField(*data, "audiobridge") != "joined") {
          return absl::InternalError(
              absl::StrCat("AudioBridge refused the join: ",
                           data == nullptr ? "" : StringField(*data, "error")));
        }
        const Struct* rtp = StructField(*data, "rtp");
        const Value* port = rtp == nullptr ? nullptr : Field(*rtp, "port");
        if (port == nullptr || !port->has_number_value() || port->number_value() <= 0 ||
            port->number_value() > 65535) {
          return absl::InternalError("AudioBridge's join answer has no RTP port");
        }
        JoinAnswer answer;
        answer.ip = StringField(*rtp, "ip");
        answer.port = static_cast<uint16_t>(port->number_value());
        return answer;
      }
    }
    return absl::DeadlineExceededError("AudioBridge did not answer the join");
  }

  void CloseAll() override {
    if (session_ == 0) return;
    for (uint64_t room : rooms_) {
      auto answer = Post(HandleUrl(admin_handle_),
                         absl::StrCat(R"({"janus": "message", "transaction": "end", "body": {)",
                                      R"("request": "destroy", "room": )", room, "}}"));
      if (!answer.ok()) {
        std::fprintf(stderr, "chorus-loadgen: destroying Janus room %" PRIu64 ": %s\n", room,
                     std::string(answer.status().message()).c_str());
      }
    }
    rooms_.clear();
    (void)Post(absl::StrCat(config_.url, "/", session_),
               R"({"janus": "destroy", "transaction": "bye"})");
    session_ = 0;
  }

  const char* name() const override { return "janus"; }

 private:
  std::string HandleUrl(uint64_t handle) const {
    return absl::StrCat(config_.url, "/", session_, "/", handle);
  }

  absl::StatusOr<uint64_t> Attach() {
    auto answer = Post(absl::StrCat(config_.url, "/", session_),
                       R"({"janus": "attach", "plugin": "janus.plugin.audiobridge", )"
                       R"("transaction": "attach"})");
    if (!answer.ok()) return answer.status();
    const Struct* data = StructField(*answer, "data");
    const uint64_t handle = data == nullptr ? 0 : IdField(*data, "id");
    if (handle == 0) return absl::InternalError("Janus could not attach the AudioBridge plugin");
    return handle;
  }

  // One request; the answer must be a JSON object whose "janus" is not "error".
  absl::StatusOr<Struct> Post(const std::string& url, const std::string& body) {
    auto text = HttpRequest(url, "POST", body, config_.timeout_ms);
    if (!text.ok()) return text.status();
    auto objects = ParseObjects(*text);
    if (!objects.ok()) return objects.status();
    if (objects->size() != 1) return absl::InternalError("Janus answered no JSON object");
    const Struct& object = objects->front();
    if (StringField(object, "janus") == "error") {
      const Struct* error = StructField(object, "error");
      return absl::InternalError(
          absl::StrCat("Janus: ", error == nullptr ? "error" : StringField(*error, "reason")));
    }
    return object;
  }

  const JanusDriverConfig config_;
  const uint64_t room_base_;
  uint64_t session_ = 0;
  uint64_t admin_handle_ = 0;
  uint64_t transactions_ = 0;
  std::vector<uint64_t> rooms_;
};

}  // namespace

std::unique_ptr<ServerDriver> NewJanusDriver(const JanusDriverConfig& config) {
  return std::make_unique<JanusDriver>(config);
}

}  // namespace chorus::loadgen
