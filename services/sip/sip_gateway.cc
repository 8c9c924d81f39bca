#include "services/sip/sip_gateway.h"

#include <arpa/inet.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/tport_tag.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "pipeline/base/log.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "services/common/keypad_entry.h"
#include "services/sip/sip_sdp.h"

namespace chorus::sip {
namespace {

namespace v1 = chorus::v1;

constexpr int kJoinWorkers = 4;

bool Digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A call's state, owned by the stack thread (bound to its handle).
struct Call {
  nua_handle_t* handle = nullptr;
  uint64_t id = 0;
  std::string participant;  // once joined
  bool answered = false;
  bool ended = false;  // BYE, CANCEL or the end of the stack: its participant leaves
  // Came over TLS to a sip: URI (not sips:): answered with a ";transport=tls" Contact.
  bool tls_by_sip_uri = false;
  // Once answered: the caller's offer and the node's answer (a re-INVITE is judged against them),
  // and the version of the last SDP answer sent.
  CallerOffer offer;
  v1::RtpAnswer answer;
  uint64_t sdp_version = 1;
  // Dialled without a PIN: it types it. Keys it sends as SIP INFO (never logged).
  bool keypad = false;
  common::KeypadEntry keys;
  // A call Chorus places (DialOut): the participant it is for, whether the callee's phone rang,
  // until when it may ring, and whether it was cancelled for ringing too long.
  bool outgoing = false;
  std::string dial_out;
  bool ringing = false;
  absl::Time ring_deadline = absl::InfiniteFuture();
  bool timed_out = false;
  // Answered the trunk's digest challenge once (a second challenge fails the call).
  bool authenticated = false;
  // Its video was taken (a room system's camera): keyframes are asked for by SIP INFO too (once
  // when the call is established).
  bool has_video = false;
  bool asked_keyframe = false;
  // It presents (a content stream taken by re-INVITE), and a re-INVITE starting or stopping it
  // is on its way to the controller (another one meanwhile gets 491).
  bool presenting = false;
  bool updating = false;
};

// How a call Chorus placed ended, by the final response to its INVITE.
v1::DialOutState DialOutFailure(int status, bool timed_out) {
  if (timed_out || status == 408 || status == 480 || status == 487) {
    return v1::DIAL_OUT_STATE_NO_ANSWER;
  }
  if (status == 486 || status == 600) return v1::DIAL_OUT_STATE_BUSY;
  if (status == 403 || status == 404 || status == 603 || status == 604) {
    return v1::DIAL_OUT_STATE_REJECTED;
  }
  return v1::DIAL_OUT_STATE_FAILED;  // the trunk, authentication asked for, a server error
}

class Gateway final : public SipGateway {
 public:
  Gateway(GatewayOptions options, PeerList trusted, Rooms* rooms)
      : options_(std::move(options)), trusted_(std::move(trusted)), rooms_(rooms) {
    if (options_.registry == nullptr) options_.registry = std::make_shared<prometheus::Registry>();
    auto& results = prometheus::BuildCounter()
                        .Name("chorus_sip_calls_total")
                        .Help(
                            "SIP calls by how they were answered: answered (joined), refused "
                            "(no room, wrong PIN, media not acceptable), busy (503: limits)")
                        .Register(*options_.registry);
    answered_ = &results.Add({{"result", "answered"}});
    refused_ = &results.Add({{"result", "refused"}});
    busy_ = &results.Add({{"result", "busy"}});
    auto& dial_outs = prometheus::BuildCounter()
                          .Name("chorus_sip_dial_outs_total")
                          .Help(
                              "Calls Chorus placed (DialOut) by how they ended: answered, busy, "
                              "no_answer, rejected, failed")
                          .Register(*options_.registry);
    for (const auto& [state, label] : {std::pair{v1::DIAL_OUT_STATE_ANSWERED, "answered"},
                                       std::pair{v1::DIAL_OUT_STATE_BUSY, "busy"},
                                       std::pair{v1::DIAL_OUT_STATE_NO_ANSWER, "no_answer"},
                                       std::pair{v1::DIAL_OUT_STATE_REJECTED, "rejected"},
                                       std::pair{v1::DIAL_OUT_STATE_FAILED, "failed"}}) {
      dial_out_results_[state] = &dial_outs.Add({{"result", label}});
    }
    calls_gauge_ = &prometheus::BuildGauge()
                        .Name("chorus_sip_calls")
                        .Help("SIP calls in progress (answered, not ended)")
                        .Register(*options_.registry)
                        .Add({});
  }

  ~Gateway() override { Shutdown(); }

