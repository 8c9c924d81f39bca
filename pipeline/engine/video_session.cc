#include "pipeline/engine/video_session.h"

#include <time.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "pipeline/engine/endpoint_common.h"

namespace chorus::engine {
using detail::MonotonicUs;

VideoSession::~VideoSession() {
  for (auto& endpoint : endpoints_) worker_->loop().Remove(endpoint->fd(), endpoint.get());
  if (!endpoints_.empty()) worker_->RemoveTickListener(this);
}

absl::StatusOr<VideoAnswer> VideoSession::AddEndpoint(const std::string& id, bool secure,
                                                      srtp::SrtpSuite suite,
                                                      const VideoConfig& config,
                                                      std::unique_ptr<net::DatagramIo> socket) {
  return Attach(id, /*content_of=*/"", secure, suite, config, std::move(socket));
}

absl::StatusOr<VideoAnswer> VideoSession::AddContent(const std::string& owner, bool secure,
                                                     srtp::SrtpSuite suite,
                                                     const VideoConfig& config,
                                                     std::unique_ptr<net::DatagramIo> socket) {
  return Attach(owner + "~content", owner, secure, suite, config, std::move(socket));
}

absl::StatusOr<VideoAnswer> VideoSession::Attach(const std::string& id,
                                                 const std::string& content_of, bool secure,
                                                 srtp::SrtpSuite suite, const VideoConfig& config,
                                                 std::unique_ptr<net::DatagramIo> socket) {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->id() == id) return absl::AlreadyExistsError("the endpoint already has video");
  }
  auto created = VideoEndpoint::Create(id, secure, suite, config, std::move(socket), stats_);
  if (!created.ok()) return created.status();
  std::unique_ptr<VideoEndpoint> endpoint = *std::move(created);
  endpoint->is_content = !content_of.empty();
  endpoint->owner = content_of;
  endpoint->order = next_order_++;
  if (!worker_->loop().Add(endpoint->fd(), endpoint.get())) {
    return absl::ResourceExhaustedError("the video worker cannot watch another socket");
  }
  VideoAnswer answer = endpoint->answer();
  if (endpoints_.empty()) worker_->AddTickListener(this);
  endpoints_.push_back(std::move(endpoint));
  return answer;
}

void VideoSession::ApplyRouting(const std::string& id, const Routing& routing) {
  for (auto& endpoint : endpoints_) {
    if (endpoint->is_content && endpoint->owner == id) {
      endpoint->sharing = routing.content_sharing;
      endpoint->admitted = routing.admitted;
    }
    if (!endpoint->is_content && endpoint->id() == id) {
      endpoint->pinned = routing.pinned;
      endpoint->admitted = routing.admitted;
    }
  }
}

const VideoEndpoint* VideoSession::Presenting(int64_t now_us) const {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->is_content && endpoint->sharing && endpoint->admitted &&
        endpoint->last_picture_us() > 0 && now_us - endpoint->last_picture_us() < 2'000'000) {
      return endpoint.get();
    }
  }
  return nullptr;
}

void VideoSession::RemoveEndpoint(const std::string& id) {
  Erase([&](const VideoEndpoint& e) { return e.id() == id || (e.is_content && e.owner == id); });
  viewer_keys_.erase(id);
}

void VideoSession::RemoveCamera(const std::string& id) {
  Erase([&](const VideoEndpoint& e) { return !e.is_content && e.id() == id; });
  viewer_keys_.erase(id);
}

void VideoSession::RemoveContent(const std::string& owner) {
  Erase([&](const VideoEndpoint& e) { return e.is_content && e.owner == owner; });
}

void VideoSession::Erase(absl::FunctionRef<bool(const VideoEndpoint&)> matches) {
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    if (matches(**it)) {
      worker_->loop().Remove((*it)->fd(), it->get());
      it = endpoints_.erase(it);
    } else {
      ++it;
    }
  }
  if (endpoints_.empty()) {
    worker_->RemoveTickListener(this);
    views_.clear();
  }
}

