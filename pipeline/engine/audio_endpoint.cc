#include "pipeline/engine/audio_endpoint.h"

#include <opus/opus.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <utility>

#include "pipeline/audio/mixer.h"
#include "pipeline/audio/speaker_selector.h"
#include "pipeline/engine/endpoint_common.h"
#include "pipeline/prompts/prompts.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/rtp/silence_filter.h"
#include "pipeline/rtp/telephone_event.h"

namespace chorus::engine {

using detail::kCname;
using detail::MonotonicUs;
using detail::RandomSsrc;
using detail::UnixUs;
namespace {

// About every second (WebRTC receivers judge loss and round-trip time from these reports).
constexpr int64_t kRtcpIntervalUs = 1'000'000;
// The largest datagram accepted: RTP/SRTP audio is far smaller.
constexpr size_t kMaxDatagram = 1500;

}  // namespace

absl::StatusOr<std::unique_ptr<AudioEndpoint>> AudioEndpoint::Create(
    const EndpointConfig& config, std::unique_ptr<net::DatagramIo> socket, EngineStats* stats) {
  std::unique_ptr<AudioEndpoint> endpoint(new AudioEndpoint(config, std::move(socket), stats));
  if (config.secure) {
    auto remote_key = srtp::SrtpKeyMaterial::FromBase64(config.suite, config.remote_key_base64);
    if (!remote_key.ok()) return remote_key.status();
    auto inbound = srtp::SrtpSession::Create(*remote_key, srtp::Direction::kInbound);
    if (!inbound.ok()) return inbound.status();
    auto local_key = detail::LocalKey(config.suite, config.local_key_base64);
    if (!local_key.ok()) return local_key.status();
    auto outbound = srtp::SrtpSession::Create(*local_key, srtp::Direction::kOutbound);
    if (!outbound.ok()) return outbound.status();
    endpoint->inbound_ = *std::move(inbound);
    endpoint->outbound_ = *std::move(outbound);
    endpoint->answer_.local_key_base64 = local_key->ToBase64();
    endpoint->answer_.suite = config.suite;
  }
  auto decoder = codec::AudioDecoder::Create(config.codec.codec);
  if (!decoder.ok()) return decoder.status();
  endpoint->decoder_ = *std::move(decoder);
  codec::AudioEncoderConfig encoder_config;
  encoder_config.codec = config.codec.codec;
  if (config.codec.bitrate_bps > 0) encoder_config.bitrate_bps = config.codec.bitrate_bps;
  auto encoder = codec::AudioEncoder::Create(encoder_config);
  if (!encoder.ok()) return encoder.status();
  endpoint->encoder_ = *std::move(encoder);
  endpoint->default_loss_percent_ = encoder_config.expected_loss_percent;
  endpoint->personal_loss_percent_ = encoder_config.expected_loss_percent;
  endpoint->answer_.local = endpoint->socket_->local_address();
  endpoint->answer_.ssrc = config.local_ssrc != 0 ? config.local_ssrc : RandomSsrc();
  // Random but below 2^15, so the first wrap (and SRTP roll-over) is at least 11 minutes away: a
  // receiver that starts listening mid-stream assumes roll-over counter 0 (RFC 3711 3.3.1).
  endpoint->sequence_ = static_cast<uint16_t>(RandomSsrc() & 0x7fff);
  endpoint->timestamp_ = RandomSsrc();
  endpoint->RoutingChanged();
  return endpoint;
}

AudioEndpoint::AudioEndpoint(const EndpointConfig& config, std::unique_ptr<net::DatagramIo> socket,
                             EngineStats* stats)
    : config_(config),
      socket_(std::move(socket)),
      stats_(stats),
      jitter_buffer_(std::make_unique<rtp::JitterBuffer>(codec::RtpClockRate(config.codec.codec))),
      receive_stats_(codec::RtpClockRate(config.codec.codec)),
      last_media_us_(MonotonicUs()) {}

AudioEndpoint::~AudioEndpoint() = default;

void AudioEndpoint::OnReadable() {
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    net::SocketAddress from;
    const int length = socket_->Receive(receive_buffer_, &from);
    if (length == -1) return;
    if (length == -2 || static_cast<size_t>(length) > kMaxDatagram) {
      stats_->Drop(DropReason::kOversized);
      ++drops_;
      continue;
    }
    HandleDatagram(static_cast<size_t>(length), from, MonotonicUs());
  }
}

