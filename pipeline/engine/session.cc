#include "pipeline/engine/session.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "pipeline/engine/endpoint_common.h"

namespace chorus::engine {
using detail::MonotonicUs;

absl::StatusOr<std::unique_ptr<Session>> Session::Create(const SessionConfig& config,
                                                         MediaWorker* worker, EngineStats* stats,
                                                         int max_endpoints, bool filter_silence) {
  audio::MixerConfig mixer_config;
  mixer_config.max_participants = static_cast<size_t>(max_endpoints);
  mixer_config.bus_count = 1 + static_cast<int>(config.languages.size());
  mixer_config.max_speakers = config.max_speakers;
  auto mixer = audio::AudioMixer::Create(mixer_config);
  if (!mixer.ok()) return mixer.status();
  std::unique_ptr<Session> session(
      new Session(config, worker, stats, max_endpoints, *std::move(mixer)));
  session->filter_silence_ = filter_silence;
  worker->AddTickListener(session.get());
  return session;
}

Session::Session(const SessionConfig& config, MediaWorker* worker, EngineStats* stats,
                 int max_endpoints, std::unique_ptr<audio::AudioMixer> mixer)
    : config_(config),
      worker_(worker),
      stats_(stats),
      max_endpoints_(max_endpoints),
      mixer_(std::move(mixer)) {
  endpoints_.reserve(static_cast<size_t>(max_endpoints));
  by_slot_.assign(static_cast<size_t>(max_endpoints), nullptr);
  endpoint_encoders_.reserve(static_cast<size_t>(max_endpoints));
}

Session::~Session() {
  for (auto& endpoint : endpoints_) worker_->loop().Remove(endpoint->fd(), endpoint.get());
  worker_->RemoveTickListener(this);
}

audio::ParticipantConfig Session::MixerConfig(const Routing& routing) {
  audio::ParticipantConfig config;
  config.speak_bus = routing.speak_bus;
  config.listen_bus = routing.listen_bus;
  config.floor_gain = routing.floor_gain;
  config.input_gain = routing.input_gain;
  config.muted = routing.muted;
  config.admitted = routing.admitted;
  return config;
}

AudioEndpoint* Session::Find(const std::string& id) {
  for (auto& endpoint : endpoints_) {
    if (endpoint->id() == id) return endpoint.get();
  }
  return nullptr;
}

int Session::EncoderLossPercent(const std::string& id) {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    AudioEndpoint& endpoint = *endpoints_[i];
    if (endpoint.id() != id) continue;
    switch (mixer_->output_kind(endpoint.mixer_slot)) {
      case audio::AudioMixer::OutputKind::kPersonal:
        return endpoint.personal_encoder_loss_percent();
      case audio::AudioMixer::OutputKind::kShared:
        return endpoint_encoders_[i] != nullptr
                   ? endpoint_encoders_[i]->encoder->packet_loss_percent()
                   : -1;
      case audio::AudioMixer::OutputKind::kNone:
        return -1;
    }
  }
  return -1;
}

Session::SharedEncoder* Session::SharedEncoderFor(int mixer_key, const CodecChoice& codec) {
  for (auto& shared : shared_encoders_) {
    if (shared->mixer_key == mixer_key && shared->codec == codec.codec &&
        shared->bitrate_bps == codec.bitrate_bps) {
      return shared.get();
    }
  }
  return nullptr;
}

