// Nonsense to every RPC of the public API, built from the service's own descriptors so that a new
// RPC or field is covered without editing this test: empty requests, huge strings, strings that
// are not UTF-8, negative and huge numbers, unknown enum values, a thousand repeated entries, in
// every field of the request and of its messages. Every answer must be a clear refusal (or a
// success), never INTERNAL or UNKNOWN; its message at most 256 bytes and free of the input; and
// the server must go on serving. The requests go over the wire as raw bytes (a generic call), as
// a hostile client would send them.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chorus/v1/rooms.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pipeline/base/log.h"
#include "pipeline/engine/engine.h"
#include "services/common/api_guard.h"
#include "services/controller/rooms_service.h"
#include "services/media_node/media_node_service.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr char kMarker[] = "ZZZZZZZZZZZZZZZZ";

class ApiFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base::SetLogSinkForTesting([this](std::string_view line) {
      absl::MutexLock lock(&log_mutex_);
      log_.emplace_back(line);
    });
    common::RouteProtobufLogging();
    auth_ = common::BearerAuthenticator::AllowAll();
    engine::EngineOptions engine_options;
    engine_options.workers = 1;
    engine_options.port_min = 42700;
    engine_options.port_max = 42799;
    engine_ = *engine::MediaEngine::Create(engine_options);
    media_node::MediaNodeOptions node_options;
    node_options.node_id = "node-1";
    node_options.internal_secret = "fuzz-secret";
    media_ = std::make_unique<media_node::MediaNodeService>(node_options, engine_.get(), *auth_,
                                                            lifecycle_);
    // As in chorusd `all`: the internal API on its own server without a port.
    grpc::ServerBuilder internal_builder;
    internal_builder.RegisterService(media_.get());
    internal_server_ = internal_builder.BuildAndStart();
    nodes_.Add("in-process", internal_server_->InProcessChannel(grpc::ChannelArguments()),
               {media_node::kInternalSecretHeader, "fuzz-secret"});
    rooms_ = std::make_unique<RoomsService>(*auth_, lifecycle_, &nodes_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.experimental().SetInterceptorCreators(common::ApiGuardInterceptors());
    builder.RegisterService(rooms_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    lifecycle_.SetReady(true);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = v1::Rooms::NewStub(channel_);
  }
  void TearDown() override {
    rooms_->Shutdown();
    media_->Shutdown();
    server_->Shutdown();
    internal_server_->Shutdown();
    base::SetLogSinkForTesting(nullptr);
  }

  // Sends `bytes` as the request of `method` ("/chorus.v1.Rooms/GetRoom") and returns the status.
  // A server-streaming call that delivers a first message counts as served (OK).
  grpc::Status RawCall(const std::string& method, const std::string& bytes, bool streaming) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         (streaming ? std::chrono::milliseconds(300) : std::chrono::seconds(20)));
    grpc::CompletionQueue queue;
    auto call = generic.PrepareCall(&context, method, &queue);
    void* tag = nullptr;
    bool ok = false;
    auto step = [&](intptr_t expected) {
      queue.Next(&tag, &ok);
      EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
      return ok;
    };
    call->StartCall(reinterpret_cast<void*>(1));
    step(1);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    call->Write(request, reinterpret_cast<void*>(2));
    step(2);
    call->WritesDone(reinterpret_cast<void*>(3));
    step(3);
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(4));
    const bool got_message = step(4);
    if (got_message && streaming) context.TryCancel();
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    step(5);
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    if (got_message && streaming) return grpc::Status::OK;
    return status;
  }

  std::string NewRoom() {
    v1::CreateRoomRequest request;
    request.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
    request.set_room_id(absl::StrCat("fuzz-", ++rooms_created_));
    v1::Room room;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->CreateRoom(&context, request, &room).ok());
    return room.name();
  }

  common::Lifecycle lifecycle_;
  std::unique_ptr<common::BearerAuthenticator> auth_;
  std::unique_ptr<engine::MediaEngine> engine_;
  std::unique_ptr<media_node::MediaNodeService> media_;
  MediaNodes nodes_;
  std::unique_ptr<RoomsService> rooms_;
  std::unique_ptr<grpc::Server> internal_server_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Rooms::Stub> stub_;
  int rooms_created_ = 0;
  absl::Mutex log_mutex_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mutex_);
};

// One way to spoil a field of `message` (through reflection).
using Spoil = std::function<void(Message*)>;