void AudioEndpoint::HandleDatagram(size_t length, const net::SocketAddress& from, int64_t now_us) {
  Bump(stats_->bytes_in, length);
  std::span<const uint8_t> data(receive_buffer_.data(), length);
  if (rtp::IsRtcp(data)) {
    HandleRtcp(length);
    return;
  }
  if (!detail::Unprotect(inbound_.get(), /*rtcp=*/false, receive_buffer_, &length, stats_)) {
    ++srtp_failures_;
    return;
  }
  last_media_us_ = now_us;
  rtp::RtpPacketView packet;
  if (rtp::ParseRtp(std::span<const uint8_t>(receive_buffer_.data(), length), &packet) !=
      rtp::RtpParseResult::kOk) {
    stats_->Drop(DropReason::kMalformedRtp);
    ++drops_;
    return;
  }
  if (config_.telephone_event_pt >= 0 && packet.payload_type == config_.telephone_event_pt) {
    OnTelephoneEvent(packet);
    return;
  }
  if (packet.payload_type != config_.codec.payload_type) {
    stats_->Drop(DropReason::kUnknownPayloadType);
    ++drops_;
    return;
  }
  if (!config_.routing.admitted) {
    stats_->Drop(DropReason::kNotAdmitted);
    return;
  }
  if (!have_remote_ssrc_ || packet.ssrc != remote_ssrc_) {
    // A new source (or the first): start its statistics afresh (the jitter buffer sees the new
    // SSRC itself).
    if (have_remote_ssrc_) receive_stats_.Reset();
    remote_ssrc_ = packet.ssrc;
    have_remote_ssrc_ = true;
  }
  if (config_.learn_address) config_.remote = from;
  Bump(stats_->rtp_packets_in);
  if (++packets_received_ == 1 && silence_filter_wanted_) FilterSilence(true);
  std::optional<rtp::AudioLevel> level;
  if (config_.audio_level_extension_id != 0) {
    level = rtp::ParseAudioLevel(packet.FindExtension(config_.audio_level_extension_id));
  }
  // A gap next to a packet of silence, shorter than the filter's sample, was most likely
  // silence the kernel dropped (a real loss there goes unreported: it was silence anyway).
  const bool silence = level.has_value() && level->level == rtp::kSilentLevel;
  if (silence_filtered_ && (silence || last_was_silence_)) {
    const uint16_t gap = static_cast<uint16_t>(packet.sequence_number - last_sequence_ - 1);
    if (gap > 0 && gap < kSilenceSample) receive_stats_.CountFiltered(gap);
  }
  last_was_silence_ = silence;
  last_sequence_ = packet.sequence_number;
  receive_stats_.OnPacket(packet.sequence_number, packet.timestamp, now_us);
  using Insert = rtp::JitterBuffer::InsertResult;
  const rtp::JitterBuffer::InsertResult inserted = jitter_buffer_->Insert(packet, now_us, level);
  jitter_idle_ = jitter_buffer_->idle();
  switch (inserted) {
    case Insert::kInserted:
    case Insert::kRestarted:
    case Insert::kSsrcChanged:
      break;
    case Insert::kDuplicate:
      stats_->Drop(DropReason::kDuplicate);
      ++drops_;
      break;
    case Insert::kTooLate:
    case Insert::kTooOld:
      stats_->Drop(DropReason::kLate);
      ++drops_;
      break;
    case Insert::kTooFarAhead:
    case Insert::kFull:
      stats_->Drop(DropReason::kBufferFull);
      ++drops_;
      break;
    case Insert::kTooLarge:
      stats_->Drop(DropReason::kOversized);
      ++drops_;
      break;
  }
}

bool AudioEndpoint::FilterSilence(bool on) {
  silence_filter_wanted_ = on;
  if (on && silence_program_.empty()) {
    // Built here, on the control path; the receive path only attaches it.
    silence_program_ = rtp::DigitalSilenceFilter(config_.audio_level_extension_id,
                                                 config_.codec.payload_type, kSilenceSample);
  }
  // Not before its first packet: an endpoint that learns its peer's address from what it
  // receives (behind NAT) would otherwise learn it only from the first sampled packet.
  if (on && packets_received_ == 0) return false;
  if (on == silence_filtered_) return on;
  if (!on) {
    silence_filtered_ = false;
    last_was_silence_ = false;
    (void)socket_->SetReceiveFilter({});
    return false;
  }
  silence_filtered_ = !silence_program_.empty() && socket_->SetReceiveFilter(silence_program_);
  return silence_filtered_;
}

