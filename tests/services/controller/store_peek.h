#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/controller/room_store.h"

namespace chorus::controller::testing {

// A copy of the room as the store holds it (handed out by Load() and taken back at once), or
// nothing when there is no such room.
inline std::optional<RoomRecord> Peek(RoomStore& store, std::string_view id) {
  std::unique_ptr<RoomRecord> room = store.Load(id);
  if (room == nullptr) return std::nullopt;
  RoomRecord copy = *room;
  if (!store.Put(std::move(room)).ok()) return std::nullopt;
  return copy;
}

// The ids of the rooms the store holds, in creation order.
inline std::vector<std::string> Ids(RoomStore& store) {
  std::vector<std::string> ids;
  store.ScanAll([&](const RoomRecord& room) { ids.push_back(room.id); });
  return ids;
}

}  // namespace chorus::controller::testing
