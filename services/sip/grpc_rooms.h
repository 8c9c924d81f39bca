#pragma once

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "services/sip/sip_gateway.h"

namespace chorus::sip {

// The controller's public API (chorus.v1.Rooms) as the gateway's Rooms: each call with the
// platform's bearer token (empty: none) and a deadline of 5 s.
std::unique_ptr<Rooms> MakeGrpcRooms(std::shared_ptr<grpc::Channel> channel, std::string token);

}  // namespace chorus::sip