void AudioEndpoint::HandleRtcp(size_t length) {
  if (!detail::Unprotect(inbound_.get(), /*rtcp=*/true, receive_buffer_, &length, stats_)) {
    ++srtp_failures_;
    return;
  }
  last_media_us_ = MonotonicUs();
  rtp::RtcpInfo info;
  if (rtp::ParseRtcp(std::span<const uint8_t>(receive_buffer_.data(), length), &info) !=
      rtp::RtcpParseResult::kOk) {
    stats_->Drop(DropReason::kMalformedRtcp);
    ++drops_;
    return;
  }
  Bump(stats_->rtcp_packets_in);
  if (info.has_sender_report) receive_stats_.OnSenderReport(info.ntp_timestamp, MonotonicUs());
  // What the endpoint reports of our stream to it.
  for (size_t i = 0; i < info.block_count; ++i) {
    if (info.blocks[i].ssrc != answer_.ssrc) continue;
    const double clock = codec::RtpClockRate(config_.codec.codec);
    stats_->jitter_ms.Observe(info.blocks[i].jitter * 1000.0 / clock);
    remote_fraction_lost_ = info.blocks[i].fraction_lost;
    reported_loss_.OnReport(remote_fraction_lost_);
  }
  // The personal encoder follows at once (the shared one at the session's next tick).
  const int wanted = wanted_loss_percent();
  if (wanted != personal_loss_percent_) {
    encoder_->SetPacketLossPercent(wanted);
    personal_loss_percent_ = wanted;
  }
}

AudioEndpoint::Pulled AudioEndpoint::PullFrame(int64_t now_us) {
  (void)now_us;
  frame_arrival_us_ = 0;
  held_ = {};
  held_lost_ = false;
  lost_next_ = {};
  forwardable_ = {};
  if (!config_.routing.admitted) return Pulled::kNothing;
  if (jitter_idle_) {
    // What an idle buffer's Pull answers (kBuffering), without touching it: most listeners of a
    // large room are silent, and their buffers stay out of the cache.
    level_ = 127;
    return Pulled::kNothing;
  }
  rtp::JitterFrame pulled;
  const rtp::JitterBuffer::PullResult kind = jitter_buffer_->Pull(&pulled);
  jitter_idle_ = jitter_buffer_->idle();
  switch (kind) {
    case rtp::JitterBuffer::PullResult::kBuffering:
    case rtp::JitterBuffer::PullResult::kDtx:
      // Not started, paused, or the sender is in discontinuous transmission: silence, not a
      // loss, and nothing to mix.
      level_ = 127;
      return Pulled::kNothing;
    case rtp::JitterBuffer::PullResult::kFrame:
      levels_ = pulled.has_level;
      if (pulled.has_level && !pulled.payload.empty()) {
        held_ = pulled.payload;
        held_arrival_us_ = pulled.arrival_us;
        level_ = pulled.level;
        packet_level_ = pulled.level;
        return Pulled::kHeld;
      }
      Decode(pulled.payload, pulled.arrival_us);
      level_ = audio::MeasureLevel(frame_);
      return Pulled::kFrame;
    case rtp::JitterBuffer::PullResult::kLost:
      if (levels_) {
        held_lost_ = true;
        lost_next_ = pulled.next_payload;
        level_ = packet_level_;
        return Pulled::kHeld;
      }
      ConcealLost(pulled.next_payload);
      level_ = audio::MeasureLevel(frame_);
      return Pulled::kFrame;
  }
  return Pulled::kNothing;
}

void AudioEndpoint::Decode(std::span<const uint8_t> payload, int64_t arrival_us) {
  const int64_t start = MonotonicUs();
  const codec::DecodeResult result = decoder_->Decode(payload, frame_);
  stats_->decode_us[static_cast<size_t>(config_.codec.codec)].Observe(
      static_cast<double>(MonotonicUs() - start));
  if (result != codec::DecodeResult::kOk) {
    stats_->Drop(DropReason::kDecodeError);
    ++drops_;
    decoder_->Conceal(frame_);
    Bump(stats_->concealed_frames);
    ++concealed_;
  } else {
    frame_arrival_us_ = arrival_us;
    if (IsForwardable(payload)) forwardable_ = payload;
  }
}

bool AudioEndpoint::IsForwardable(std::span<const uint8_t> payload) const {
  return config_.codec.codec == codec::AudioCodec::kOpus &&
         opus_packet_get_nb_samples(payload.data(), static_cast<opus_int32>(payload.size()),
                                    48000) == kFrameSamples;
}