  absl::Status Run() {
    if (absl::StartsWith(options_.tls_listen_url, "sips:")) {
      // For callers that ask for TLS with a sip: URI (";transport=tls", as many phones do): a
      // Contact they can reach again the same way.
      tls_contact_ = absl::StrCat("<sip:", options_.tls_listen_url.substr(5), ";transport=tls>");
    }
    from_ = options_.from_uri;
    if (from_.empty()) {
      const std::string& listener =
          options_.tls_listen_url.empty() ? options_.listen_url : options_.tls_listen_url;
      const size_t colon = listener.find(':');
      from_ = absl::StrCat(listener.substr(0, colon), ":chorus@", listener.substr(colon + 1));
    }
    from_ = absl::StrCat("\"Chorus\" <", from_, ">");
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
    std::promise<absl::Status> started;
    std::future<absl::Status> result = started.get_future();
    stack_ = std::thread([this, &started] { StackThread(&started); });
    absl::Status status = result.get();
    if (!status.ok()) {
      stack_.join();
      return status;
    }
    for (int i = 0; i < kJoinWorkers; ++i) workers_.emplace_back([this] { Work(); });
    rooms_->WatchDepartures(
        [this](const std::string& participant) {
          Post([this, participant] { OnDeparture(participant); });
        },
        [this](const std::string& participant, v1::DialOutState state) {
          Post([this, participant, state] { OnDialOutProgress(participant, state); });
        },
        [this] { Post([this] { OnEventsLost(); }); });
    return absl::OkStatus();
  }

  int calls() const override { return active_.load(); }

  void Shutdown() override {
    if (!stack_.joinable()) return;
    rooms_->StopWatching();
    Post([this] { BeginShutdown(); });
    stack_.join();
    {
      std::lock_guard<std::mutex> lock(jobs_mutex_);
      stopping_ = true;
    }
    jobs_cv_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
  }

 private:
  // ----- The stack thread -----

  void StackThread(std::promise<absl::Status>* started) {
    su_init();
    root_ = su_root_create(this);
    if (root_ == nullptr) {
      started->set_value(absl::InternalError("the SIP stack could not start"));
      su_deinit();
      return;
    }
    su_wait_t wait;
    su_wait_create(&wait, wake_fd_, SU_WAIT_IN);
    su_root_register(root_, &wait, &Gateway::OnWake, this, 0);
    const url_string_t* url =
        options_.listen_url.empty() ? nullptr : URL_STRING_MAKE(options_.listen_url.c_str());
    const url_string_t* sips = options_.tls_listen_url.empty()
                                   ? nullptr
                                   : URL_STRING_MAKE(options_.tls_listen_url.c_str());
    nua_ = nua_create(
        root_, &Gateway::OnEvent, this, TAG_IF(url != nullptr, NUTAG_URL(url)),
        TAG_IF(url == nullptr, NUTAG_URL(URL_STRING_MAKE("sip:127.0.0.1:0;transport=tcp"))),
        TAG_IF(sips != nullptr, NUTAG_SIPS_URL(sips)),
        TAG_IF(!options_.tls_certificate_dir.empty(),
               NUTAG_CERTIFICATE_DIR(options_.tls_certificate_dir.c_str())),
        NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0),
        // Session timers (RFC 4028): a call whose refreshes stop ends (BYE) after 30 minutes.
        NUTAG_SESSION_TIMER(1800), NUTAG_MIN_SE(90), NUTAG_SESSION_REFRESHER(nua_any_refresher),
        NUTAG_ALLOW("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"), SIPTAG_USER_AGENT_STR("Chorus"),
        SIPTAG_SERVER_STR("Chorus"),
        TAG_IF(!options_.outbound_proxy.empty(),
               NUTAG_PROXY(URL_STRING_MAKE(options_.outbound_proxy.c_str()))),
        TAG_END());
    if (nua_ == nullptr) {
      started->set_value(absl::UnavailableError(
          "the SIP listeners could not be opened (address in use, or no TLS certificate)"));
      su_root_destroy(root_);
      su_deinit();
      return;
    }
    started->set_value(absl::OkStatus());
    // Once a second: calls placed that ring too long are cancelled.
    su_timer_t* timer = su_timer_create(su_root_task(root_), 1000);
    su_timer_set_for_ever(timer, &Gateway::OnTimer, static_cast<su_timer_arg_t*>(this));
    su_root_run(root_);
    su_timer_destroy(timer);
    nua_destroy(nua_);
    su_root_destroy(root_);
    su_deinit();
  }