// Every spoiling of every field of `type`, reached from the request through `path` (the message
// fields to descend through); depth-limited.
void CollectSpoils(const google::protobuf::Descriptor* type,
                   std::vector<const FieldDescriptor*> path, int depth,
                   std::vector<std::pair<std::string, Spoil>>* out) {
  auto at = [path](Message* root) {
    Message* message = root;
    for (const FieldDescriptor* step : path) {
      message = step->is_repeated() ? message->GetReflection()->AddMessage(message, step)
                                    : message->GetReflection()->MutableMessage(message, step);
    }
    return message;
  };
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    const std::string name = field->full_name();
    auto add = [&](const std::string& what,
                   std::function<void(Message*, const FieldDescriptor*)> f) {
      out->emplace_back(name + " " + what, [at, field, f](Message* root) { f(at(root), field); });
    };
    const bool repeated = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        for (const std::string& value : {std::string(100'000, 'Z'),
                                         std::string("\xff\xfe"
                                                     "ZZZZZZZZZZZZZZZZ\xc3",
                                                     19),
                                         std::string("\0ZZZZZZZZZZZZZZZZZ", 18)}) {
          add(value.size() > 100 ? "huge" : "bytes",
              [value, repeated](Message* m, const FieldDescriptor* f) {
                if (repeated) {
                  m->GetReflection()->AddString(m, f, value);
                } else {
                  m->GetReflection()->SetString(m, f, value);
                }
              });
        }
        if (repeated) {
          add("x1000", [](Message* m, const FieldDescriptor* f) {
            for (int k = 0; k < 1000; ++k) m->GetReflection()->AddString(m, f, kMarker);
          });
        }
        break;
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        for (int which = 0; which < 3; ++which) {
          add(absl::StrCat("number", which),
              [which, repeated](Message* m, const FieldDescriptor* f) {
                const auto* r = m->GetReflection();
                const int64_t small = which == 0 ? -1 : (which == 1 ? INT32_MIN : INT32_MAX);
                switch (f->cpp_type()) {
                  case FieldDescriptor::CPPTYPE_INT32:
                    repeated ? r->AddInt32(m, f, static_cast<int32_t>(small))
                             : r->SetInt32(m, f, static_cast<int32_t>(small));
                    break;
                  case FieldDescriptor::CPPTYPE_INT64:
                    repeated ? r->AddInt64(m, f, which == 2 ? INT64_MAX : small)
                             : r->SetInt64(m, f, which == 2 ? INT64_MAX : small);
                    break;
                  case FieldDescriptor::CPPTYPE_UINT32:
                    repeated ? r->AddUInt32(m, f, static_cast<uint32_t>(small))
                             : r->SetUInt32(m, f, static_cast<uint32_t>(small));
                    break;
                  case FieldDescriptor::CPPTYPE_UINT64:
                    repeated ? r->AddUInt64(m, f, static_cast<uint64_t>(small))
                             : r->SetUInt64(m, f, static_cast<uint64_t>(small));
                    break;
                  case FieldDescriptor::CPPTYPE_DOUBLE:
                    repeated ? r->AddDouble(m, f, which == 0 ? std::nan("") : small * 1e300)
                             : r->SetDouble(m, f, which == 0 ? std::nan("") : small * 1e300);
                    break;
                  default:
                    repeated ? r->AddFloat(m, f, static_cast<float>(small))
                             : r->SetFloat(m, f, static_cast<float>(small));
                    break;
                }
              });
        }
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        for (int value : {99, -7, 1}) {
          add(absl::StrCat("enum", value), [value, repeated](Message* m, const FieldDescriptor* f) {
            repeated ? m->GetReflection()->AddEnumValue(m, f, value)
                     : m->GetReflection()->SetEnumValue(m, f, value);
          });
        }
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        add("true", [repeated](Message* m, const FieldDescriptor* f) {
          repeated ? m->GetReflection()->AddBool(m, f, true)
                   : m->GetReflection()->SetBool(m, f, true);
        });
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (repeated) {
          add("x1000", [](Message* m, const FieldDescriptor* f) {
            for (int k = 0; k < 1000; ++k) m->GetReflection()->AddMessage(m, f);
          });
        }
        if (depth < 3) {
          std::vector<const FieldDescriptor*> deeper = path;
          deeper.push_back(field);
          CollectSpoils(field->message_type(), deeper, depth + 1, out);
        }
        break;
    }
  }
}