bool AudioEndpoint::TakesForwarded(std::span<const uint8_t> payload) const {
  if (config_.codec.codec != codec::AudioCodec::kOpus) return false;
  if (wanted_loss_percent() > default_loss_percent_) return false;
  // 50 packets a second; a quarter above the asked-for bitrate is still within it on average.
  const int64_t bits_per_second = static_cast<int64_t>(payload.size()) * 8 * 50;
  return (config_.codec.bitrate_bps <= 0 || bits_per_second * 4 <= config_.codec.bitrate_bps * 5) &&
         ContinuesWith(payload);
}

namespace {

// An Opus packet's mode, bandwidth and channels from its TOC byte (RFC 6716 section 3.1): the
// configuration number says mode and bandwidth (the frame size, its low bits within a mode's
// group, is left out), the s bit the channels.
int OpusModeBandwidthChannels(uint8_t toc) {
  const int config = toc >> 3;
  const int group = config < 12   ? config / 4
                    : config < 16 ? 3 + (config - 12) / 2
                                  : 5 + (config - 16) / 4;
  return group * 2 + ((toc >> 2) & 1);
}

}  // namespace

bool AudioEndpoint::ContinuesWith(std::span<const uint8_t> payload) const {
  if (forwarded_last_ || last_toc_ < 0) return true;  // forwarding already, or nothing sent yet
  if (payload.empty()) return false;
  if (last_level_ >= kQuietLevel) return true;  // the decoder was playing (near) silence
  return OpusModeBandwidthChannels(static_cast<uint8_t>(last_toc_)) ==
         OpusModeBandwidthChannels(payload[0]);
}

void AudioEndpoint::Forward(std::span<const uint8_t> payload, uint8_t level, int64_t now_us) {
  Bump(stats_->audio_forwarded);
  SendPayload(payload, level, now_us);
  forwarded_last_ = true;
}

void AudioEndpoint::CatchUpSkipped() {
  if (skipped_size_ == 0) return;
  // Frames were skipped: the last of them first (its output is overwritten), so the codec's
  // overlap and prediction state match the audio before the frame that is heard.
  decoder_->Decode(std::span<const uint8_t>(skipped_payload_.data(), skipped_size_), frame_);
  skipped_size_ = 0;
}

void AudioEndpoint::ConcealLost(std::span<const uint8_t> next_payload) {
  CatchUpSkipped();
  if (!next_payload.empty() && decoder_->DecodeFec(next_payload, frame_)) {
    Bump(stats_->fec_frames);
  } else {
    decoder_->Conceal(frame_);
  }
  Bump(stats_->concealed_frames);
  ++concealed_;
}

void AudioEndpoint::DecodeHeld() {
  if (held_lost_) {
    held_lost_ = false;
    ConcealLost(lost_next_);
    lost_next_ = {};
    return;
  }
  if (held_.empty()) return;
  CatchUpSkipped();
  Decode(held_, held_arrival_us_);
  held_ = {};
}

void AudioEndpoint::SkipHeld() {
  if (held_lost_) {
    // Not heard: nothing to conceal (the decoder rejoins with the last packet it skipped).
    held_lost_ = false;
    lost_next_ = {};
    Bump(stats_->decodes_skipped);
    return;
  }
  if (held_.empty()) return;
  if (IsForwardable(held_))
    forwardable_ = held_;  // not heard in a mix; a two-party room forwards it
  skipped_size_ = std::min(held_.size(), skipped_payload_.size());
  std::copy_n(held_.begin(), skipped_size_, skipped_payload_.begin());
  Bump(stats_->decodes_skipped);
  held_ = {};
}

void AudioEndpoint::EncodeAndSend(std::span<const int16_t> mix, int64_t now_us,
                                  std::span<const int16_t> previous) {
  if (forwarded_last_) {
    // The receiver's decoder holds another encoder's state and played `previous`: the encoder
    // takes that in first (its look-ahead and history), then codes without prediction.
    if (!previous.empty()) (void)encoder_->Encode(previous, payload_buffer_);
    encoder_->EncodeNextIndependently();
  }
  const int64_t start = MonotonicUs();
  const int size = encoder_->Encode(mix, payload_buffer_);
  const uint8_t level = audio::MeasureLevel(mix);
  stats_->encode_us[static_cast<size_t>(config_.codec.codec)].Observe(
      static_cast<double>(MonotonicUs() - start));
  Bump(stats_->encodes);
  if (size > 0) {
    SendPayload(std::span<const uint8_t>(payload_buffer_.data(), static_cast<size_t>(size)), level,
                now_us);
  } else {
    SkipFrame();
  }
}

