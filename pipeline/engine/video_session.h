#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/media_worker.h"
#include "pipeline/engine/session_types.h"
#include "pipeline/engine/video_endpoint.h"
#include "pipeline/engine/view_plan.h"
#include "pipeline/video/compositor.h"
#include "pipeline/video/video_codec.h"

namespace chorus::engine {

// The video frame period: 25 frames per second.
inline constexpr int64_t kVideoTickUs = 40'000;

// The video of one session, on a video worker (its own thread: video never delays an audio
// tick). Every tick (the video frame period) each participant's view is worked out as a key:
// the layout, the participants in its tiles, its codec, size and bitrate. Each distinct key is
// composed once and encoded once; every participant with that key gets the same encoded frame,
// sent with its own SSRC, sequence numbers and SRTP context (DESIGN.md, Mixing). A view seen for
// the first time, or by a new participant, or asked for by a PLI/FIR, starts with a keyframe.
// The key's bitrate is the viewer's tier of it (bitrate_tiers.h: full, half or a quarter, from
// the REMB and loss reports of its link), so viewers on poor links share a lower-rate encoder of
// the same view instead of each getting their own.
// A viewer whose view is one camera alone (a two-party room without self-view, a layout of one
// tile), in the viewer's codec and of its view size, is forwarded that camera's frames instead:
// from the camera's next keyframe (asked for with a PLI) the frames go to the viewer as they came,
// cut into RTP packets under the viewer's own SSRC, sequence numbers and (shifted) timestamps,
// and nothing is composed or encoded for it; until that keyframe it keeps its composed view, so
// the switch shows no freeze. Its keyframe requests go on to the camera, its NACKs are answered
// from its own send history, and the camera is asked (REMB) to stay under what the viewer's tier
// takes. A camera only forwarded is not decoded but for its keyframes. Back to a composed view,
// the new view starts with a keyframe of its encoder.
// Thread: the video worker.
class VideoSession final : public TickListener {
 public:
  VideoSession(MediaWorker* worker, EngineStats* stats) : worker_(worker), stats_(stats) {}
  ~VideoSession() override;

  absl::StatusOr<VideoAnswer> AddEndpoint(const std::string& id, bool secure, srtp::SrtpSuite suite,
                                          const VideoConfig& config,
                                          std::unique_ptr<net::DatagramIo> socket);
  // The endpoint's content stream (screen sharing), received only.
  absl::StatusOr<VideoAnswer> AddContent(const std::string& owner, bool secure,
                                         srtp::SrtpSuite suite, const VideoConfig& config,
                                         std::unique_ptr<net::DatagramIo> socket);
  // What of an endpoint's routing concerns video: whether it shares its content now
  // (routing.content_sharing) and whom it sees large (routing.pinned, e.g. a sign-language
  // interpreter).
  void ApplyRouting(const std::string& id, const Routing& routing);
  // Removes the endpoint's video and content, if any.
  void RemoveEndpoint(const std::string& id);
  // Removes only the camera stream of `id` (its camera section left in a renegotiation): what
  // it sent and the view it was sent; its screen share, if any, stays.
  void RemoveCamera(const std::string& id);
  // Removes only the content stream (screen share) of `owner`.
  void RemoveContent(const std::string& owner);
  void SetLayout(const LayoutConfig& layout) { layout_ = layout; }
  void set_speaker_board(std::shared_ptr<SpeakerBoard> board) { board_ = std::move(board); }
  // The speaker shown large in the speaker layout: the floor's loudest speaker once it has led
  // for kSpeakerHoldUs (so the picture does not flap between two talkers).
  static constexpr int64_t kSpeakerHoldUs = 1'000'000;
  const std::string& shown_speaker() const { return shown_speaker_; }
  const LayoutConfig& layout() const { return layout_; }

  void OnTick(int64_t now_us) override;