const VideoEndpoint* VideoSession::endpoint(const std::string& id) const {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->id() == id) return endpoint.get();
  }
  return nullptr;
}

VideoEndpoint* VideoSession::endpoint(const std::string& id) {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->id() == id) return endpoint.get();
  }
  return nullptr;
}

std::string VideoSession::KeyOf(const VideoEndpoint& viewer, ViewPlan::Mode mode,
                                const std::vector<const VideoEndpoint*>& tiles) {
  const VideoConfig& c = viewer.config();
  std::string key = absl::StrCat(
      ViewPlan::ModeName(mode), "|", c.codec == video::VideoCodec::kVp8 ? "vp8" : "h264", "|",
      c.width, "x", c.height, "|", TierBitrate(c.bitrate_bps, viewer.bitrate_tier()));
  for (const VideoEndpoint* tile : tiles) absl::StrAppend(&key, "|", tile->id());
  return key;
}

// What a sender is asked to stay under (REMB): about 3.5 bit/s per pixel of the largest tile it
// fills in anyone's view (800 kbit/s for a 640x360 tile), at least 150 kbit/s (a picture ready
// for when it is shown larger) and at most 2.5 Mbit/s.
uint64_t BitrateForTile(int pixels) {
  return std::clamp<uint64_t>(static_cast<uint64_t>(pixels) * 7 / 2, 150'000, 2'500'000);
}

void VideoSession::Compose(View& view, const std::vector<const VideoEndpoint*>& tiles,
                           bool large_first, std::map<const VideoEndpoint*, int>* largest) {
  video::Picture& canvas = view.canvas;
  video::ClearCanvas(&canvas);
  if (tiles.empty()) return;
  std::vector<video::Tile> rects;
  if (large_first && tiles.size() > 1) {
    // One large tile over three quarters of the height, a strip of the others below it.
    const int large_height = (canvas.height * 3 / 4) & ~1;
    rects.push_back(video::Tile{0, 0, canvas.width & ~1, large_height});
    const int count = static_cast<int>(tiles.size()) - 1;
    const int width = (canvas.width / count) & ~1;
    for (int i = 0; i < count; ++i) {
      rects.push_back(
          video::Tile{i * width, large_height, width, (canvas.height - large_height) & ~1});
    }
  } else {
    rects = video::GridTiles(static_cast<int>(tiles.size()), canvas.width, canvas.height);
  }
  for (size_t i = 0; i < tiles.size() && i < rects.size(); ++i) {
    video::DrawTile(&canvas, rects[i], tiles[i]->has_picture() ? &tiles[i]->picture() : nullptr);
    int& area = (*largest)[tiles[i]];
    area = std::max(area, rects[i].width * rects[i].height);
  }
}

VideoEndpoint* VideoSession::ForwardableSource(const VideoEndpoint& viewer,
                                               const std::vector<VideoEndpoint*>& tiles,
                                               const VideoEndpoint* presenting) {
  if (tiles.size() != 1 || tiles[0] == presenting || tiles[0] == &viewer) return nullptr;
  VideoEndpoint* source = tiles[0];
  if (source->is_content || source->config().codec != viewer.config().codec ||
      !source->has_picture() || !source->forwardable_as_sent()) {
    return nullptr;
  }
  const video::Picture& picture = source->picture();
  // The camera's size is the viewer's view size: a receiver keeps one size throughout (a camera
  // that scales down, as browsers do under load, is composed into the view's size again).
  if (picture.width != viewer.config().width || picture.height != viewer.config().height) {
    return nullptr;
  }
  return source;
}

size_t VideoSession::forwarded_viewers() const {
  size_t count = 0;
  for (const auto& [viewer, forward] : forwards_) count += forward.started ? 1 : 0;
  return count;
}

void VideoSession::OnTick(int64_t now_us) {
  if (board_ != nullptr) {
    const std::string speaker = board_->Get();
    if (!speaker.empty() && speaker != shown_speaker_) {
      if (speaker != pending_speaker_) {
        pending_speaker_ = speaker;
        pending_since_us_ = now_us;
      } else if (now_us - pending_since_us_ >= kSpeakerHoldUs || shown_speaker_.empty()) {
        shown_speaker_ = speaker;
      }
    } else {
      pending_speaker_.clear();
    }
  }
  const VideoEndpoint* presenting = Presenting(now_us);
  for (auto& [key, view] : views_) view.used = false;
  largest_tile_px_.clear();
  const uint32_t rtp_timestamp = static_cast<uint32_t>(now_us * 9 / 100);  // 90 kHz
  // Every admitted camera stream is a viewer too (content streams are shown, never sent a view;
  // participants in the lobby see nothing and are seen by nobody).
  std::vector<VideoEndpoint*> cameras;
  std::vector<TileSource> sources;
  for (auto& endpoint : endpoints_) {
    if (endpoint->is_content || !endpoint->admitted) continue;
    cameras.push_back(endpoint.get());
    sources.push_back(TileSource{endpoint->id(), endpoint->order});
  }
  // Group the viewers by key; a viewer new to its key, or asking, needs a keyframe.
  std::map<std::string, std::vector<VideoEndpoint*>> viewers;
  std::map<std::string, std::pair<std::vector<const VideoEndpoint*>, bool>> tiles_of;
  std::map<std::string, bool> keyframe;
  // Viewers forwarded a camera this tick (with the first of its frames they get), the cameras
  // forwarded, and those shown in a composed view.
  struct Forwarded {
    VideoEndpoint* viewer;
    VideoEndpoint* source;
    uint32_t offset;
    size_t first;
  };
  std::vector<Forwarded> forwarded;
  std::map<const VideoEndpoint*, uint64_t> forward_cap_bps;
  std::set<const VideoEndpoint*> composed;
  std::map<std::string, Forward> forwards;
  for (size_t v = 0; v < cameras.size(); ++v) {
    VideoEndpoint* endpoint = cameras[v];
    const int tier_before = endpoint->bitrate_tier();
    const int tier = endpoint->UpdateTier(now_us);
    if (tier != tier_before)
      Bump(tier > tier_before ? stats_->video_tier_downs : stats_->video_tier_ups);
    const ViewPlan plan = PlanView(sources, static_cast<int>(v), presenting != nullptr,
                                   endpoint->pinned, layout_, shown_speaker_);
    std::vector<VideoEndpoint*> tiles;
    tiles.reserve(plan.tiles.size());
    for (int i : plan.tiles) {
      tiles.push_back(i == ViewPlan::kContent ? const_cast<VideoEndpoint*>(presenting)
                                              : cameras[static_cast<size_t>(i)]);
    }
    if (VideoEndpoint* alone = ForwardableSource(*endpoint, tiles, presenting)) {
      auto previous_forward = forwards_.find(endpoint->id());
      Forward forward;
      if (previous_forward != forwards_.end() && previous_forward->second.source == alone->id()) {
        forward = previous_forward->second;
      } else {
        forward.source = alone->id();
        alone->RequestKeyframe(now_us);  // forwarding starts at one of its keyframes
      }
      size_t first = 0;
      const auto frames = alone->received_frames();
      if (!forward.started) {
        while (first < frames.size() && !frames[first].keyframe) ++first;
        if (first < frames.size()) {
          forward.started = true;
          // One frame period after the last frame it was sent, whatever clock that came from.
          const uint32_t next = endpoint->frames_sent() > 0
                                    ? endpoint->last_timestamp() + kVideoTickUs * 9 / 100
                                    : rtp_timestamp;
          forward.offset = next - frames[first].timestamp;
        }
      }
      uint64_t& cap = forward_cap_bps.try_emplace(alone, UINT64_MAX).first->second;
      cap = std::min(cap, TierBitrate(static_cast<uint64_t>(endpoint->config().bitrate_bps),
                                      endpoint->bitrate_tier()));
      int& area = largest_tile_px_[alone];
      area = std::max(area, endpoint->config().width * endpoint->config().height);
      forwards[endpoint->id()] = forward;
      if (forward.started) {
        if (endpoint->TakeKeyframeRequest()) alone->RequestKeyframe(now_us);
        forwarded.push_back(Forwarded{endpoint, alone, forward.offset, first});
        // Back to a composed view, whatever it is, starts with a keyframe.
        viewer_keys_[endpoint->id()] = "forwarded " + alone->id();
        continue;
      }
      // Until the camera's keyframe comes, the composed view goes on (no freeze).
    }
    auto was = forwards_.find(endpoint->id());
    if (was != forwards_.end() && was->second.started && !forwards.contains(endpoint->id())) {
      // Back from forwarded frames: the view's timestamps go on from the last one sent.
      endpoint->timestamp_shift =
          endpoint->last_timestamp() + kVideoTickUs * 9 / 100 - rtp_timestamp;
    }
    composed.insert(tiles.begin(), tiles.end());
    std::vector<const VideoEndpoint*> shown(tiles.begin(), tiles.end());
    std::string key = KeyOf(*endpoint, plan.mode, shown);
    bool& wants = keyframe[key];
    wants |= endpoint->TakeKeyframeRequest();
    std::string& previous = viewer_keys_[endpoint->id()];
    if (previous != key) wants = true;
    previous = key;
    viewers[key].push_back(endpoint);
    tiles_of.emplace(key, std::make_pair(std::move(shown), plan.large_first()));
  }
  forwards_ = std::move(forwards);
  // Each forwarded camera's frames are cut into RTP payloads once, for all its viewers.
  std::map<const VideoEndpoint*, std::vector<std::vector<std::vector<uint8_t>>>> cut;
  for (const Forwarded& f : forwarded) {
    const auto frames = f.source->received_frames();
    auto [it, fresh] = cut.try_emplace(f.source);
    if (fresh) {
      for (const VideoEndpoint::ReceivedFrame& frame : frames) {
        it->second.push_back(f.source->config().codec == video::VideoCodec::kVp8
                                 ? video::PacketizeVp8(frame.bytes, VideoEndpoint::kMaxPayload)
                                 : video::PacketizeH264(frame.bytes, VideoEndpoint::kMaxPayload));
      }
    }
    for (size_t i = f.first; i < frames.size(); ++i) {
      f.viewer->SendFrame(it->second[i], frames[i].timestamp + f.offset);
      Bump(stats_->video_frames_forwarded);
    }
    f.viewer->MaybeSendReport(now_us, f.viewer->last_timestamp());
  }
  for (auto& [key, group] : viewers) {
    auto [it, created] = views_.try_emplace(key);
    View& view = it->second;
    view.used = true;
    const VideoConfig& config = group.front()->config();
    if (created) {
      video::VideoEncoderConfig encoder_config;
      encoder_config.codec = config.codec;
      encoder_config.width = config.width;
      encoder_config.height = config.height;
      // The view's bitrate in its viewers' tier (all of them share the key, so the tier).
      encoder_config.bitrate_bps = static_cast<int>(
          TierBitrate(static_cast<uint64_t>(config.bitrate_bps), group.front()->bitrate_tier()));
      encoder_config.frame_rate = static_cast<int>(1'000'000 / kVideoTickUs);
      // A keyframe at least every 3 s: receivers that cannot ask for one (plain RTP and SIP
      // clients without RTCP feedback) still recover from loss or a late start.
      encoder_config.keyframe_interval = static_cast<int>(3'000'000 / kVideoTickUs);
      if (!StartView(view, encoder_config)) continue;  // sizes were checked when it joined
      keyframe[key] = true;
    }
    if (view.encoder == nullptr) continue;
    const auto& [tiles, large_first] = tiles_of[key];
    Compose(view, tiles, large_first, &largest_tile_px_);
    Bump(stats_->video_frames_composed);
    bool is_keyframe = false;
    const int64_t encode_start = MonotonicUs();
    if (!view.encoder->Encode(view.canvas, keyframe[key], &view.encoded, &is_keyframe).ok() ||
        view.encoded.empty()) {
      continue;
    }
    Bump(stats_->video_frames_encoded);
    stats_
        ->video_encode_us[EngineStats::VideoEncodeIndex(
            config.codec == video::VideoCodec::kVp8 ? 0 : 1, config.height)]
        .Observe(static_cast<double>(MonotonicUs() - encode_start));
    // Cut into RTP payloads once; every viewer sends the same payloads under its own header.
    view.payloads = config.codec == video::VideoCodec::kVp8
                        ? video::PacketizeVp8(view.encoded, VideoEndpoint::kMaxPayload)
                        : video::PacketizeH264(view.encoded, VideoEndpoint::kMaxPayload);
    for (VideoEndpoint* viewer : group) {
      viewer->SendFrame(view.payloads, rtp_timestamp + viewer->timestamp_shift);
      viewer->MaybeSendReport(now_us, rtp_timestamp + viewer->timestamp_shift);
    }
  }
  // Each sender is asked to stay under what its largest tile needs, and under what the viewers
  // it is forwarded to take (REMB). A camera only forwarded is not decoded (but its keyframes);
  // frames are kept for the next tick of the cameras forwarded now.
  for (auto& endpoint : endpoints_) {
    auto found = largest_tile_px_.find(endpoint.get());
    uint64_t cap = BitrateForTile(found == largest_tile_px_.end() ? 0 : found->second);
    auto forwarded_cap = forward_cap_bps.find(endpoint.get());
    if (forwarded_cap != forward_cap_bps.end()) cap = std::min(cap, forwarded_cap->second);
    endpoint->MaybeSendRemb(now_us, cap);
    endpoint->ClearReceivedFrames();
    if (endpoint->is_content) continue;
    const bool is_forwarded = forwarded_cap != forward_cap_bps.end();
    endpoint->keep_frames = is_forwarded;
    if (is_forwarded &&
        MonotonicUs() - endpoint->last_keyframe_us() >= kForwardKeyframeIntervalUs) {
      endpoint->RequestKeyframe(now_us);  // at most every 500 ms until one comes
    }
    endpoint->SetDecodeNeeded(!is_forwarded || composed.contains(endpoint.get()), now_us);
  }
  // Views nobody has any more wait, idle, for a new view to take their encoder and canvas.
  for (auto it = views_.begin(); it != views_.end();) {
    if (it->second.used) {
      ++it;
      continue;
    }
    if (it->second.encoder != nullptr) {
      it->second.idle_since_us = now_us;
      idle_views_.push_back(std::move(it->second));
    }
    it = views_.erase(it);
  }
  idle_views_.erase(std::remove_if(idle_views_.begin(), idle_views_.end(),
                                   [now_us](const View& idle) {
                                     return now_us - idle.idle_since_us >= kIdleViewUs;
                                   }),
                    idle_views_.end());
  if (idle_views_.size() > kMaxIdleViews) {
    idle_views_.erase(idle_views_.begin(),
                      idle_views_.end() - static_cast<std::ptrdiff_t>(kMaxIdleViews));
  }
}

bool VideoSession::StartView(View& view, const video::VideoEncoderConfig& settings) {
  for (auto it = idle_views_.begin(); it != idle_views_.end(); ++it) {
    const video::VideoEncoderConfig& idle = it->settings;
    if (idle.codec != settings.codec || idle.width != settings.width ||
        idle.height != settings.height || idle.bitrate_bps != settings.bitrate_bps) {
      continue;
    }
    // Its next frame is a keyframe (the caller asks for one), so nothing of the view it served
    // carries over.
    view.encoder = std::move(it->encoder);
    view.settings = idle;
    view.canvas = std::move(it->canvas);
    view.encoded = std::move(it->encoded);
    view.payloads = std::move(it->payloads);
    idle_views_.erase(it);
    return true;
  }
  auto encoder = video::VideoEncoder::Create(settings);
  if (!encoder.ok()) return false;
  Bump(stats_->video_encoders_started);
  view.encoder = *std::move(encoder);
  view.settings = settings;
  view.canvas.Allocate(settings.width, settings.height);
  return true;
}

}  // namespace chorus::engine
