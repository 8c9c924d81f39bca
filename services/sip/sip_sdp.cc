#include "services/sip/sip_sdp.h"

// GCC 12 reports a false -Wrestrict in std::string assignments at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace chorus::sip {
namespace {

namespace v1 = chorus::v1;

// The largest offer taken (a room system's offer with video and content is a few kB).
constexpr size_t kMaxOffer = 16 * 1024;

// A sofia-sip memory home: what the parser allocates goes with it.
struct HomeUnref {
  void operator()(su_home_t* home) const { su_home_unref(home); }
};
using Home = std::unique_ptr<su_home_t, HomeUnref>;

struct Suite {
  const char* name;
  v1::SrtpSuite suite;
};
constexpr Suite kSuites[] = {
    {"AES_CM_128_HMAC_SHA1_80", v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80},
    {"AES_CM_128_HMAC_SHA1_32", v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_32},
    {"AEAD_AES_128_GCM", v1::SRTP_SUITE_AEAD_AES_128_GCM},
};

const char* SuiteName(v1::SrtpSuite suite) {
  for (const Suite& known : kSuites) {
    if (known.suite == suite) return known.name;
  }
  return kSuites[0].name;
}

// "a=crypto:<tag> <suite> inline:<key>[|lifetime][|mki:length] [session params]" (RFC 4568),
// when its suite is one Chorus speaks and it has no MKI (Chorus keys one context per stream).
bool ParseCrypto(absl::string_view value, unsigned* tag, v1::SrtpKey* key) {
  std::vector<absl::string_view> fields = absl::StrSplit(value, ' ', absl::SkipEmpty());
  if (fields.size() < 3 || !absl::SimpleAtoi(fields[0], tag) || *tag > 999999999) return false;
  const Suite* suite = nullptr;
  for (const Suite& known : kSuites) {
    if (fields[1] == known.name) suite = &known;
  }
  if (suite == nullptr || !absl::StartsWith(fields[2], "inline:")) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(fields[2].substr(7), '|');
  if (parts.empty() || parts[0].empty() || parts[0].size() > 128 || parts.size() > 2) return false;
  if (parts.size() == 2 && absl::StrContains(parts[1], ':')) return false;  // an MKI
  key->set_suite(suite->suite);
  key->set_key_base64(std::string(parts[0]));
  return true;
}

// Static payload types a caller may offer without an rtpmap line (RFC 3551).
bool StaticCodec(unsigned pt, v1::Codec* codec) {
  switch (pt) {
    case 0:
      codec->set_name("PCMU");
      break;
    case 8:
      codec->set_name("PCMA");
      break;
    case 9:
      codec->set_name("G722");
      break;
    default:
      return false;
  }
  codec->set_payload_type(pt);
  codec->set_clock_rate(8000);
  codec->set_channels(1);
  return true;
}

bool Token(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`{|}~/").find(c) != std::string_view::npos;
  });
}
// A media format that is not an RTP payload type ("*" for BFCP, names): no '/' (sofia-sip's
// parser asks for gigabytes on a format "/").
bool Format(absl::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*' ||
           c == '-' || c == '.' || c == '_';
  });
}
bool Number(absl::string_view text) {
  return !text.empty() && text.size() <= 20 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The shape of the description before it reaches the parser: "<letter>=<value>" lines of
// printable ASCII (UTF-8 only in the free-text s= and i= lines), the o=, c= and m= lines with
// their fields in form. sofia-sip's parser asks for gigabytes on a media format "/" and on an
// 8-bit byte among a media line's formats (found by the offer fuzzer); nothing a caller may
// legitimately send is refused here.
bool WellFormed(absl::string_view sdp) {
  for (absl::string_view line : absl::StrSplit(sdp, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() < 2 || line[0] < 'a' || line[0] > 'z' || line[1] != '=') return false;
    const bool free_text = line[0] == 's' || line[0] == 'i';
    for (char c : line) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte == 0x7f || (byte >= 0x80 && !free_text)) return false;
    }
    const std::vector<absl::string_view> fields = absl::StrSplit(line.substr(2), ' ');
    if (line[0] == 'o') {
      // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
      if (fields.size() != 6 || !Number(fields[1]) || !Number(fields[2]) || !Token(fields[3]) ||
          !Token(fields[4]) || fields[5].empty()) {
        return false;
      }
    } else if (line[0] == 'c') {
      if (fields.size() != 3 || !Token(fields[0]) || !Token(fields[1]) || fields[2].empty()) {
        return false;
      }
    } else if (line[0] == 'm') {
      // m=<media> <port>[/<number>] <proto> <fmt> ...: formats are payload types for RTP.
      if (fields.size() < 4 || fields.size() > 68 || !Token(fields[0]) || !Token(fields[2])) {
        return false;
      }
      const std::vector<absl::string_view> port = absl::StrSplit(fields[1], '/');
      if (port.size() > 2 || !Number(port[0]) || (port.size() == 2 && !Number(port[1]))) {
        return false;
      }
      const bool rtp = absl::StrContains(fields[2], "RTP");
      for (size_t i = 3; i < fields.size(); ++i) {
        if (rtp ? !Number(fields[i]) || fields[i].size() > 3 : !Format(fields[i])) return false;
      }
    }
  }
  return true;
}

// Video codecs Chorus takes from a room system: VP8, and H.264 in packetization mode 1.
bool VideoCodec(const sdp_rtpmap_t& map) {
  if (map.rm_encoding == nullptr) return false;
  if (absl::EqualsIgnoreCase(map.rm_encoding, "VP8")) return true;
  return absl::EqualsIgnoreCase(map.rm_encoding, "H264") && map.rm_fmtp != nullptr &&
         absl::StrContains(absl::AsciiStrToLower(map.rm_fmtp), "packetization-mode=1");
}

// Where `media` receives: its own c= line, else the session's; nullptr when neither has an
// address Chorus can use.
const sdp_connection_t* ConnectionOf(const sdp_media_t& media, const sdp_session_t& session) {
  const sdp_connection_t* connection =
      media.m_connections != nullptr ? media.m_connections : session.sdp_connection;
  if (connection == nullptr || connection->c_address == nullptr ||
      absl::string_view(connection->c_address).size() > 64) {
    return nullptr;
  }
  return connection;
}

// RFC 4796: a stream marked a=content other than "main" (slides, speaker, sl, alt).
bool IsContent(const sdp_media_t& media) {
  for (const sdp_attribute_t* a = media.m_attributes; a != nullptr; a = a->a_next) {
    if (a->a_name != nullptr && absl::EqualsIgnoreCase(a->a_name, "content") &&
        (a->a_value == nullptr || !absl::EqualsIgnoreCase(a->a_value, "main"))) {
      return true;
    }
  }
  return false;
}

// One offered stream (`media`, audio or video) as Chorus takes it: where it receives, its codecs
// (audio: telephone events apart, in `offer`), its SDES key (`tag`: the crypto line's), RTCP on
// the RTP port. FAILED_PRECONDITION when nothing in it can be used.
absl::Status TakeStream(const sdp_media_t& media, const sdp_connection_t& connection, bool secure,
                        CallerOffer* offer, v1::StreamOffer* stream, unsigned* tag,
                        bool* rtcp_mux) {
  const bool audio = media.m_type == sdp_media_audio;
  stream->set_kind(audio ? v1::MEDIA_KIND_AUDIO : v1::MEDIA_KIND_VIDEO);
  stream->set_address(connection.c_address);
  stream->set_port(static_cast<uint32_t>(media.m_port));
  // Room systems and phones behind an SBC or NAT: answer where their packets come from.
  stream->set_learn_address(true);
  // RTP formats come as rtpmaps in the m= line's order (static payload types without an
  // a=rtpmap line too, named from the parser's table); anything else as plain formats.
  std::vector<v1::Codec> codecs;
  for (const sdp_rtpmap_t* map = media.m_rtpmaps; map != nullptr; map = map->rm_next) {
    v1::Codec codec;
    if (!audio) {
      if (!VideoCodec(*map)) continue;
      codec.set_name(map->rm_encoding);
      codec.set_payload_type(map->rm_pt);
      codec.set_clock_rate(90000);
      if (map->rm_fmtp != nullptr) codec.set_fmtp(map->rm_fmtp);
    } else if (map->rm_encoding == nullptr || map->rm_encoding[0] == '\0') {
      if (!StaticCodec(map->rm_pt, &codec)) continue;
    } else if (absl::EqualsIgnoreCase(map->rm_encoding, "telephone-event")) {
      if (offer->telephone_event_pt < 0) {
        offer->telephone_event_pt = static_cast<int>(map->rm_pt);
        offer->telephone_event_rate = map->rm_rate > 0 ? static_cast<int>(map->rm_rate) : 8000;
      }
      continue;
    } else {
      codec.set_name(map->rm_encoding);
      codec.set_payload_type(map->rm_pt);
      codec.set_clock_rate(static_cast<uint32_t>(map->rm_rate));
      unsigned channels = 1;
      if (map->rm_params != nullptr && !absl::SimpleAtoi(map->rm_params, &channels)) channels = 1;
      codec.set_channels(channels);
      if (map->rm_fmtp != nullptr) codec.set_fmtp(map->rm_fmtp);
    }
    codecs.push_back(std::move(codec));
  }
  for (const sdp_list_t* format = media.m_format; audio && format != nullptr;
       format = format->l_next) {
    unsigned pt = 0;
    v1::Codec codec;
    if (format->l_text != nullptr && absl::SimpleAtoi(format->l_text, &pt) &&
        StaticCodec(pt, &codec)) {
      codecs.push_back(std::move(codec));
    }
  }
  for (v1::Codec& codec : codecs) {
    if (codec.name().size() > 32 || codec.fmtp().size() > 512 || codec.clock_rate() > 192000 ||
        codec.channels() > 8 || stream->codecs_size() >= 32) {
      continue;
    }
    *stream->add_codecs() = std::move(codec);
  }
  if (stream->codecs().empty()) {
    return absl::FailedPreconditionError(audio ? "no audio codec offered"
                                               : "no video codec Chorus takes offered");
  }
  bool keyed = false;
  uint32_t rtcp_port = static_cast<uint32_t>(media.m_port) + 1;  // RFC 3550, unless a=rtcp
  for (const sdp_attribute_t* a = media.m_attributes; a != nullptr; a = a->a_next) {
    if (a->a_name == nullptr) continue;
    if (absl::EqualsIgnoreCase(a->a_name, "rtcp-mux")) *rtcp_mux = true;
    uint32_t port = 0;
    if (absl::EqualsIgnoreCase(a->a_name, "rtcp") && a->a_value != nullptr &&
        absl::SimpleAtoi(
            absl::string_view(a->a_value).substr(0, absl::string_view(a->a_value).find(' ')),
            &port) &&
        port > 0 && port <= 65535) {
      rtcp_port = port;  // RFC 3605 (its address, when another, is not taken)
    }
    if (secure && !keyed && absl::EqualsIgnoreCase(a->a_name, "crypto") && a->a_value != nullptr) {
      keyed = ParseCrypto(absl::string_view(a->a_value), tag, stream->mutable_key());
    }
  }
  if (secure && !keyed) {
    return absl::FailedPreconditionError(
        "no SDES key with a suite Chorus speaks (AES_CM_128_HMAC_SHA1_80 or _32, "
        "AEAD_AES_128_GCM)");
  }
  // Keyframe requests and reports go where the endpoint takes RTCP.
  if (!*rtcp_mux && rtcp_port <= 65535) stream->set_rtcp_port(rtcp_port);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CallerOffer> ParseCallerOffer(std::string_view sdp, bool allow_plain_rtp) {
  if (sdp.empty()) return absl::InvalidArgumentError("the INVITE has no SDP offer");
  if (sdp.size() > kMaxOffer) return absl::InvalidArgumentError("the SDP offer is too long");
  if (!WellFormed(absl::string_view(sdp.data(), sdp.size()))) {
    return absl::InvalidArgumentError("the SDP offer has bytes that SDP does not allow there");
  }
  Home home(static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
  if (home == nullptr) return absl::ResourceExhaustedError("out of memory");
  sdp_parser_t* parser = sdp_parse(home.get(), sdp.data(), static_cast<issize_t>(sdp.size()), 0);
  std::unique_ptr<sdp_parser_t, void (*)(sdp_parser_t*)> owned(parser, sdp_parser_free);
  const sdp_session_t* session = parser != nullptr ? sdp_session(parser) : nullptr;
  if (session == nullptr) return absl::InvalidArgumentError("the SDP offer does not parse");
  const sdp_media_t* audio = nullptr;
  for (const sdp_media_t* media = session->sdp_media; media != nullptr; media = media->m_next) {
    if (media->m_type == sdp_media_audio && media->m_port != 0 && !media->m_rejected) {
      audio = media;
      break;
    }
  }
  if (audio == nullptr) return absl::InvalidArgumentError("the SDP offer has no audio");
  const bool secure = audio->m_proto == sdp_proto_srtp;
  if (!secure && audio->m_proto != sdp_proto_rtp) {
    return absl::FailedPreconditionError("the audio is neither RTP/SAVP nor RTP/AVP");
  }
  if (!secure && !allow_plain_rtp) {
    return absl::FailedPreconditionError("SRTP with SDES keys (RTP/SAVP) is required");
  }
  const sdp_connection_t* connection = ConnectionOf(*audio, *session);
  if (connection == nullptr || audio->m_port > 65535) {
    return absl::InvalidArgumentError("the audio has no address to send to");
  }

  CallerOffer offer;
  offer.mode = static_cast<int>(audio->m_mode) & 3;
  offer.rtp.set_transport(secure ? v1::TRANSPORT_SRTP : v1::TRANSPORT_RTP_INSECURE);
  v1::StreamOffer* stream = offer.rtp.add_streams();
  absl::Status taken =
      TakeStream(*audio, *connection, secure, &offer, stream, &offer.crypto_tag, &offer.rtcp_mux);
  if (!taken.ok()) return taken;
  // The first video stream of the audio's transport that is content or not (`content`), that
  // Chorus can take (a codec, a key), and that `usable` accepts; nullptr when none.
  auto take_video = [&](bool content, auto usable, v1::StreamOffer* out, unsigned* tag,
                        bool* rtcp_mux) -> const sdp_media_t* {
    for (const sdp_media_t* media = session->sdp_media; media != nullptr; media = media->m_next) {
      if (media->m_type != sdp_media_video || media->m_port == 0 || media->m_rejected ||
          media->m_proto != audio->m_proto || media->m_port > 65535 ||
          IsContent(*media) != content || !usable(*media)) {
        continue;
      }
      const sdp_connection_t* where = ConnectionOf(*media, *session);
      CallerOffer scratch;
      if (where != nullptr &&
          TakeStream(*media, *where, secure, &scratch, out, tag, rtcp_mux).ok()) {
        return media;
      }
      out->Clear();
    }
    return nullptr;
  };
  // A room system's camera: not content (RFC 4796: "main", or no a=content). Anything else
  // offered is declined in the answer (port 0), and the call goes on.
  v1::StreamOffer video;
  const sdp_media_t* camera = take_video(
      false, [](const sdp_media_t&) { return true; }, &video, &offer.video_crypto_tag,
      &offer.video_rtcp_mux);
  if (camera != nullptr) {
    // Room systems show 720p: the view they get, and its bitrate tier.
    video.set_width(1280);
    video.set_height(720);
    *offer.rtp.add_streams() = std::move(video);
    offer.video_mode = static_cast<int>(camera->m_mode) & 3;
  }
  // A room system presenting: a content stream it only sends (a sendrecv content line is the
  // capability a room system offers in every INVITE, not a presentation).
  const sdp_media_t* content = take_video(
      true, [](const sdp_media_t& media) { return static_cast<int>(media.m_mode) == 1; },
      &offer.content, &offer.content_crypto_tag, &offer.content_rtcp_mux);
  if (content != nullptr) offer.content.set_kind(v1::MEDIA_KIND_CONTENT);
  // Every m= line in its order, for the answer (RFC 3264: the same lines, declined ones with port
  // 0).
  for (const sdp_media_t* media = session->sdp_media; media != nullptr; media = media->m_next) {
    CallerOffer::Line line;
    line.media = media->m_type_name != nullptr ? media->m_type_name : "application";
    line.proto = media->m_proto_name != nullptr ? media->m_proto_name : "RTP/AVP";
    for (const sdp_rtpmap_t* map = media->m_rtpmaps; map != nullptr; map = map->rm_next) {
      absl::StrAppend(&line.formats, line.formats.empty() ? "" : " ", map->rm_pt);
    }
    for (const sdp_list_t* format = media->m_format; format != nullptr; format = format->l_next) {
      if (format->l_text != nullptr && !absl::StrContains(line.formats, format->l_text)) {
        absl::StrAppend(&line.formats, line.formats.empty() ? "" : " ", format->l_text);
      }
    }
    if (line.formats.empty()) line.formats = "0";
    if (media == audio) line.taken = v1::MEDIA_KIND_AUDIO;
    if (media == camera) line.taken = v1::MEDIA_KIND_VIDEO;
    if (media == content) offer.content_line = static_cast<int>(offer.lines.size());
    offer.lines.push_back(std::move(line));
  }
  return offer;
}

std::string AnswerSdp(const v1::RtpAnswer& answer, const CallerOffer& offer, uint64_t session_id,
                      uint64_t version) {
  const v1::StreamAnswer* audio = nullptr;
  const v1::StreamAnswer* video = nullptr;
  const v1::StreamAnswer* content = nullptr;
  for (const v1::StreamAnswer& stream : answer.streams()) {
    if (stream.kind() == v1::MEDIA_KIND_AUDIO) audio = &stream;
    if (stream.kind() == v1::MEDIA_KIND_VIDEO) video = &stream;
    if (stream.kind() == v1::MEDIA_KIND_CONTENT) content = &stream;
  }
  if (audio == nullptr) return {};
  const bool secure = answer.transport() != v1::TRANSPORT_RTP_INSECURE;
  const std::string family = absl::StrContains(audio->address(), ':') ? "IP6" : "IP4";
  std::string sdp = absl::StrCat("v=0\r\no=chorus ", session_id, " ", version, " IN ", family, " ",
                                 audio->address(), "\r\ns=Chorus\r\nc=IN ", family, " ",
                                 audio->address(), "\r\nt=0 0\r\n");
  // Chorus takes RTCP on the RTP port; it says so to callers that do not multiplex (RFC 3605).
  // The direction mirrors the offer's: by what Chorus does, sends (1), receives (2).
  auto direction = [](int offered) {
    static constexpr const char* kDirection[] = {"a=inactive\r\n", "a=sendonly\r\n",
                                                 "a=recvonly\r\n", "a=sendrecv\r\n"};
    return kDirection[((offered & 1) != 0 ? 2 : 0) | ((offered & 2) != 0 ? 1 : 0)];
  };
  auto stream_lines = [&](const v1::StreamAnswer& stream, const char* media, int extra_pt) {
    const v1::Codec& codec = stream.codec();
    absl::StrAppend(&sdp, "m=", media, " ", stream.port(), secure ? " RTP/SAVP " : " RTP/AVP ",
                    codec.payload_type());
    if (extra_pt >= 0) absl::StrAppend(&sdp, " ", extra_pt);
    absl::StrAppend(&sdp, "\r\na=rtpmap:", codec.payload_type(), " ", codec.name(), "/",
                    codec.clock_rate());
    if (codec.channels() > 1) absl::StrAppend(&sdp, "/", codec.channels());
    absl::StrAppend(&sdp, "\r\n");
    if (!codec.fmtp().empty()) {
      absl::StrAppend(&sdp, "a=fmtp:", codec.payload_type(), " ", codec.fmtp(), "\r\n");
    }
  };
  auto video_lines = [&](const v1::StreamAnswer& stream) {
    stream_lines(stream, "video", -1);
    const uint32_t pt = stream.codec().payload_type();
    absl::StrAppend(&sdp, "a=rtcp-fb:", pt, " nack\r\na=rtcp-fb:", pt,
                    " nack pli\r\na=rtcp-fb:", pt, " ccm fir\r\n");
  };
  auto crypto = [&](const v1::StreamAnswer& stream, unsigned tag) {
    if (!secure) return;
    absl::StrAppend(&sdp, "a=crypto:", tag, " ", SuiteName(stream.key().suite()),
                    " inline:", stream.key().key_base64(), "\r\n");
  };
  std::vector<CallerOffer::Line> lines = offer.lines;
  if (lines.empty()) lines.push_back({"audio", "", "", v1::MEDIA_KIND_AUDIO});
  for (const CallerOffer::Line& line : lines) {
    if (line.taken == v1::MEDIA_KIND_AUDIO) {
      stream_lines(*audio, "audio", offer.telephone_event_pt);
      if (offer.telephone_event_pt >= 0) {
        absl::StrAppend(&sdp, "a=rtpmap:", offer.telephone_event_pt, " telephone-event/",
                        offer.telephone_event_rate, "\r\na=fmtp:", offer.telephone_event_pt,
                        " 0-15\r\n");
      }
      crypto(*audio, offer.crypto_tag);
      absl::StrAppend(&sdp, offer.rtcp_mux ? "a=rtcp-mux\r\n" : "",
                      absl::StrCat("a=rtcp:", audio->port(), "\r\n"), direction(offer.mode));
    } else if (line.taken == v1::MEDIA_KIND_VIDEO && video != nullptr) {
      // The room system's camera: Chorus asks for keyframes by RTCP (PLI, FIR) and NACKs.
      video_lines(*video);
      crypto(*video, offer.video_crypto_tag);
      absl::StrAppend(&sdp, offer.video_rtcp_mux ? "a=rtcp-mux\r\n" : "",
                      absl::StrCat("a=rtcp:", video->port(), "\r\n"), direction(offer.video_mode));
    } else if (line.taken == v1::MEDIA_KIND_CONTENT && content != nullptr) {
      // The room system's presentation: received only (RFC 4796 slides).
      video_lines(*content);
      absl::StrAppend(&sdp, "a=content:slides\r\n");
      crypto(*content, offer.content_crypto_tag);
      absl::StrAppend(&sdp, offer.content_rtcp_mux ? "a=rtcp-mux\r\n" : "",
                      absl::StrCat("a=rtcp:", content->port(), "\r\n"), "a=recvonly\r\n");
    } else {
      // Declined: content, BFCP, far-end camera control, a second camera (RFC 3264: port 0).
      absl::StrAppend(&sdp, "m=", line.media, " 0 ", line.proto, " ", line.formats, "\r\n");
    }
  }
  return sdp;
}

std::string OfferSdp(const v1::ClaimDialOutResponse& claim, uint64_t session_id) {
  const v1::StreamAnswer& audio = claim.audio();
  const bool secure = claim.transport() != v1::TRANSPORT_RTP_INSECURE;
  const std::string family = absl::StrContains(audio.address(), ':') ? "IP6" : "IP4";
  std::string sdp =
      absl::StrCat("v=0\r\no=chorus ", session_id, " 1 IN ", family, " ", audio.address(),
                   "\r\ns=Chorus\r\nc=IN ", family, " ", audio.address(), "\r\nt=0 0\r\n");
  // One m= line: its codecs, key, RTCP on the RTP port, sendrecv.
  auto media = [&](const char* kind, const v1::StreamAnswer& stream,
                   const google::protobuf::RepeatedPtrField<v1::Codec>& codecs, bool video) {
    absl::StrAppend(&sdp, "m=", kind, " ", stream.port(), secure ? " RTP/SAVP" : " RTP/AVP");
    for (const v1::Codec& codec : codecs) absl::StrAppend(&sdp, " ", codec.payload_type());
    absl::StrAppend(&sdp, "\r\n");
    for (const v1::Codec& codec : codecs) {
      absl::StrAppend(&sdp, "a=rtpmap:", codec.payload_type(), " ", codec.name(), "/",
                      codec.clock_rate());
      if (codec.channels() > 1) absl::StrAppend(&sdp, "/", codec.channels());
      absl::StrAppend(&sdp, "\r\n");
      if (!codec.fmtp().empty()) {
        absl::StrAppend(&sdp, "a=fmtp:", codec.payload_type(), " ", codec.fmtp(), "\r\n");
      }
      if (video) {
        absl::StrAppend(&sdp, "a=rtcp-fb:", codec.payload_type(),
                        " nack\r\na=rtcp-fb:", codec.payload_type(),
                        " nack pli\r\na=rtcp-fb:", codec.payload_type(), " ccm fir\r\n");
      }
    }
    if (secure) {
      absl::StrAppend(&sdp, "a=crypto:1 ", SuiteName(stream.key().suite()),
                      " inline:", stream.key().key_base64(), "\r\n");
    }
    absl::StrAppend(&sdp, "a=rtcp-mux\r\na=rtcp:", stream.port(), "\r\na=sendrecv\r\n");
  };
  media("audio", audio, claim.codecs(), false);
  if (claim.has_video() && claim.video_codecs_size() > 0) {
    media("video", claim.video(), claim.video_codecs(), true);
  }
  return sdp;
}

}  // namespace chorus::sip
