#include "pipeline/engine/video_endpoint.h"

#include <time.h>

#include <random>

#include "pipeline/engine/endpoint_common.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_key.h"

namespace chorus::engine {

using detail::kCname;
using detail::MonotonicUs;
using detail::RandomSsrc;
using detail::UnixUs;
namespace {

constexpr size_t kMaxDatagram = 1500;
constexpr int64_t kPliIntervalUs = 500'000;
constexpr int64_t kReportIntervalUs = 5'000'000;

}  // namespace

VideoEndpoint::VideoEndpoint(const std::string& id, const VideoConfig& config,
                             std::unique_ptr<net::DatagramIo> socket, EngineStats* stats)
    : id_(id),
      config_(config),
      socket_(std::move(socket)),
      stats_(stats),
      assembler_(std::make_unique<video::FrameAssembler>(config.codec)),
      history_(kHistory),
      history_bytes_(kHistory * kHistorySlotBytes) {}

VideoEndpoint::~VideoEndpoint() = default;

absl::StatusOr<std::unique_ptr<VideoEndpoint>> VideoEndpoint::Create(
    const std::string& id, bool secure, srtp::SrtpSuite suite, const VideoConfig& config,
    std::unique_ptr<net::DatagramIo> socket, EngineStats* stats) {
  if (config.width < 16 || config.height < 16 || config.width > 1920 || config.height > 1080 ||
      config.width % 2 != 0 || config.height % 2 != 0) {
    return absl::InvalidArgumentError("video size must be even, 16x16 to 1920x1080");
  }
  std::unique_ptr<VideoEndpoint> endpoint(new VideoEndpoint(id, config, std::move(socket), stats));
  if (secure) {
    auto remote_key = srtp::SrtpKeyMaterial::FromBase64(suite, config.remote_key_base64);
    if (!remote_key.ok()) return remote_key.status();
    auto inbound = srtp::SrtpSession::Create(*remote_key, srtp::Direction::kInbound);
    if (!inbound.ok()) return inbound.status();
    auto local_key = detail::LocalKey(suite, config.local_key_base64);
    if (!local_key.ok()) return local_key.status();
    auto outbound = srtp::SrtpSession::Create(*local_key, srtp::Direction::kOutbound);
    if (!outbound.ok()) return outbound.status();
    endpoint->inbound_ = *std::move(inbound);
    endpoint->outbound_ = *std::move(outbound);
    endpoint->answer_.local_key_base64 = local_key->ToBase64();
  }
  auto decoder = video::VideoDecoder::Create(config.codec);
  if (!decoder.ok()) return decoder.status();
  endpoint->decoder_ = *std::move(decoder);
  endpoint->answer_.enabled = true;
  endpoint->answer_.local = endpoint->socket_->local_address();
  endpoint->answer_.ssrc = config.local_ssrc != 0 ? config.local_ssrc : RandomSsrc();
  endpoint->sequence_ = static_cast<uint16_t>(RandomSsrc() & 0x7fff);
  return endpoint;
}

void VideoEndpoint::OnReadable() {
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    net::SocketAddress from;
    const int length = socket_->Receive(receive_buffer_, &from);
    if (length == -1) return;
    if (length == -2 || static_cast<size_t>(length) > kMaxDatagram) {
      stats_->Drop(DropReason::kOversized);
      continue;
    }
    HandleDatagram(static_cast<size_t>(length), MonotonicUs());
  }
}

