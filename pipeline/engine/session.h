#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/audio/mixer.h"
#include "pipeline/codec/audio_codec.h"
#include "pipeline/codec/audio_encoder.h"
#include "pipeline/engine/audio_endpoint.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/media_worker.h"
#include "pipeline/engine/session_types.h"
#include "pipeline/net/udp_socket.h"

namespace chorus::engine {

// One room's media on one media worker: its audio endpoints, its mixer (buses, speaker
// selection, mix-minus, one limiter per distinct output) and the encoders of its distinct
// outputs. Every 20 ms it pulls one frame per endpoint, mixes, encodes once per distinct
// (mix, codec) and sends each listener its own RTP stream of that encoding.
//
// Thread: created, used and destroyed on its worker thread only (the engine posts every call).
// The tick and the receive path allocate nothing.
class Session final : public TickListener {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(const SessionConfig& config,
                                                         MediaWorker* worker, EngineStats* stats,
                                                         int max_endpoints,
                                                         bool filter_silence = true);
  ~Session() override;
  // Where the floor's loudest speaker is published for the video layouts (optional).
  void set_speaker_board(std::shared_ptr<SpeakerBoard> board) { board_ = std::move(board); }

  absl::StatusOr<EndpointAnswer> AddEndpoint(const EndpointConfig& config,
                                             std::unique_ptr<net::DatagramIo> socket);
  absl::Status UpdateRouting(const std::string& endpoint_id, const Routing& routing);
  absl::Status RemoveEndpoint(const std::string& endpoint_id);
  SessionStatsSnapshot Stats() const;
  int endpoint_count() const { return static_cast<int>(endpoints_.size()); }
  // The i-th endpoint, in joining order (for statistics and tests).
  AudioEndpoint& endpoint(size_t i) { return *endpoints_[i]; }
  // The endpoint with this id, or null.
  AudioEndpoint* Find(const std::string& id);
  // The packet loss percentage the Opus encoder that serves endpoint `id` now plans its FEC for:
  // its personal encoder while it is a selected speaker, else the shared encoder of its mix; -1
  // when none serves it (unknown, in the lobby, or not Opus).
  int EncoderLossPercent(const std::string& id);

  void OnTick(int64_t now_us) override;

 private:
  // From this many endpoints on, the kernel drops each one's digital silence
  // (AudioEndpoint::FilterSilence): none of it is heard or forwarded there. Two-party rooms
  // forward the other's silence as it came, so their listeners' streams never pause.
  static constexpr size_t kSilenceFilteredFrom = 3;
  void FilterSilence(AudioEndpoint* added);
  bool filter_silence_ = true;  // EngineOptions::drop_silence_in_kernel
  bool silence_filtered_ = false;

  // An encoder shared by every non-speaking listener with the same mix and codec.
  struct SharedEncoder {
    int mixer_key = -1;  // the mixer's shared output
    codec::AudioCodec codec = codec::AudioCodec::kOpus;
    int bitrate_bps = 0;
    std::unique_ptr<codec::AudioEncoder> encoder;
    int users = 0;
    // The listeners it served last tick, for the loss it plans FEC for (opus_loss.h).
    SharedLoss loss;
    int loss_percent = -1;   // what the encoder was last given; -1: its default
    int64_t loss_tick = -1;  // the tick the loss of its listeners was last taken
    // Filled once per tick.
    int64_t encoded_tick = -1;
    int payload_size = 0;
    uint8_t level = 127;  // of the mix, RFC 6464 -dBov
    std::array<uint8_t, 1500> payload{};
  };

  Session(const SessionConfig& config, MediaWorker* worker, EngineStats* stats, int max_endpoints,
          std::unique_ptr<audio::AudioMixer> mixer);
  // Makes sure the shared encoder for the endpoint's (mix, codec) exists, and counts it as a
  // user; done on the control path so the tick never creates an encoder.
  absl::Status AttachSharedEncoder(AudioEndpoint* endpoint);
  void DetachSharedEncoder(AudioEndpoint* endpoint);
  SharedEncoder* SharedEncoderFor(int mixer_key, const CodecChoice& codec);
  static audio::ParticipantConfig MixerConfig(const Routing& routing);

  const SessionConfig config_;
  MediaWorker* const worker_;  // not owned; runs this session
  EngineStats* const stats_;   // not owned
  const int max_endpoints_;
  std::unique_ptr<audio::AudioMixer> mixer_;
  std::vector<std::unique_ptr<AudioEndpoint>> endpoints_;
  std::vector<std::unique_ptr<SharedEncoder>> shared_encoders_;
  // Tells `endpoint` which speakers its output carries (CSRCs and RFC 6465 levels).
  // The one participant `listener` hears this tick, when its packet can be forwarded to it as
  // it came instead of an encoded mix (issue: forwarding): heard alone at unity gain, an Opus
  // packet that decoded cleanly, a listener that takes it. Null otherwise; then `skip` says
  // that the listener, forwarded that voice until now, is sent nothing this tick (the voice's
  // packet is missing).
  const AudioEndpoint* SoleVoice(const AudioEndpoint& listener, bool* skip) const;
  // Whether `voice`'s held packet goes only to be forwarded this tick: a two-party room whose
  // other participant hears it alone at unity gain and takes it as it came (what SoleVoice will
  // find after the mix). Its decode is skipped then; the decoder rejoins with the last skipped
  // packet when the voice is next mixed.
  bool OnlyForwarded(const AudioEndpoint& voice) const;

  // Once per tick: gives the shared encoder the loss its listeners reported last tick, and
  // counts `listener` for the next (also while it forwards, so FEC is planned right when it
  // encodes again).
  void FollowLoss(SharedEncoder& shared, const AudioEndpoint& listener);
  void PassContributors(AudioEndpoint& endpoint);

  // The endpoint in each mixer slot (nullptr when free), to turn contributors into SSRCs.
  std::vector<AudioEndpoint*> by_slot_;
  std::shared_ptr<SpeakerBoard> board_;
  int published_speaker_slot_ = -2;  // the slot last written to board_ (-1: none)
  // Contributors of each mixer output, worked out once per tick (the first 64 outputs).
  struct OutputContributors {
    int64_t tick = -1;
    size_t count = 0;
    std::array<uint32_t, 15> csrcs{};
    std::array<uint8_t, 15> levels{};
  };
  std::array<OutputContributors, 64> contributors_{};

  // Parallel to endpoints_: the shared encoder each endpoint is counted in.
  std::vector<SharedEncoder*> endpoint_encoders_;
  int64_t tick_count_ = 0;
};

}  // namespace chorus::engine