  // Runs `task` on the stack thread.
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(posted_mutex_);
      posted_.push_back(std::move(task));
    }
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }

  static int OnWake(su_root_magic_t*, su_wait_t*, su_wakeup_arg_t* arg) {
    auto* self = static_cast<Gateway*>(arg);
    uint64_t count = 0;
    (void)!::read(self->wake_fd_, &count, sizeof(count));
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(self->posted_mutex_);
      tasks.swap(self->posted_);
    }
    for (auto& task : tasks) task();
    return 0;
  }

  static void OnTimer(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    auto* self = static_cast<Gateway*>(arg);
    const absl::Time now = absl::Now();
    for (auto& [handle, call] : self->calls_) {
      if (call->outgoing && !call->answered && !call->ended && !call->timed_out &&
          now >= call->ring_deadline) {
        call->timed_out = true;
        nua_cancel(handle, TAG_END());
      }
    }
  }

  void BeginShutdown() {
    shutting_down_ = true;
    for (auto& [handle, call] : calls_) {
      if (call->answered && !call->ended) nua_bye(handle, TAG_END());
      if (call->outgoing && !call->answered && !call->ended) {
        nua_cancel(handle, TAG_END());
        ReportDialOut(call->dial_out, v1::DIAL_OUT_STATE_FAILED);
      }
      EndCall(*call);
    }
    nua_shutdown(nua_);
  }

  static void OnEvent(nua_event_t event, int status, const char* /*phrase*/, nua_t* /*nua*/,
                      nua_magic_t* magic, nua_handle_t* handle, nua_hmagic_t* /*hmagic*/,
                      const sip_t* sip, tagi_t tags[]) {
    auto* self = static_cast<Gateway*>(magic);
    switch (event) {
      case nua_i_invite:
        self->OnInvite(handle, sip);
        break;
      case nua_r_invite:
        if (auto it = self->calls_.find(handle); it != self->calls_.end()) {
          self->OnInviteResponse(*it->second, status, sip);
        }
        break;
      case nua_i_info:  // answered 200 by the stack
        if (auto it = self->calls_.find(handle); it != self->calls_.end()) {
          self->OnInfo(*it->second, sip);
        }
        break;
      case nua_i_bye:
      case nua_i_cancel:
        if (auto it = self->calls_.find(handle); it != self->calls_.end()) {
          self->EndCall(*it->second);
        }
        break;
      case nua_i_state: {
        int state = nua_callstate_init;
        tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
        if (state == nua_callstate_terminated) self->Forget(handle);
        // The call is established (the answer acknowledged): its video starts.
        if (state == nua_callstate_ready) {
          if (auto it = self->calls_.find(handle);
              it != self->calls_.end() && !it->second->asked_keyframe) {
            it->second->asked_keyframe = true;
            self->AskForKeyframe(*it->second);
          }
        }
        break;
      }
      case nua_r_shutdown:
        if (status >= 200) su_root_break(self->root_);
        break;
      default:
        break;
    }
  }

  // The source of the request as its top Via says (received= when the stack set it).
  static std::string Source(const sip_t* sip) {
    if (sip == nullptr || sip->sip_via == nullptr) return {};
    const char* host =
        sip->sip_via->v_received != nullptr ? sip->sip_via->v_received : sip->sip_via->v_host;
    return host != nullptr ? std::string(host).substr(0, 64) : std::string();
  }

  bool RateLimited() {
    const absl::Time now = absl::Now();
    while (!recent_.empty() && now - recent_.front() > absl::Seconds(1)) recent_.pop_front();
    if (static_cast<int>(recent_.size()) >= options_.max_new_calls_per_second ||
        static_cast<int>(calls_.size()) >= options_.max_calls) {
      return true;
    }
    recent_.push_back(now);
    return false;
  }

  void OnInvite(nua_handle_t* handle, const sip_t* sip) {
    if (auto existing = calls_.find(handle); existing != calls_.end()) {
      ReInvite(*existing->second, sip);
      return;
    }
    if (shutting_down_ || RateLimited()) {
      busy_->Increment();
      nua_respond(handle, 503, "Service Unavailable", SIPTAG_RETRY_AFTER_STR("5"), TAG_END());
      return;  // its handle goes when the stack says the call is over
    }
    auto call = std::make_unique<Call>();
    call->handle = handle;
    call->id = ++next_call_;
    Call& held = *call;
    calls_.emplace(handle, std::move(call));
    if (!tls_contact_.empty() && sip != nullptr && sip->sip_via != nullptr &&
        sip->sip_via->v_protocol != nullptr &&
        absl::EqualsIgnoreCase(sip->sip_via->v_protocol, "SIP/2.0/TLS") &&
        sip->sip_request != nullptr && sip->sip_request->rq_url->url_type == url_sip) {
      held.tls_by_sip_uri = true;
    }
    const char* user = sip != nullptr && sip->sip_request != nullptr
                           ? sip->sip_request->rq_url->url_user
                           : nullptr;
    if (!trusted_.empty() && !trusted_.Contains(Source(sip))) {
      Refuse(held, 403, "Forbidden", "untrusted_peer");
      return;
    }
    absl::StatusOr<DialString> dialed = ParseDialString(user != nullptr ? user : "");
    if (!dialed.ok()) {
      Refuse(held, 404, "Not Found", "bad_dial_string");
      return;
    }
    std::string sdp;
    if (sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_data != nullptr) {
      sdp.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    }
    absl::StatusOr<CallerOffer> offer = ParseCallerOffer(sdp, options_.allow_plain_rtp);
    if (!offer.ok()) {
      if (offer.status().code() == absl::StatusCode::kFailedPrecondition) {
        Refuse(held, 488, "Not Acceptable Here", "media_not_acceptable");
      } else {
        Refuse(held, 400, "Bad Request", "bad_offer");
      }
      return;
    }
    v1::JoinRoomRequest request;
    request.set_dial_in_id(dialed->dial_in_id);
    *request.mutable_offer()->mutable_rtp() = offer->rtp;
    if (!dialed->pin.empty()) {
      request.set_pin(dialed->pin);
    } else {
      // No PIN dialed: the caller types it on its keypad, asked by the media node's spoken
      // prompt. Its keys come as RFC 4733 telephone events to the node, or as SIP INFO here.
      request.set_keypad(true);
      held.keypad = true;
      if (offer->telephone_event_pt >= 0) {
        v1::Codec* keys = request.mutable_offer()->mutable_rtp()->mutable_streams(0)->add_codecs();
        keys->set_name("telephone-event");
        keys->set_payload_type(static_cast<uint32_t>(offer->telephone_event_pt));
        keys->set_clock_rate(static_cast<uint32_t>(offer->telephone_event_rate));
      }
    }
    nua_respond(handle, 100, "Trying", TAG_END());
    nua_handle_ref(handle);  // held by the join until it answers
    request.set_client_address(Source(sip));
    Enqueue([this, handle, request = std::move(request), offer = *std::move(offer),
             id = held.id]() mutable {
      absl::StatusOr<v1::JoinRoomResponse> joined = rooms_->Join(request);
      Post([this, handle, offer = std::move(offer), joined = std::move(joined), id]() mutable {
        Answer(handle, id, offer, std::move(joined));
        nua_handle_unref(handle);
      });
    });
  }

  void Answer(nua_handle_t* handle, uint64_t id, const CallerOffer& offer,
              absl::StatusOr<v1::JoinRoomResponse> joined) {
    auto it = calls_.find(handle);
    Call* call = it != calls_.end() && it->second->id == id ? it->second.get() : nullptr;
    if (!joined.ok()) {
      if (call != nullptr) {
        switch (joined.status().code()) {
          case absl::StatusCode::kNotFound:
            Refuse(*call, 404, "Not Found", "no_such_room");
            break;
          case absl::StatusCode::kPermissionDenied:
          case absl::StatusCode::kResourceExhausted:
          case absl::StatusCode::kFailedPrecondition:
            Refuse(*call, 403, "Forbidden", "join_refused");
            break;
          default:
            Refuse(*call, 503, "Service Unavailable", "controller_unavailable");
            break;
        }
      }
      return;
    }
    if (call == nullptr || call->ended || shutting_down_) {
      // The caller hung up while the join was on its way: the participant leaves at once.
      const std::string participant = joined->participant().name();
      Enqueue([this, participant] { (void)rooms_->Leave(participant); });
      return;
    }
    call->participant = joined->participant().name();
    call->offer = offer;
    call->answer = joined->answer().rtp();
    for (const v1::StreamAnswer& stream : call->answer.streams()) {
      call->has_video |= stream.kind() == v1::MEDIA_KIND_VIDEO;
    }
    const std::string answer = AnswerSdp(call->answer, offer, call->id);
    nua_respond(handle, 200, "OK", SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                SIPTAG_PAYLOAD_STR(answer.c_str()),
                TAG_IF(call->tls_by_sip_uri, SIPTAG_CONTACT_STR(tls_contact_.c_str())), TAG_END());
    call->answered = true;
    active_.fetch_add(1);
    answered_->Increment();
    calls_gauge_->Increment();
    base::Log(base::LogLevel::kInfo, "sip_call_answered", {{"call", static_cast<int64_t>(id)}});
  }

  // A new offer in an answered call: a session refresh (RFC 4028) or hold and resume (sendonly,
  // inactive, sendrecv) with the same media gets the same answer, its direction mirrored; new
  // media (another address, port or key: an SBC re-anchoring) is not taken yet (488, and the call
  // goes on as it was). A content stream the room system starts sending is taken (it presents:
  // UpdateMedia, then SetContentSharing), and one it stops (port 0, no longer sent, left out)
  // ends its presentation; the answer waits for the controller.
  void ReInvite(Call& call, const sip_t* sip) {
    if (!call.answered || call.ended || call.updating) {
      nua_respond(call.handle, 491, "Request Pending", TAG_END());
      return;
    }
    std::string sdp;
    if (sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_data != nullptr) {
      sdp.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    }
    CallerOffer offer = call.offer;  // an INVITE without an offer keeps the call as it is
    if (!sdp.empty()) {
      absl::StatusOr<CallerOffer> parsed = ParseCallerOffer(sdp, options_.allow_plain_rtp);
      if (!parsed.ok() || !SameMedia(call.offer.rtp, parsed->rtp)) {
        nua_respond(call.handle, 488, "Not Acceptable Here", TAG_END());
        base::Log(base::LogLevel::kInfo, "sip_reinvite_refused",
                  {{"call", static_cast<int64_t>(call.id)}});
        return;
      }
      offer = *std::move(parsed);
      const bool presents = offer.content.kind() == v1::MEDIA_KIND_CONTENT;
      if (presents && call.presenting && !SameStream(call.offer.content, offer.content)) {
        nua_respond(call.handle, 488, "Not Acceptable Here", TAG_END());
        base::Log(base::LogLevel::kInfo, "sip_reinvite_refused",
                  {{"call", static_cast<int64_t>(call.id)}});
        return;
      }
      if (presents != call.presenting) {
        UpdateContent(call, std::move(offer));
        return;
      }
      if (presents) TakeContent(offer);
    }
    const std::string answer = AnswerSdp(call.answer, offer, call.id, ++call.sdp_version);
    nua_respond(call.handle, 200, "OK", SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                SIPTAG_PAYLOAD_STR(answer.c_str()),
                TAG_IF(call.tls_by_sip_uri, SIPTAG_CONTACT_STR(tls_contact_.c_str())), TAG_END());
    base::Log(base::LogLevel::kInfo, "sip_reinvite_answered",
              {{"call", static_cast<int64_t>(call.id)}, {"on_hold", (offer.mode & 2) == 0}});
  }

  // The room system starts presenting (`offer` has its content stream) or stops: the controller
  // gets its streams as they are now (UpdateMedia), then shows the content large or not
  // (SetContentSharing; refused while another participant presents: the stream is taken, not
  // shown); the re-INVITE is answered once it has answered (488 when it refused the streams).
  void UpdateContent(Call& call, CallerOffer offer) {
    call.updating = true;
    const bool presents = offer.content.kind() == v1::MEDIA_KIND_CONTENT;
    v1::RtpOffer streams = offer.rtp;
    if (presents) *streams.add_streams() = offer.content;
    nua_handle_t* handle = call.handle;
    nua_handle_ref(handle);  // held until the answer
    Enqueue([this, handle, id = call.id, participant = call.participant, presents,
             streams = std::move(streams), offer = std::move(offer)]() mutable {
      absl::StatusOr<v1::RtpAnswer> answer = rooms_->UpdateMedia(participant, streams);
      absl::Status shown = absl::OkStatus();
      if (answer.ok() && presents) shown = rooms_->SetContentSharing(participant, true);
      Post([this, handle, id, presents, offer = std::move(offer), answer = std::move(answer),
            shown]() mutable {
        ContentUpdated(handle, id, presents, std::move(offer), answer, shown);
        nua_handle_unref(handle);
      });
    });
  }

  // The answer takes the room system's content line (received only).
  static void TakeContent(CallerOffer& offer) {
    offer.lines[static_cast<size_t>(offer.content_line)].taken = v1::MEDIA_KIND_CONTENT;
  }

  void ContentUpdated(nua_handle_t* handle, uint64_t id, bool presents, CallerOffer offer,
                      const absl::StatusOr<v1::RtpAnswer>& answer, const absl::Status& shown) {
    auto it = calls_.find(handle);
    if (it == calls_.end() || it->second->id != id) return;
    Call& call = *it->second;
    call.updating = false;
    if (call.ended) return;
    if (!answer.ok()) {
      nua_respond(handle, 488, "Not Acceptable Here", TAG_END());
      base::Log(base::LogLevel::kInfo, "sip_content_refused",
                {{"call", static_cast<int64_t>(call.id)},
                 {"code", absl::StatusCodeToString(answer.status().code())}});
      return;
    }
    if (presents) TakeContent(offer);
    call.offer = std::move(offer);
    call.answer = *answer;
    call.presenting = presents;
    const std::string sdp = AnswerSdp(call.answer, call.offer, call.id, ++call.sdp_version);
    nua_respond(handle, 200, "OK", SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                SIPTAG_PAYLOAD_STR(sdp.c_str()),
                TAG_IF(call.tls_by_sip_uri, SIPTAG_CONTACT_STR(tls_contact_.c_str())), TAG_END());
    base::Log(base::LogLevel::kInfo, presents ? "sip_content_started" : "sip_content_stopped",
              {{"call", static_cast<int64_t>(call.id)}, {"shown", presents && shown.ok()}});
  }

  // ----- Calls Chorus places (DialOut) -----

  // A dial-out's progress, from the room's events: CALLING, one to place (every SIP role tries
  // to take it; one gets it); its end before it was answered (removed, the room closed, failed
  // at the controller): its call is cancelled.
  void OnDialOutProgress(const std::string& participant, v1::DialOutState state) {
    if (state == v1::DIAL_OUT_STATE_CALLING) {
      if (shutting_down_ || static_cast<int>(calls_.size()) >= options_.max_calls) return;
      Enqueue([this, participant] {
        absl::StatusOr<v1::ClaimDialOutResponse> claim =
            rooms_->ClaimDialOut(participant, v1::TRANSPORT_SRTP);
        if (!claim.ok()) return;  // another SIP role took it, or it ended
        Post([this, participant, claim = *std::move(claim)] { PlaceCall(participant, claim); });
      });
      return;
    }
    if (state == v1::DIAL_OUT_STATE_RINGING || state == v1::DIAL_OUT_STATE_ANSWERED) return;
    for (auto& [handle, call] : calls_) {
      if (!call->outgoing || call->dial_out != participant || call->answered || call->ended) {
        continue;
      }
      call->ended = true;  // its final response is not reported: the room already knows
      nua_cancel(handle, TAG_END());
      base::Log(base::LogLevel::kInfo, "sip_dial_out_cancelled",
                {{"call", static_cast<int64_t>(call->id)}});
    }
  }

  void PlaceCall(const std::string& participant, const v1::ClaimDialOutResponse& claim) {
    nua_handle_t* handle = nullptr;
    if (!shutting_down_) {
      const std::string to = absl::StrCat("<", claim.sip_uri(), ">");
      handle = nua_handle(nua_, nullptr, NUTAG_URL(URL_STRING_MAKE(claim.sip_uri().c_str())),
                          SIPTAG_TO_STR(to.c_str()), SIPTAG_FROM_STR(from_.c_str()), TAG_END());
    }
    if (handle == nullptr) {
      base::Log(base::LogLevel::kWarning, "sip_dial_out_not_placed", {});
      ReportDialOut(participant, v1::DIAL_OUT_STATE_FAILED);
      return;
    }
    auto call = std::make_unique<Call>();
    call->handle = handle;
    call->id = ++next_call_;
    call->outgoing = true;
    call->dial_out = participant;
    call->ring_deadline = absl::Now() + absl::Seconds(options_.ring_timeout_seconds);
    call->answer.set_transport(claim.transport());
    *call->answer.add_streams() = claim.audio();
    const std::string sdp = OfferSdp(claim, call->id);
    base::Log(base::LogLevel::kInfo, "sip_dial_out_placed",
              {{"call", static_cast<int64_t>(call->id)}});
    calls_.emplace(handle, std::move(call));
    nua_invite(handle, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp.c_str()),
               TAG_END());
  }

  // A response to the INVITE of a call Chorus placed.
  void OnInviteResponse(Call& call, int status, const sip_t* sip) {
    if (!call.outgoing || status < 180) return;
    if (call.ended) {
      // Answered after all, though cancelled meanwhile: hung up at once.
      if (status >= 200 && status < 300 && !call.answered) nua_bye(call.handle, TAG_END());
      return;
    }
    if (status < 200) {
      if (!call.ringing) {
        call.ringing = true;
        ReportDialOut(call.dial_out, v1::DIAL_OUT_STATE_RINGING);
      }
      return;
    }
    if ((status == 401 || status == 407) && !call.authenticated && !call.timed_out &&
        Authenticate(call,
                     status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate)) {
      return;  // the INVITE goes again with the credentials
    }
    if (status >= 300) {
      call.ended = true;
      const v1::DialOutState state = DialOutFailure(status, call.timed_out);
      base::Log(base::LogLevel::kInfo, "sip_dial_out_ended",
                {{"call", static_cast<int64_t>(call.id)},
                 {"status", status},
                 {"state", v1::DialOutState_Name(state)}});
      ReportDialOut(call.dial_out, state);
      return;
    }
    if (call.answered) return;  // a 200 retransmitted
    std::string sdp;
    if (sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_data != nullptr) {
      sdp.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    }
    absl::StatusOr<CallerOffer> answer = ParseCallerOffer(sdp, options_.allow_plain_rtp);
    call.answered = true;
    active_.fetch_add(1);
    calls_gauge_->Increment();
    if (!answer.ok()) {
      base::Log(base::LogLevel::kWarning, "sip_dial_out_answer_unusable",
                {{"call", static_cast<int64_t>(call.id)}});
      nua_bye(call.handle, TAG_END());
      EndCall(call);
      ReportDialOut(call.dial_out, v1::DIAL_OUT_STATE_FAILED);
      return;
    }
    call.offer = *answer;
    *call.answer.mutable_streams(0)->mutable_codec() = answer->rtp.streams(0).codecs(0);
    base::Log(base::LogLevel::kInfo, "sip_dial_out_answered",
              {{"call", static_cast<int64_t>(call.id)}});
    nua_handle_ref(call.handle);  // held until the controller has the answer
    Enqueue([this, handle = call.handle, id = call.id, participant = call.dial_out,
             rtp = answer->rtp] {
      absl::Status joined = rooms_->ReportDialOut(participant, v1::DIAL_OUT_STATE_ANSWERED, rtp);
      Post([this, handle, id, participant, joined] {
        auto it = calls_.find(handle);
        Call* call = it != calls_.end() && it->second->id == id ? it->second.get() : nullptr;
        if (joined.ok()) Count(v1::DIAL_OUT_STATE_ANSWERED);
        if (call == nullptr || call->ended) {
          // The callee hung up while the answer was on its way: it leaves at once.
          if (joined.ok()) Enqueue([this, participant] { (void)rooms_->Leave(participant); });
        } else if (joined.ok()) {
          call->participant = participant;
        } else {
          nua_bye(handle, TAG_END());
          EndCall(*call);
        }
        nua_handle_unref(handle);
      });
    });
  }

  // The trunk asks for digest authentication (RFC 3261 22.2, 22.3): answered once with the
  // configured user and password under the challenge's realm. False when there is nothing to
  // answer with.
  bool Authenticate(Call& call, const msg_auth_t* challenge) {
    if (options_.trunk_user.empty() || challenge == nullptr || challenge->au_scheme == nullptr ||
        !absl::EqualsIgnoreCase(challenge->au_scheme, "Digest")) {
      return false;
    }
    const char* realm = msg_params_find(challenge->au_params, "realm=");
    if (realm == nullptr || std::string_view(realm).size() > 256) return false;
    const std::string credentials =
        absl::StrCat("Digest:", realm, ":", options_.trunk_user, ":", options_.trunk_password);
    call.authenticated = true;
    nua_authenticate(call.handle, NUTAG_AUTH(credentials.c_str()), TAG_END());
    base::Log(base::LogLevel::kInfo, "sip_dial_out_authenticating",
              {{"call", static_cast<int64_t>(call.id)}});
    return true;
  }

  // Tells the controller how a call placed goes (its end is counted here).
  void ReportDialOut(const std::string& participant, v1::DialOutState state) {
    if (state != v1::DIAL_OUT_STATE_RINGING) Count(state);
    Enqueue([this, participant, state] {
      (void)rooms_->ReportDialOut(participant, state, v1::RtpOffer());
    });
  }

  void Count(v1::DialOutState state) {
    if (auto it = dial_out_results_.find(state); it != dial_out_results_.end()) {
      it->second->Increment();
    }
  }

  // The room's events since some moment are lost (the controller restarted with a store that
  // keeps none, or lost the resume point): each call's participant is looked for again, and a
  // call whose participant is gone ends with BYE. A caller still typing its PIN is not in the
  // room yet either: it is hung up on too (it may call again), since such a restart does not keep
  // what it typed into.
  void OnEventsLost() {
    for (auto& [handle, call] : calls_) {
      if (call->ended || !call->answered || call->participant.empty()) continue;
      Enqueue([this, participant = call->participant] {
        if (!rooms_->InRoom(participant)) Post([this, participant] { OnDeparture(participant); });
      });
    }
    base::Log(base::LogLevel::kInfo, "sip_room_events_lost",
              {{"calls", static_cast<int64_t>(calls_.size())}});
  }

  // Whether `now` keeps every stream of `before` (the audio, and the camera when the call has
  // one) where it was: the same address, port and key. Streams it adds are declined.
  static bool SameMedia(const v1::RtpOffer& before, const v1::RtpOffer& now) {
    for (const v1::StreamOffer& stream : before.streams()) {
      const auto same = [&stream](const v1::StreamOffer& other) {
        return SameStream(stream, other);
      };
      if (std::none_of(now.streams().begin(), now.streams().end(), same)) return false;
    }
    return true;
  }
  static bool SameStream(const v1::StreamOffer& a, const v1::StreamOffer& b) {
    return a.kind() == b.kind() && a.address() == b.address() && a.port() == b.port() &&
           a.key().SerializeAsString() == b.key().SerializeAsString();
  }

  // The participant of a call left the room without its caller hanging up (a host removed it,
  // the room ended, its media node failed): the call ends with BYE.
  void OnDeparture(const std::string& participant) {
    for (auto& [handle, call] : calls_) {
      if (call->participant != participant || call->ended) continue;
      call->participant.clear();  // already gone: nothing to leave
      if (call->answered) nua_bye(handle, TAG_END());
      EndCall(*call);
      base::Log(base::LogLevel::kInfo, "sip_call_ended_by_room",
                {{"call", static_cast<int64_t>(call->id)}});
    }
  }

  // RFC 5168: "give me a keyframe" as XML in SIP INFO, both ways.
  static constexpr char kMediaControl[] = "application/media_control+xml";
  static constexpr char kPictureFastUpdate[] =
      "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\r\n"
      "<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder>"
      "</vc_primitive></media_control>\r\n";

  // A call's video starts (its answer sent, or received): Chorus asks the room system for a
  // keyframe by SIP INFO too, for systems that do not act on RTCP keyframe requests.
  void AskForKeyframe(Call& call) {
    if (!call.has_video || call.ended) return;
    nua_info(call.handle, SIPTAG_CONTENT_TYPE_STR(kMediaControl),
             SIPTAG_PAYLOAD_STR(kPictureFastUpdate), TAG_END());
  }

  // A key pressed by a caller typing its PIN, sent as SIP INFO (RFC 2976): application/dtmf-relay
  // ("Signal=5") or application/dtmf ("5"). Kept until '#' ('*' starts over), then the PIN goes to
  // the controller, which checks it as if typed as RFC 4733 key presses. Never logged.
  void OnInfo(Call& call, const sip_t* sip) {
    if (call.ended || call.participant.empty() || sip == nullptr ||
        sip->sip_content_type == nullptr || sip->sip_content_type->c_type == nullptr ||
        sip->sip_payload == nullptr || sip->sip_payload->pl_data == nullptr) {
      return;
    }
    const std::string type = absl::AsciiStrToLower(sip->sip_content_type->c_type);
    // A room system lost the picture Chorus sends it (RFC 5168): a keyframe of its view.
    if (type == kMediaControl) {
      if (call.has_video &&
          absl::StrContains(absl::string_view(sip->sip_payload->pl_data,
                                              std::min<size_t>(sip->sip_payload->pl_len, 4096)),
                            "picture_fast_update")) {
        Enqueue(
            [this, participant = call.participant] { (void)rooms_->RequestKeyframe(participant); });
      }
      return;
    }
    if (!call.keypad) return;
    std::string body = absl::AsciiStrToLower(
        std::string(sip->sip_payload->pl_data, std::min<size_t>(sip->sip_payload->pl_len, 256)));
    size_t at = 0;
    if (type == "application/dtmf-relay") {
      at = body.find("signal=");
      if (at == std::string::npos) return;
      at += 7;
    } else if (type != "application/dtmf") {
      return;
    }
    while (at < body.size() && body[at] == ' ') ++at;
    if (at >= body.size()) return;
    if (std::optional<std::string> pin = call.keys.Press(body[at])) {
      Enqueue([this, participant = call.participant, pin = *std::move(pin)] {
        (void)rooms_->SubmitKeypadPin(participant, pin);
      });
    }
  }

  // Answers the INVITE with a refusal; `why` for the log (never the caller's URI or number).
  void Refuse(Call& call, int status, const char* phrase, const char* why) {
    nua_respond(call.handle, status, phrase, TAG_END());
    call.ended = true;
    (status == 503 ? busy_ : refused_)->Increment();
    base::Log(base::LogLevel::kInfo, "sip_call_refused",
              {{"call", static_cast<int64_t>(call.id)}, {"status", status}, {"why", why}});
  }

  // The call is over: its participant leaves (once).
  void EndCall(Call& call) {
    if (call.ended) return;
    call.ended = true;
    if (call.answered) {
      active_.fetch_sub(1);
      calls_gauge_->Decrement();
    }
    if (!call.participant.empty()) {
      Enqueue([this, participant = call.participant] { (void)rooms_->Leave(participant); });
      base::Log(base::LogLevel::kInfo, "sip_call_ended", {{"call", static_cast<int64_t>(call.id)}});
    }
  }

  void Forget(nua_handle_t* handle) {
    auto it = calls_.find(handle);
    if (it != calls_.end()) {
      EndCall(*it->second);
      calls_.erase(it);
    }
    nua_handle_destroy(handle);
  }

  // ----- Join workers (calls to the controller block; the stack thread never waits) -----

  void Enqueue(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex_);
      jobs_.push_back(std::move(job));
    }
    jobs_cv_.notify_one();
  }

  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(jobs_mutex_);
        jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, with nothing left to do
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  GatewayOptions options_;
  const PeerList trusted_;
  prometheus::Counter* answered_ = nullptr;  // owned by the registry
  prometheus::Counter* refused_ = nullptr;
  prometheus::Counter* busy_ = nullptr;
  prometheus::Gauge* calls_gauge_ = nullptr;
  std::map<v1::DialOutState, prometheus::Counter*> dial_out_results_;
  Rooms* const rooms_;
  int wake_fd_ = -1;
  std::thread stack_;
  // The stack thread's own.
  su_root_t* root_ = nullptr;
  nua_t* nua_ = nullptr;
  std::map<nua_handle_t*, std::unique_ptr<Call>> calls_;
  std::deque<absl::Time> recent_;
  uint64_t next_call_ = 0;
  std::string tls_contact_;
  std::string from_;  // the From header of calls placed
  bool shutting_down_ = false;
  // Shared.
  std::atomic<int> active_{0};
  std::mutex posted_mutex_;
  std::deque<std::function<void()>> posted_;
  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