void VideoEndpoint::HandleDatagram(size_t length, int64_t now_us) {
  Bump(stats_->bytes_in, length);
  if (rtp::IsRtcp(std::span<const uint8_t>(receive_buffer_.data(), length))) {
    HandleRtcp(length, now_us);
    return;
  }
  if (!detail::Unprotect(inbound_.get(), /*rtcp=*/false, receive_buffer_, &length, stats_)) return;
  rtp::RtpPacketView packet;
  if (rtp::ParseRtp(std::span<const uint8_t>(receive_buffer_.data(), length), &packet) !=
      rtp::RtpParseResult::kOk) {
    stats_->Drop(DropReason::kMalformedRtp);
    return;
  }
  if (packet.payload_type != config_.payload_type) {
    stats_->Drop(DropReason::kUnknownPayloadType);
    return;
  }
  if (!admitted) {
    stats_->Drop(DropReason::kNotAdmitted);
    waiting_for_keyframe_ = true;  // once admitted, the picture starts at a keyframe
    return;
  }
  ++packets_received_;
  if (packet.ssrc != remote_ssrc_) {
    // A new source (the sender restarted, perhaps at another size): its sequence numbers and
    // timestamps start afresh, and so does reassembly; decoding resumes at its first keyframe.
    remote_ssrc_ = packet.ssrc;
    assembler_ = std::make_unique<video::FrameAssembler>(config_.codec);
    assembler_drops_seen_ = 0;
    waiting_for_keyframe_ = true;
    have_highest_ = false;
  }
  NackGap(packet.sequence_number);
  uint32_t timestamp = 0;
  const auto result = assembler_->Insert(packet.sequence_number, packet.timestamp, packet.marker,
                                         packet.payload, &frame_, &timestamp);
  if (assembler_->dropped_frames() != assembler_drops_seen_) {
    // A frame was lost: what follows cannot decode cleanly until a keyframe.
    for (; assembler_drops_seen_ < assembler_->dropped_frames(); ++assembler_drops_seen_) {
      stats_->Drop(DropReason::kLate);
    }
    waiting_for_keyframe_ = true;
    RequestKeyframe(now_us);
  }
  switch (result) {
    case video::FrameAssembler::Result::kFrame:
      Bump(stats_->video_frames_in);
      break;
    case video::FrameAssembler::Result::kMalformed:
      stats_->Drop(DropReason::kMalformedRtp);
      return;
    case video::FrameAssembler::Result::kTooLate:
      stats_->Drop(DropReason::kLate);
      return;
    case video::FrameAssembler::Result::kPending:
      return;
  }
  const bool keyframe = video::IsKeyframe(config_.codec, frame_);
  if (keyframe) {
    last_keyframe_us_ = now_us;
    // Chorus announces H.264 as profile-level-id 42e01f: constrained baseline, level 3.1.
    forwardable_as_sent_ = config_.codec != video::VideoCodec::kH264 ||
                           video::H264ForwardableAsSent(frame_, /*max_level_idc=*/31);
  }
  if (waiting_for_keyframe_) {
    if (!keyframe) {
      Bump(stats_->video_frames_skipped);
      RequestKeyframe(now_us);
      return;
    }
    waiting_for_keyframe_ = false;
  }
  if (keep_frames) {
    if (received_count_ == kMaxReceivedFrames ||
        received_bytes_ + frame_.size() > kMaxReceivedBytes) {
      // Nobody took them for a whole burst: the chain starts again at a keyframe.
      ClearReceivedFrames();
      waiting_for_keyframe_ = true;
      RequestKeyframe(now_us);
      return;
    }
    if (received_.size() == received_count_) received_.emplace_back();
    ReceivedFrame& kept = received_[received_count_++];
    kept.bytes.assign(frame_.begin(), frame_.end());
    received_bytes_ += frame_.size();
    kept.timestamp = timestamp;
    kept.keyframe = keyframe;
  }
  if (!decode_needed_ && !keyframe) return;  // only forwarded: no decode
  if (decoder_waits_keyframe_) {
    if (!keyframe) return;
    decoder_waits_keyframe_ = false;
  }
  bool got = false;
  if (!decoder_->Decode(frame_, &picture_, &got).ok()) {
    stats_->Drop(DropReason::kDecodeError);
    waiting_for_keyframe_ = true;
    RequestKeyframe(now_us);
    return;
  }
  if (got) {
    ++frames_decoded_;
    last_picture_us_ = now_us;
    Bump(stats_->video_frames_decoded);
  }
}