TEST_F(ApiFuzzTest, NonsenseToEveryRpcGetsAShortClearRefusalAndTheServerGoesOn) {
  const google::protobuf::ServiceDescriptor* service =
      v1::Rooms::service_full_name() != nullptr
          ? google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                v1::Rooms::service_full_name())
          : nullptr;
  ASSERT_NE(service, nullptr);
  int calls = 0;
  std::map<int, int> by_code;
  for (int m = 0; m < service->method_count(); ++m) {
    const google::protobuf::MethodDescriptor* method = service->method(m);
    const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
    const Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->input_type());
    std::vector<std::pair<std::string, Spoil>> spoils;
    spoils.emplace_back("empty", [](Message*) {});
    CollectSpoils(method->input_type(), {}, 0, &spoils);
    for (const auto& [what, spoil] : spoils) {
      SCOPED_TRACE(absl::StrCat(method->name(), ": ", what));
      // A real room in the name fields, so that the checks behind the name are reached.
      const std::string room = NewRoom();
      std::unique_ptr<Message> request(prototype->New());
      for (const char* name : {"name", "parent", "room"}) {
        const FieldDescriptor* field = method->input_type()->FindFieldByName(name);
        if (field != nullptr && field->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
            !field->is_repeated()) {
          request->GetReflection()->SetString(request.get(), field, room);
        }
      }
      spoil(request.get());
      std::string bytes;
      ASSERT_TRUE(request->SerializeToString(&bytes));
      grpc::Status status = RawCall(path, bytes, method->server_streaming());
      ++calls;
      ++by_code[status.error_code()];
      EXPECT_NE(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
      EXPECT_NE(status.error_code(), grpc::StatusCode::UNKNOWN) << status.error_message();
      EXPECT_NE(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
      if (!method->server_streaming()) {
        EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
      }
      EXPECT_LE(status.error_message().size(), common::kMaxErrorMessage);
      EXPECT_EQ(status.error_message().find(kMarker), std::string::npos) << status.error_message();
    }
  }
  EXPECT_GT(calls, 300);
  // The requests reached the rules: some were served, most refused as invalid.
  EXPECT_GE(by_code[grpc::StatusCode::OK], 5);
  EXPECT_GT(by_code[grpc::StatusCode::INVALID_ARGUMENT], 200);
  for (const auto& [code, count] : by_code) std::printf("status %d: %d calls\n", code, count);
  // Still serving.
  v1::ListRoomsResponse rooms;
  grpc::ClientContext context;
  EXPECT_TRUE(stub_->ListRooms(&context, {}, &rooms).ok());
  // libprotobuf's complaints about the strings that are not UTF-8 went into the JSON log, as
  // "protobuf" events, without the strings.
  absl::MutexLock lock(&log_mutex_);
  int protobuf_events = 0;
  for (const std::string& line : log_) {
    EXPECT_EQ(line.rfind("{", 0), 0u) << line.substr(0, 80);
    EXPECT_EQ(line.find(kMarker), std::string::npos) << line.substr(0, 120);
    if (line.find("\"event\":\"protobuf\"") != std::string::npos) ++protobuf_events;
  }
  EXPECT_GT(protobuf_events, 0);
}

TEST_F(ApiFuzzTest, ARequestThatIsNotUtf8IsInvalidArgumentNotInternal) {
  const std::string room = NewRoom();
  v1::GetRoomRequest request;
  request.set_name(room + "\xff");
  std::string bytes;
  request.SerializeToString(&bytes);
  grpc::Status status = RawCall("/chorus.v1.Rooms/GetRoom", bytes, false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("UTF-8"), std::string::npos) << status.error_message();
  // Bytes that are no protobuf at all.
  status =
      RawCall("/chorus.v1.Rooms/GetRoom", std::string("\xff\xff\xff\xff\x0f garbage", 13), false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(ApiGuardTest, LongOrUnprintableMessagesAreCutAndCleaned) {
  grpc::Status cut = common::GuardStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(10'000, 'a') + "\n\x01"));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LE(cut.error_message().size(), common::kMaxErrorMessage);
  grpc::Status clean =
      common::GuardStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad\x01value"));
  EXPECT_EQ(clean.error_message(), "bad?value");
  EXPECT_EQ(common::Excerpt(std::string(100, 'q'), 8), "qqqqqqqq...");
  EXPECT_EQ(common::Excerpt("a\nb"), "a?b");
}

}  // namespace
}  // namespace chorus::controller
