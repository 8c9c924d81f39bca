#include "services/controller/room_store.h"

#include <algorithm>
#include <utility>

namespace chorus::controller {
namespace {

// A room handed out by Load() keeps its place (in the map and the order) with no record.
class InMemoryRoomStore final : public RoomStore {
 public:
  bool Insert(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr || rooms_.contains(room->id)) return false;
    order_.push_back(room->id);
    std::string id = room->id;
    rooms_.emplace(std::move(id), std::move(room));
    return true;
  }

  std::unique_ptr<RoomRecord> Load(std::string_view id) override {
    auto it = rooms_.find(id);
    return it == rooms_.end() ? nullptr : std::move(it->second);
  }

  absl::Status Put(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr) return absl::InvalidArgumentError("no room");
    auto it = rooms_.find(room->id);
    if (it == rooms_.end() || it->second != nullptr) {
      return absl::FailedPreconditionError("the room was not handed out");
    }
    it->second = std::move(room);
    return absl::OkStatus();
  }

  bool Delete(std::string_view id) override {
    auto it = rooms_.find(id);
    if (it == rooms_.end()) return false;
    rooms_.erase(it);
    order_.erase(std::find(order_.begin(), order_.end(), id));
    return true;
  }

  absl::StatusOr<int> Purge() override { return 0; }

  size_t size() const override { return order_.size(); }

  void Scan(size_t begin, size_t end, absl::FunctionRef<void(const RoomRecord&)> visit) override {
    end = std::min(end, order_.size());
    for (size_t i = begin; i < end; ++i) {
      const RoomRecord* room = rooms_.find(order_[i])->second.get();
      if (room != nullptr) visit(*room);
    }
  }

 private:
  std::map<std::string, std::unique_ptr<RoomRecord>, std::less<>> rooms_;
  std::vector<std::string> order_;  // ids in creation order
};

}  // namespace

std::unique_ptr<RoomStore> MakeInMemoryRoomStore() { return std::make_unique<InMemoryRoomStore>(); }

}  // namespace chorus::controller
