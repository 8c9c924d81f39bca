#include "services/controller/room_store.h"

#include <algorithm>
#include <utility>

namespace chorus::controller {

bool RoomRecord::lobby() const {
  if (room.has_lobby_enabled()) return room.lobby_enabled();
  return room.kind() == chorus::v1::ROOM_KIND_CONSULTATION;
}

bool RoomRecord::admits_on_host_arrival() const {
  if (room.admission() != chorus::v1::ADMISSION_POLICY_UNSPECIFIED) {
    return room.admission() == chorus::v1::ADMISSION_POLICY_HOST_ARRIVES;
  }
  return room.access_mode() == chorus::v1::ACCESS_MODE_HOST_PIN && !room.has_lobby_enabled();
}

bool RoomRecord::host_present() const {
  for (const auto& [id, member] : participants) {
    if (!member.pending && member.participant.role() == chorus::v1::ROLE_HOST &&
        member.participant.state() == chorus::v1::PARTICIPANT_STATE_ADMITTED) {
      return true;
    }
  }
  return false;
}

namespace {

class InMemoryRoomStore final : public RoomStore {
 public:
  bool Insert(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr || rooms_.contains(room->id)) return false;
    order_.push_back(room->id);
    std::string id = room->id;
    rooms_.emplace(std::move(id), std::move(room));
    return true;
  }

  RoomRecord* Find(std::string_view id) override {
    auto it = rooms_.find(id);
    return it == rooms_.end() ? nullptr : it->second.get();
  }

  std::unique_ptr<RoomRecord> Remove(std::string_view id) override {
    auto it = rooms_.find(id);
    if (it == rooms_.end()) return nullptr;
    std::unique_ptr<RoomRecord> room = std::move(it->second);
    rooms_.erase(it);
    order_.erase(std::find(order_.begin(), order_.end(), id));
    return room;
  }

  absl::Status Save(const RoomRecord&) override { return absl::OkStatus(); }

  absl::StatusOr<int> Purge() override { return 0; }

  size_t size() const override { return order_.size(); }

  std::vector<RoomRecord*> List(size_t begin, size_t end) override {
    end = std::min(end, order_.size());
    std::vector<RoomRecord*> out;
    for (size_t i = begin; i < end; ++i) out.push_back(rooms_.find(order_[i])->second.get());
    return out;
  }

 private:
  std::map<std::string, std::unique_ptr<RoomRecord>, std::less<>> rooms_;
  std::vector<std::string> order_;  // ids in creation order
};

}  // namespace

std::unique_ptr<RoomStore> MakeInMemoryRoomStore() { return std::make_unique<InMemoryRoomStore>(); }

}  // namespace chorus::controller
