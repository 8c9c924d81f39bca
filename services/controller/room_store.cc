#include "services/controller/room_store.h"

#include <algorithm>
#include <utility>

namespace chorus::controller {
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
