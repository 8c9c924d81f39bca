#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace chorus::codec {

// Audio codecs Chorus speaks. Internally every stream is 48 kHz mono, 20 ms frames.
enum class AudioCodec : uint8_t { kOpus = 0, kPcmu = 1, kPcma = 2, kG722 = 3 };

inline constexpr int kInternalRateHz = 48000;
inline constexpr int kFrameSamples = 960;  // 20 ms at 48 kHz

// SDP encoding name ("opus", "PCMU", "PCMA", "G722").
std::string_view CodecName(AudioCodec codec);
std::optional<AudioCodec> CodecFromName(std::string_view name);  // case-insensitive
// RTP clock rate: 48000 for Opus, 8000 for the others. G.722 samples at 16 kHz but keeps an
// 8000 Hz RTP clock for historical reasons (RFC 3551 section 4.5.2).
uint32_t RtpClockRate(AudioCodec codec);
// The codec's own sample rate (G.722: 16000).
int CodecSampleRate(AudioCodec codec);
// RTP timestamp advance per 20 ms frame: 960 for Opus, 160 for the others.
uint32_t TimestampIncrement(AudioCodec codec);
// The static payload type (PCMU 0, PCMA 8, G722 9), or -1 for Opus (dynamic).
int StaticPayloadType(AudioCodec codec);

}  // namespace chorus::codec