absl::Status Session::AttachSharedEncoder(AudioEndpoint* endpoint) {
  const int key = mixer_->shared_output(endpoint->mixer_slot);
  const CodecChoice& codec = endpoint->config().codec;
  SharedEncoder* shared = SharedEncoderFor(key, codec);
  if (shared == nullptr) {
    codec::AudioEncoderConfig encoder_config;
    encoder_config.codec = codec.codec;
    if (codec.bitrate_bps > 0) encoder_config.bitrate_bps = codec.bitrate_bps;
    auto encoder = codec::AudioEncoder::Create(encoder_config);
    if (!encoder.ok()) return encoder.status();
    auto created = std::make_unique<SharedEncoder>();
    created->mixer_key = key;
    created->codec = codec.codec;
    created->bitrate_bps = codec.bitrate_bps;
    created->encoder = *std::move(encoder);
    shared = created.get();
    shared_encoders_.push_back(std::move(created));
  }
  ++shared->users;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i].get() == endpoint) endpoint_encoders_[i] = shared;
  }
  return absl::OkStatus();
}

void Session::DetachSharedEncoder(AudioEndpoint* endpoint) {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i].get() != endpoint || endpoint_encoders_[i] == nullptr) continue;
    SharedEncoder* shared = endpoint_encoders_[i];
    endpoint_encoders_[i] = nullptr;
    if (--shared->users == 0) {
      shared_encoders_.erase(
          std::find_if(shared_encoders_.begin(), shared_encoders_.end(),
                       [shared](const auto& candidate) { return candidate.get() == shared; }));
    }
  }
}

absl::StatusOr<EndpointAnswer> Session::AddEndpoint(const EndpointConfig& config,
                                                    std::unique_ptr<net::DatagramIo> socket) {
  if (Find(config.id) != nullptr) {
    return absl::AlreadyExistsError("endpoint '" + config.id + "' exists in this session");
  }
  if (endpoint_count() >= max_endpoints_) {
    return absl::ResourceExhaustedError("the session is full");
  }
  const int buses = 1 + static_cast<int>(config_.languages.size());
  if (config.routing.speak_bus < 0 || config.routing.speak_bus >= buses ||
      config.routing.listen_bus < 0 || config.routing.listen_bus >= buses) {
    return absl::InvalidArgumentError("routing names a bus the session does not have");
  }
  auto endpoint = AudioEndpoint::Create(config, std::move(socket), stats_);
  if (!endpoint.ok()) return endpoint.status();
  AudioEndpoint* raw = endpoint->get();
  raw->mixer_slot = mixer_->Add(MixerConfig(config.routing));
  if (raw->mixer_slot < 0) return absl::ResourceExhaustedError("the session's mixer is full");
  endpoints_.push_back(*std::move(endpoint));
  endpoint_encoders_.push_back(nullptr);
  if (static_cast<size_t>(raw->mixer_slot) < by_slot_.size()) by_slot_[raw->mixer_slot] = raw;
  absl::Status attached = AttachSharedEncoder(raw);
  if (!attached.ok() || !worker_->loop().Add(raw->fd(), raw)) {
    by_slot_[raw->mixer_slot] = nullptr;
    mixer_->Remove(raw->mixer_slot);
    DetachSharedEncoder(raw);
    endpoints_.pop_back();
    endpoint_encoders_.pop_back();
    return attached.ok() ? absl::InternalError("cannot watch the endpoint's socket") : attached;
  }
  FilterSilence(raw);
  return raw->answer();
}

void Session::FilterSilence(AudioEndpoint* added) {
  const bool on = filter_silence_ && endpoints_.size() >= kSilenceFilteredFrom;
  if (on == silence_filtered_) {
    if (added != nullptr) added->FilterSilence(on);
    return;
  }
  silence_filtered_ = on;
  for (auto& endpoint : endpoints_) endpoint->FilterSilence(on);
}

absl::Status Session::UpdateRouting(const std::string& endpoint_id, const Routing& routing) {
  AudioEndpoint* endpoint = Find(endpoint_id);
  if (endpoint == nullptr) return absl::NotFoundError("no endpoint '" + endpoint_id + "'");
  const int buses = 1 + static_cast<int>(config_.languages.size());
  if (routing.speak_bus < 0 || routing.speak_bus >= buses || routing.listen_bus < 0 ||
      routing.listen_bus >= buses) {
    return absl::InvalidArgumentError("routing names a bus the session does not have");
  }
  DetachSharedEncoder(endpoint);
  mixer_->Update(endpoint->mixer_slot, MixerConfig(routing));
  endpoint->routing() = routing;
  endpoint->RoutingChanged();
  return AttachSharedEncoder(endpoint);
}

