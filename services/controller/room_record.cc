#include "services/controller/room_record.h"

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

}  // namespace chorus::controller