absl::StatusOr<PeerList> PeerList::Parse(const std::vector<std::string>& networks) {
  PeerList list;
  for (size_t i = 0; i < networks.size(); ++i) {
    const std::string& entry = networks[i];
    const size_t slash = entry.find('/');
    const std::string address = entry.substr(0, slash);
    Network network;
    if (inet_pton(AF_INET, address.c_str(), network.bytes) == 1) {
      network.family = AF_INET;
      network.prefix = 32;
    } else if (inet_pton(AF_INET6, address.c_str(), network.bytes) == 1) {
      network.family = AF_INET6;
      network.prefix = 128;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted peer ", i + 1, ": not an IP address or network"));
    }
    if (slash != std::string::npos) {
      int prefix = -1;
      const std::string bits = entry.substr(slash + 1);
      if (!Digits(bits) || bits.size() > 3 || (prefix = std::stoi(bits)) > network.prefix) {
        return absl::InvalidArgumentError(
            absl::StrCat("trusted peer ", i + 1, ": the prefix length is out of range"));
      }
      network.prefix = prefix;
    }
    list.networks_.push_back(network);
  }
  return list;
}

bool PeerList::Contains(const std::string& address) const {
  unsigned char bytes[16] = {};
  int family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), bytes) != 1) {
    family = AF_INET6;
    if (inet_pton(AF_INET6, address.c_str(), bytes) != 1) return false;
  }
  for (const Network& network : networks_) {
    if (network.family != family) continue;
    int bits = network.prefix;
    bool match = true;
    for (int i = 0; bits > 0 && match; ++i, bits -= 8) {
      const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
      match = (bytes[i] & mask) == (network.bytes[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

absl::StatusOr<DialString> ParseDialString(const std::string& user) {
  std::vector<std::string> parts = absl::StrSplit(user, '*');
  if (parts.size() > 2 || !Digits(parts[0]) || parts[0].size() > 16) {
    return absl::InvalidArgumentError("a dial-in id is digits");
  }
  DialString dialed;
  dialed.dial_in_id = parts[0];
  if (parts.size() == 2) {
    if (!Digits(parts[1]) || parts[1].size() < 4 || parts[1].size() > 12) {
      return absl::InvalidArgumentError("a PIN is 4 to 12 digits");
    }
    dialed.pin = parts[1];
  }
  return dialed;
}

absl::StatusOr<std::unique_ptr<SipGateway>> SipGateway::Start(const GatewayOptions& options,
                                                              Rooms* rooms) {
  if (options.listen_url.empty() && options.tls_listen_url.empty()) {
    return absl::InvalidArgumentError(
        "the SIP role needs a listener (--sip_listen or --sips_listen)");
  }
  absl::StatusOr<PeerList> trusted = PeerList::Parse(options.trusted_peers);
  if (!trusted.ok()) return trusted.status();
  auto gateway = std::make_unique<Gateway>(options, *std::move(trusted), rooms);
  if (absl::Status status = gateway->Run(); !status.ok()) return status;
  return gateway;
}

}  // namespace chorus::sip