void VideoEndpoint::NackGap(uint16_t sequence) {
  if (!have_highest_) {
    have_highest_ = true;
    highest_sequence_ = sequence;
    return;
  }
  const int16_t ahead = static_cast<int16_t>(sequence - highest_sequence_);
  if (ahead <= 0) return;  // a retransmission or a reordered packet
  const uint16_t first_missing = static_cast<uint16_t>(highest_sequence_ + 1);
  highest_sequence_ = sequence;
  const int missing = ahead - 1;
  if (missing == 0 || missing > kMaxNackGap) return;
  std::array<uint16_t, kMaxNackGap> sequences{};
  for (int i = 0; i < missing; ++i) sequences[static_cast<size_t>(i)] = first_missing + i;
  // A compound packet: an empty receiver report, then the NACK.
  size_t length = rtp::BuildRr(answer_.ssrc, {}, send_buffer_);
  if (length == 0) return;
  const size_t nack =
      rtp::BuildNack(answer_.ssrc, remote_ssrc_,
                     std::span<const uint16_t>(sequences.data(), static_cast<size_t>(missing)),
                     std::span<uint8_t>(send_buffer_).subspan(length));
  if (nack == 0) return;
  ++nacks_sent_;
  Bump(stats_->video_nacks_sent);
  Send(length + nack, /*rtcp=*/true);
}

void VideoEndpoint::Retransmit(uint16_t sequence, int64_t now_us) {
  Sent& sent = history_[sequence % kHistory];
  if (sent.length == 0 || sent.sequence != sequence) {
    Bump(stats_->video_retransmissions_missed);
    return;
  }
  if (sent.resent_us != 0 && now_us - sent.resent_us < kRetransmitIntervalUs) return;
  sent.resent_us = now_us;
  const uint8_t* bytes = history_bytes_.data() + (sequence % kHistory) * kHistorySlotBytes;
  if (socket_->Send(std::span<const uint8_t>(bytes, sent.length), config_.remote)) {
    ++retransmitted_;
    Bump(stats_->video_retransmissions);
    Bump(stats_->bytes_out, sent.length);
    bytes_sent_ += sent.length;
  }
}

void VideoEndpoint::HandleRtcp(size_t length, int64_t now_us) {
  if (!detail::Unprotect(inbound_.get(), /*rtcp=*/true, receive_buffer_, &length, stats_)) return;
  rtp::RtcpInfo info;
  if (rtp::ParseRtcp(std::span<const uint8_t>(receive_buffer_.data(), length), &info) !=
      rtp::RtcpParseResult::kOk) {
    stats_->Drop(DropReason::kMalformedRtcp);
    return;
  }
  Bump(stats_->rtcp_packets_in);
  if ((info.has_pli && info.pli_media_ssrc == answer_.ssrc) || info.fir_count > 0) {
    keyframe_requested_ = true;
    Bump(stats_->video_keyframe_requests_received);
  }
  if (info.has_nack && info.nack_media_ssrc == answer_.ssrc) {
    Bump(stats_->video_nacks_received);
    for (size_t i = 0; i < info.nack_count; ++i) Retransmit(info.nack_sequences[i], now_us);
  }
  // What the participant's link can take of its view: its receiver's estimate, and the loss it
  // reports of the view.
  if (info.has_remb) tier_.OnRemb(info.remb_bitrate_bps);
  for (size_t i = 0; i < info.block_count; ++i) {
    if (info.blocks[i].ssrc == answer_.ssrc) tier_.OnLossReport(info.blocks[i].fraction_lost);
  }
}

void VideoEndpoint::SetDecodeNeeded(bool needed, int64_t now_us) {
  if (needed && !decode_needed_) {
    decoder_waits_keyframe_ = true;
    RequestKeyframe(now_us);
  }
  decode_needed_ = needed;
}

bool VideoEndpoint::TakeKeyframeRequest() {
  const bool requested = keyframe_requested_;
  keyframe_requested_ = false;
  return requested;
}

void VideoEndpoint::RequestKeyframe(int64_t now_us) {
  if (remote_ssrc_ == 0 || now_us - last_pli_us_ < kPliIntervalUs) return;
  last_pli_us_ = now_us;
  // A compound packet: an empty receiver report, then the PLI.
  size_t length = rtp::BuildRr(answer_.ssrc, {}, send_buffer_);
  if (length == 0) return;
  const size_t pli =
      rtp::BuildPli(answer_.ssrc, remote_ssrc_, std::span<uint8_t>(send_buffer_).subspan(length));
  if (pli == 0) return;
  ++plis_sent_;
  Bump(stats_->video_keyframe_requests_sent);
  Send(length + pli, /*rtcp=*/true);
}