void AudioEndpoint::SkipFrame() {
  timestamp_ += codec::TimestampIncrement(config_.codec.codec);
  need_marker_ = true;
}

void AudioEndpoint::SetContributors(std::span<const uint32_t> csrcs,
                                    std::span<const uint8_t> levels) {
  csrc_count_ = std::min({csrcs.size(), levels.size(), csrcs_.size()});
  std::copy_n(csrcs.begin(), csrc_count_, csrcs_.begin());
  std::copy_n(levels.begin(), csrc_count_, csrc_levels_.begin());
}

void AudioEndpoint::SendPayload(std::span<const uint8_t> payload, uint8_t level, int64_t now_us) {
  (void)now_us;
  forwarded_last_ = false;
  if (config_.codec.codec == codec::AudioCodec::kOpus && !payload.empty()) last_toc_ = payload[0];
  last_level_ = level;
  rtp::RtpPacketBuilder builder;
  builder.set_marker(need_marker_);
  builder.set_payload_type(config_.codec.payload_type);
  builder.set_sequence_number(sequence_++);
  builder.set_timestamp(timestamp_);
  builder.set_ssrc(answer_.ssrc);
  timestamp_ += codec::TimestampIncrement(config_.codec.codec);
  need_marker_ = false;
  // RFC 3550: a mixer lists the sources it mixed as CSRCs.
  for (size_t i = 0; i < csrc_count_; ++i) builder.AddCsrc(csrcs_[i]);
  // The builder keeps views of the element bytes until Build(): one buffer per element.
  uint8_t element[16];
  uint8_t csrc_element[16];
  if (config_.audio_level_extension_id != 0) {
    // RFC 6464 for what this packet carries as a whole.
    rtp::AudioLevel own{level < audio::SpeakerSelector::kActiveBelowDbov, level};
    const size_t size = rtp::WriteAudioLevel(own, element);
    builder.AddExtension(config_.audio_level_extension_id, std::span<const uint8_t>(element, size));
  }
  if (config_.csrc_audio_level_extension_id != 0 && csrc_count_ > 0) {
    const size_t size = rtp::WriteCsrcAudioLevels(
        std::span<const uint8_t>(csrc_levels_.data(), csrc_count_), csrc_element);
    builder.AddExtension(config_.csrc_audio_level_extension_id,
                         std::span<const uint8_t>(csrc_element, size));
  }
  size_t length = builder.Build(payload, std::span<uint8_t>(send_buffer_.data(), 1400));
  if (length == 0) return;
  if (outbound_ != nullptr) {
    size_t protected_length = 0;
    if (outbound_->ProtectRtp(send_buffer_, length, &protected_length) != srtp::SrtpResult::kOk) {
      Bump(stats_->send_failures);
      return;
    }
    length = protected_length;
  }
  Send(length, false);
  ++packets_sent_;
  octets_sent_ += payload.size();
}

void AudioEndpoint::Send(size_t length, bool rtcp) {
  const net::SocketAddress& to =
      rtcp && !config_.rtcp_remote.empty() ? config_.rtcp_remote : config_.remote;
  if (socket_->Send(std::span<const uint8_t>(send_buffer_.data(), length), to)) {
    Bump(rtcp ? stats_->rtcp_packets_out : stats_->rtp_packets_out);
    Bump(stats_->bytes_out, length);
  } else {
    Bump(stats_->send_failures);
  }
}

void AudioEndpoint::MaybeSendRtcp(int64_t now_us) {
  if (last_rtcp_us_ != 0 && now_us - last_rtcp_us_ < kRtcpIntervalUs) return;
  const bool first = last_rtcp_us_ == 0;
  last_rtcp_us_ = now_us;
  if (first) return;  // the first report after one interval, once there is something to say
  rtp::SenderReport report;
  report.ssrc = answer_.ssrc;
  report.ntp_timestamp = rtp::NtpFromUnixMicros(UnixUs());
  report.rtp_timestamp = timestamp_;
  report.packet_count = static_cast<uint32_t>(packets_sent_);
  report.octet_count = static_cast<uint32_t>(octets_sent_);
  if (have_remote_ssrc_) {
    report.has_block = true;
    report.block = receive_stats_.MakeReportBlock(remote_ssrc_, now_us);
    const int64_t lost = receive_stats_.cumulative_lost();
    if (lost > reported_lost_) {
      Bump(stats_->packets_lost, static_cast<uint64_t>(lost - reported_lost_));
      reported_lost_ = lost;
    }
  }
  size_t length =
      rtp::BuildSenderReport(report, kCname, std::span<uint8_t>(send_buffer_.data(), 1400));
  if (length == 0) return;
  if (outbound_ != nullptr) {
    size_t protected_length = 0;
    if (outbound_->ProtectRtcp(send_buffer_, length, &protected_length) != srtp::SrtpResult::kOk) {
      Bump(stats_->send_failures);
      return;
    }
    length = protected_length;
  }
  Send(length, true);
}