  size_t endpoint_count() const { return endpoints_.size(); }
  // Distinct views (compositors and encoders) in use after the last tick.
  size_t views_in_use() const { return views_.size(); }
  // Viewers sent the frames of the camera they see alone after the last tick.
  size_t forwarded_viewers() const;
  const VideoEndpoint* endpoint(const std::string& id) const;
  VideoEndpoint* endpoint(const std::string& id);

 private:
  // Removes every endpoint `matches` (and stops ticking when none is left).
  void Erase(absl::FunctionRef<bool(const VideoEndpoint&)> matches);
  struct View {
    std::unique_ptr<video::VideoEncoder> encoder;
    video::VideoEncoderConfig settings;  // what `encoder` was started with
    video::Picture canvas;
    std::vector<uint8_t> encoded;
    std::vector<std::vector<uint8_t>> payloads;  // `encoded` cut into RTP payloads
    bool used = false;
    int64_t idle_since_us = 0;  // in idle_views_
  };
  // Views no viewer has any more are kept a while (kIdleViewUs, at most kMaxIdleViews) so that a
  // new view with the same encoder settings (after a speaker switch or a pin) takes their encoder
  // and canvas instead of starting new ones: the pool of canvases and encoders.
  static constexpr int64_t kIdleViewUs = 5'000'000;
  static constexpr size_t kMaxIdleViews = 4;
  // Fills a new view: an idle view's encoder and canvas when their settings match, or new ones.
  // False when no encoder can be started.
  bool StartView(View& view, const video::VideoEncoderConfig& settings);
  // Adds a camera stream (`content_of` empty) or the content stream of `content_of`.
  absl::StatusOr<VideoAnswer> Attach(const std::string& id, const std::string& content_of,
                                     bool secure, srtp::SrtpSuite suite, const VideoConfig& config,
                                     std::unique_ptr<net::DatagramIo> socket);
  // The content stream shown large now (shared, a picture in the last 2 s), or null.
  const VideoEndpoint* Presenting(int64_t now_us) const;
  // The view key: layout, codec, size, the bitrate of the viewer's tier and the participants in
  // the tiles, in order.
  static std::string KeyOf(const VideoEndpoint& viewer, ViewPlan::Mode mode,
                           const std::vector<const VideoEndpoint*>& tiles);
  // Draws the tiles; records in `largest` the largest tile (in pixels) each source got.
  static void Compose(View& view, const std::vector<const VideoEndpoint*>& tiles, bool large_first,
                      std::map<const VideoEndpoint*, int>* largest);

  // A camera forwarded is asked for a keyframe when it sent none for this long, as a view's own
  // encoder makes one: viewers that cannot ask (plain RTP and SIP clients without RTCP feedback)
  // still start late or recover from a loss.
  static constexpr int64_t kForwardKeyframeIntervalUs = 3'000'000;
  // The camera `viewer` could be forwarded instead of a composed view (its view is that camera
  // alone, in the viewer's codec, its last picture of the viewer's view size), or null.
  static VideoEndpoint* ForwardableSource(const VideoEndpoint& viewer,
                                          const std::vector<VideoEndpoint*>& tiles,
                                          const VideoEndpoint* presenting);
  struct Forward {
    std::string source;    // the camera's endpoint id
    bool started = false;  // from one of its keyframes on
    uint32_t offset = 0;   // added to the camera's RTP timestamps
  };

  MediaWorker* const worker_;
  EngineStats* const stats_;
  std::map<std::string, Forward> forwards_;  // by viewer id
  LayoutConfig layout_;
  std::vector<std::unique_ptr<VideoEndpoint>> endpoints_;
  std::map<std::string, std::string> viewer_keys_;  // endpoint id -> the key it saw last tick
  // This tick's largest tile per source, for the bitrate each sender is asked to stay under.
  std::map<const VideoEndpoint*, int> largest_tile_px_;
  std::map<std::string, View> views_;
  std::vector<View> idle_views_;  // oldest first
  uint64_t next_order_ = 0;
  std::shared_ptr<SpeakerBoard> board_;
  std::string shown_speaker_;
  std::string pending_speaker_;
  int64_t pending_since_us_ = 0;
};

}  // namespace chorus::engine