absl::Status Session::RemoveEndpoint(const std::string& endpoint_id) {
  AudioEndpoint* endpoint = Find(endpoint_id);
  if (endpoint == nullptr) return absl::NotFoundError("no endpoint '" + endpoint_id + "'");
  worker_->loop().Remove(endpoint->fd(), endpoint);
  if (static_cast<size_t>(endpoint->mixer_slot) < by_slot_.size()) {
    by_slot_[endpoint->mixer_slot] = nullptr;
  }
  mixer_->Remove(endpoint->mixer_slot);
  DetachSharedEncoder(endpoint);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i].get() == endpoint) {
      endpoints_.erase(endpoints_.begin() + static_cast<std::ptrdiff_t>(i));
      endpoint_encoders_.erase(endpoint_encoders_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  FilterSilence(nullptr);
  return absl::OkStatus();
}

SessionStatsSnapshot Session::Stats() const {
  SessionStatsSnapshot snapshot;
  for (const auto& endpoint : endpoints_) {
    EndpointStatsSnapshot stats = endpoint->Stats();
    stats.speaking = mixer_->is_speaker(endpoint->mixer_slot);
    snapshot.endpoints.push_back(std::move(stats));
  }
  snapshot.audio_encoders = static_cast<int>(shared_encoders_.size());
  for (const auto& endpoint : endpoints_) {
    if (mixer_->output_kind(endpoint->mixer_slot) == audio::AudioMixer::OutputKind::kPersonal) {
      ++snapshot.audio_encoders;
    }
  }
  const int buses = 1 + static_cast<int>(config_.languages.size());
  snapshot.speakers.resize(static_cast<size_t>(buses));
  for (int bus = 0; bus < buses; ++bus) {
    for (uint32_t slot : mixer_->selector(bus).speakers()) {
      for (const auto& endpoint : endpoints_) {
        if (endpoint->mixer_slot == static_cast<int>(slot)) {
          snapshot.speakers[static_cast<size_t>(bus)].push_back(endpoint->id());
        }
      }
    }
  }
  return snapshot;
}

void Session::PassContributors(AudioEndpoint& endpoint) {
  const int index = mixer_->output_index(endpoint.mixer_slot);
  if (index < 0) {
    endpoint.SetContributors({}, {});
    return;
  }
  OutputContributors scratch;
  OutputContributors& entry =
      static_cast<size_t>(index) < contributors_.size() ? contributors_[index] : scratch;
  if (entry.tick != tick_count_) {
    entry.tick = tick_count_;
    entry.count = 0;
    for (const audio::Contributor& contributor : mixer_->outputs()[index].contributors) {
      if (entry.count == entry.csrcs.size()) break;
      const int slot = mixer_->SlotOf(contributor.id);
      if (slot < 0 || static_cast<size_t>(slot) >= by_slot_.size()) continue;
      const AudioEndpoint* source = by_slot_[static_cast<size_t>(slot)];
      if (source == nullptr || source->remote_ssrc() == 0) continue;
      entry.csrcs[entry.count] = source->remote_ssrc();
      entry.levels[entry.count] = contributor.level_dbov;
      ++entry.count;
    }
  }
  endpoint.SetContributors(std::span<const uint32_t>(entry.csrcs.data(), entry.count),
                           std::span<const uint8_t>(entry.levels.data(), entry.count));
}

const AudioEndpoint* Session::SoleVoice(const AudioEndpoint& listener, bool* skip) const {
  *skip = false;
  const int index = mixer_->output_index(listener.mixer_slot);
  if (index < 0) return nullptr;
  const audio::MixOutput& output = mixer_->outputs()[static_cast<size_t>(index)];
  const AudioEndpoint* voice = nullptr;
  if (output.sole_unity_voice) {
    const int slot = mixer_->SlotOf(output.contributors[0].id);
    if (slot < 0 || static_cast<size_t>(slot) >= by_slot_.size()) return nullptr;
    voice = by_slot_[static_cast<size_t>(slot)];
  } else if (output.contributors.empty() && endpoints_.size() == 2) {
    // A two-party room where the other is not heard this tick (a pause, silence frames): its
    // packets still go as they came, so the listener's stream stays the other's throughout
    // (unless it is muted, waiting or heard at another gain: then the mix, silence).
    const AudioEndpoint* other =
        endpoints_[0].get() == &listener ? endpoints_[1].get() : endpoints_[0].get();
    if (mixer_->HearsAtUnity(listener.mixer_slot, other->mixer_slot)) voice = other;
  }
  if (voice == nullptr || voice == &listener) return nullptr;
  if (voice->forwardable().empty()) {
    // Its packet is late or lost (the frame was concealed here): a listener being forwarded
    // conceals it itself, as it would any loss, rather than be switched to an encoded stream
    // for one frame.
    *skip = listener.forwarded_last();
    return nullptr;
  }
  // Into forwarding only where the receiver's decoder goes on without a heard reset (after a
  // quiet packet: a pause in the talk, when the Opus modes differ).
  return listener.TakesForwarded(voice->forwardable()) ? voice : nullptr;
}

bool Session::OnlyForwarded(const AudioEndpoint& voice) const {
  if (endpoints_.size() != 2) return false;
  const AudioEndpoint& listener = endpoints_[0].get() == &voice ? *endpoints_[1] : *endpoints_[0];
  const std::span<const uint8_t> held = voice.held();
  return !held.empty() && voice.IsForwardable(held) &&
         mixer_->HearsAtUnity(listener.mixer_slot, voice.mixer_slot) &&
         listener.TakesForwarded(held);
}

void Session::FollowLoss(SharedEncoder& shared, const AudioEndpoint& listener) {
  if (shared.loss_tick != tick_count_) {
    // The loss its listeners of the previous tick report (one tick late: cheap, and reports
    // come about once a second).
    shared.loss_tick = tick_count_;
    const int loss_percent = shared.loss.Take();
    if (loss_percent >= 0 && loss_percent != shared.loss_percent) {
      shared.encoder->SetPacketLossPercent(loss_percent);
      shared.loss_percent = loss_percent;
    }
  }
  shared.loss.Add(listener.wanted_loss_percent());
}

void Session::OnTick(int64_t now_us) {
  ++tick_count_;
  // Frames that came with their level are decoded only for the speakers the mixer selects.
  bool held = false;
  for (auto& endpoint : endpoints_) {
    const AudioEndpoint::Pulled pulled = endpoint->PullFrame(now_us);
    held |= pulled == AudioEndpoint::Pulled::kHeld;
    mixer_->SetInput(
        endpoint->mixer_slot,
        pulled != AudioEndpoint::Pulled::kNothing ? endpoint->frame() : std::span<const int16_t>(),
        endpoint->level());
  }
  if (held) {
    mixer_->SelectSpeakers();
    for (auto& endpoint : endpoints_) {
      // A voice heard only through forwarding (two-party rooms) is not decoded either.
      if (mixer_->is_speaker(endpoint->mixer_slot) && !OnlyForwarded(*endpoint)) {
        endpoint->DecodeHeld();
      } else {
        endpoint->SkipHeld();
      }
    }
  }
  mixer_->Mix();
  if (board_ != nullptr) {
    const auto floor = mixer_->speakers(0);
    const int slot = floor.empty() ? -1 : mixer_->SlotOf(floor[0]);
    if (slot != published_speaker_slot_) {
      published_speaker_slot_ = slot;
      const AudioEndpoint* speaker =
          slot >= 0 && static_cast<size_t>(slot) < by_slot_.size() ? by_slot_[slot] : nullptr;
      board_->Set(speaker != nullptr ? std::string_view(speaker->id()) : std::string_view());
    }
  }
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    AudioEndpoint* endpoint = endpoints_[i].get();
    const int slot = endpoint->mixer_slot;
    if (mixer_->output_kind(slot) != audio::AudioMixer::OutputKind::kNone) {
      PassContributors(*endpoint);
      // One voice heard alone, at unity gain: its packet goes out as it came, no encode.
      bool skip = false;
      const AudioEndpoint* voice = SoleVoice(*endpoint, &skip);
      if (skip) {
        endpoint->SkipFrame();
        endpoint->MaybeSendRtcp(now_us);
        continue;
      }
      if (voice != nullptr) {
        if (mixer_->output_kind(slot) == audio::AudioMixer::OutputKind::kShared &&
            endpoint_encoders_[i] != nullptr) {
          FollowLoss(*endpoint_encoders_[i], *endpoint);
        }
        endpoint->Forward(voice->forwardable(), voice->level(), now_us);
        endpoint->MaybeSendRtcp(now_us);
        continue;
      }
    }
    switch (mixer_->output_kind(slot)) {
      case audio::AudioMixer::OutputKind::kNone:
        // In the lobby: nothing of the room reaches it. A caller typing the room's PIN hears
        // its prompts.
        if (endpoint->routing().keypad) {
          endpoint->SendPrompt(now_us);
          endpoint->MaybeSendRtcp(now_us);
        }
        continue;
      case audio::AudioMixer::OutputKind::kPersonal:
        endpoint->EncodeAndSend(mixer_->output(slot), now_us, mixer_->previous_output(slot));
        break;
      case audio::AudioMixer::OutputKind::kShared: {
        SharedEncoder* shared = endpoint_encoders_[i];
        if (shared == nullptr) continue;
        FollowLoss(*shared, *endpoint);
        if (shared->encoded_tick != tick_count_) {
          // Idle last tick (its listeners were forwarded a voice): their decoders hold another
          // encoder's state and played the output's previous frame. Take that in first.
          if (shared->encoded_tick != tick_count_ - 1) {
            const std::span<const int16_t> previous = mixer_->previous_output(slot);
            if (!previous.empty()) (void)shared->encoder->Encode(previous, shared->payload);
            shared->encoder->EncodeNextIndependently();
          }
          const int64_t start = MonotonicUs();
          shared->payload_size = shared->encoder->Encode(mixer_->output(slot), shared->payload);
          shared->level = audio::MeasureLevel(mixer_->output(slot));
          stats_->encode_us[static_cast<size_t>(shared->codec)].Observe(
              static_cast<double>(MonotonicUs() - start));
          Bump(stats_->encodes);
          shared->encoded_tick = tick_count_;
        }
        if (shared->payload_size > 0) {
          endpoint->SendPayload(std::span<const uint8_t>(shared->payload.data(),
                                                         static_cast<size_t>(shared->payload_size)),
                                shared->level, now_us);
        } else {
          endpoint->SkipFrame();
        }
        break;
      }
    }
    endpoint->MaybeSendRtcp(now_us);
  }
  // Packet in to mixed packet out, without the jitter buffer's deliberate hold beyond one frame.
  const int64_t sent_us = MonotonicUs();
  for (auto& endpoint : endpoints_) {
    if (endpoint->frame_arrival_us() == 0) continue;
    const double hold_ms = std::max(0, endpoint->jitter_target_ms() - 20);
    const double latency_ms =
        static_cast<double>(sent_us - endpoint->frame_arrival_us()) / 1000.0 - hold_ms;
    stats_->mix_latency_ms.Observe(std::max(0.0, latency_ms));
  }
}

}  // namespace chorus::engine