void AudioEndpoint::OnTelephoneEvent(const rtp::RtpPacketView& packet) {
  if (!config_.routing.keypad) return;  // key presses in the room mean nothing to it
  const std::optional<rtp::TelephoneEvent> event = rtp::ParseTelephoneEvent(packet.payload);
  if (!event.has_value()) {
    stats_->Drop(DropReason::kMalformedRtp);
    ++drops_;
    return;
  }
  const char digit = rtp::KeypadDigit(event->event);
  // Every packet of one press (and its repeated end) carries the press's start timestamp.
  if (digit == 0 || (have_event_ && packet.timestamp == last_event_timestamp_)) return;
  have_event_ = true;
  last_event_timestamp_ = packet.timestamp;
  if (keypad_digit_count_ == kMaxKeypadDigits) {
    std::copy(keypad_digits_.begin() + 1, keypad_digits_.end(), keypad_digits_.begin());
    --keypad_digit_count_;
  }
  keypad_digits_[keypad_digit_count_++] = digit;
  ++keypad_presses_;
  prompt_interrupted_ = true;
}

void AudioEndpoint::RoutingChanged() {
  const Routing& routing = config_.routing;
  const std::optional<prompts::Prompt> prompt =
      routing.keypad ? prompts::PromptFromName(routing.prompt) : std::nullopt;
  prompt_first_ =
      prompt ? prompts::Pcm(*prompt, routing.prompt_language) : std::span<const int16_t>();
  prompt_loop_ = prompt ? prompts::Pcm(prompts::Prompt::kEnterPin, routing.prompt_language)
                        : std::span<const int16_t>();
  prompt_position_ = 0;
  prompt_looping_ = false;
  prompt_gap_frames_ = 0;
  prompt_interrupted_ = false;
}

void AudioEndpoint::SendPrompt(int64_t now_us) {
  // About 5 s between repeats of the invitation to type.
  constexpr int kGapFrames = 250;
  prompt_frame_.fill(0);
  const std::span<const int16_t> playing = prompt_looping_ ? prompt_loop_ : prompt_first_;
  if (prompt_interrupted_ || playing.empty()) {
    // Silence.
  } else if (prompt_gap_frames_ > 0) {
    --prompt_gap_frames_;
  } else {
    const size_t count = std::min<size_t>(kFrameSamples, playing.size() - prompt_position_);
    std::copy_n(playing.begin() + static_cast<std::ptrdiff_t>(prompt_position_), count,
                prompt_frame_.begin());
    prompt_position_ += count;
    if (prompt_position_ >= playing.size()) {
      prompt_position_ = 0;
      prompt_looping_ = true;
      prompt_gap_frames_ = kGapFrames;
    }
  }
  EncodeAndSend(prompt_frame_, now_us);
}

EndpointStatsSnapshot AudioEndpoint::Stats() const {
  EndpointStatsSnapshot snapshot;
  snapshot.id = config_.id;
  snapshot.packets_received = packets_received_;
  snapshot.packets_sent = packets_sent_;
  snapshot.packets_lost = static_cast<uint64_t>(receive_stats_.cumulative_lost());
  snapshot.jitter_ms = receive_stats_.jitter_ms();
  snapshot.jitter_buffer_ms = jitter_buffer_->stats().target_delay_ms;
  snapshot.concealed_frames = concealed_;
  snapshot.srtp_failures = srtp_failures_;
  snapshot.drops = drops_;
  snapshot.level_dbov = -static_cast<double>(level_);
  snapshot.seconds_since_media = static_cast<double>(MonotonicUs() - last_media_us_) / 1e6;
  snapshot.keypad_digits.assign(keypad_digits_.data(), keypad_digit_count_);
  snapshot.keypad_presses = keypad_presses_;
  return snapshot;
}

}  // namespace chorus::engine