void VideoEndpoint::MaybeSendReport(int64_t now_us, uint32_t rtp_timestamp) {
  if (last_report_us_ != 0 && now_us - last_report_us_ < kReportIntervalUs) return;
  const bool first = last_report_us_ == 0;
  last_report_us_ = now_us;
  if (first || packets_sent_ == 0) return;
  rtp::SenderReport report;
  report.ssrc = answer_.ssrc;
  report.ntp_timestamp = rtp::NtpFromUnixMicros(UnixUs());
  report.rtp_timestamp = rtp_timestamp;
  report.packet_count = static_cast<uint32_t>(packets_sent_);
  report.octet_count = static_cast<uint32_t>(octets_sent_);
  const size_t length =
      rtp::BuildSenderReport(report, kCname, std::span<uint8_t>(send_buffer_.data(), 1400));
  if (length > 0) Send(length, /*rtcp=*/true);
}

void VideoEndpoint::MaybeSendRemb(int64_t now_us, uint64_t bitrate_bps) {
  if (remote_ssrc_ == 0) return;
  const bool due = now_us - last_remb_us_ >= 1'000'000;
  const bool fell = bitrate_bps * 5 < remb_sent_bps_ * 4 && now_us - last_remb_us_ >= 200'000;
  if (!due && !fell) return;
  const uint32_t media[1] = {remote_ssrc_};
  const size_t length = rtp::BuildRemb(answer_.ssrc, bitrate_bps, media,
                                       std::span<uint8_t>(send_buffer_.data(), 1400));
  if (length == 0) return;
  last_remb_us_ = now_us;
  remb_sent_bps_ = bitrate_bps;
  Send(length, /*rtcp=*/true);
}

void VideoEndpoint::SendFrame(const std::vector<std::vector<uint8_t>>& payloads,
                              uint32_t rtp_timestamp) {
  // Each frame a later timestamp than the last, whichever clock it came from (a forwarded camera's
  // frames may run a little ahead of the view's tick when it sends in bursts).
  if (frames_sent_ > 0 && static_cast<int32_t>(rtp_timestamp - last_timestamp_) <= 0) {
    rtp_timestamp = last_timestamp_ + 1;
  }
  last_timestamp_ = rtp_timestamp;
  for (size_t i = 0; i < payloads.size(); ++i) {
    rtp::RtpHeader header;
    header.marker = i + 1 == payloads.size();
    header.payload_type = config_.payload_type;
    header.sequence_number = sequence_++;
    header.timestamp = rtp_timestamp;
    header.ssrc = answer_.ssrc;
    const size_t length = rtp::BuildRtp(header, payloads[i], send_buffer_);
    if (length == 0) continue;
    ++packets_sent_;
    octets_sent_ += payloads[i].size();
    Send(length, /*rtcp=*/false, header.sequence_number);
  }
  ++frames_sent_;
}

void VideoEndpoint::Send(size_t length, bool rtcp, uint16_t sequence) {
  if (outbound_ != nullptr) {
    size_t protected_length = 0;
    const srtp::SrtpResult result =
        rtcp ? outbound_->ProtectRtcp(send_buffer_, length, &protected_length)
             : outbound_->ProtectRtp(send_buffer_, length, &protected_length);
    if (result != srtp::SrtpResult::kOk) return;
    length = protected_length;
  }
  if (!rtcp && length <= kHistorySlotBytes) {
    Sent& sent = history_[sequence % kHistory];
    sent = Sent{sequence, static_cast<uint16_t>(length), 0};
    std::copy_n(send_buffer_.data(), length,
                history_bytes_.data() + (sequence % kHistory) * kHistorySlotBytes);
  }
  const net::SocketAddress& to =
      rtcp && !config_.rtcp_remote.empty() ? config_.rtcp_remote : config_.remote;
  if (socket_->Send(std::span<const uint8_t>(send_buffer_.data(), length), to)) {
    Bump(stats_->bytes_out, length);
    bytes_sent_ += length;
  }
}

}  // namespace chorus::engine
