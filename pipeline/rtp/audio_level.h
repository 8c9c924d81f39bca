#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace chorus::rtp {

// Audio levels carried in RTP header extensions. Levels are in -dBov: 0 is the loudest signal
// the system can carry (a full-scale square wave; a full-scale sine is 3), 127 is silence or
// anything quieter than -127 dBov. Free functions: any thread, no allocation, never fail on bad
// input (they report it).

// The largest (quietest) level.
inline constexpr uint8_t kSilentLevel = 127;

// RFC 6464 client-to-mixer audio level: one byte, V (voice activity) bit then 7 level bits.
struct AudioLevel {
  bool voice_activity = false;
  uint8_t level = kSilentLevel;  // -dBov, 0..127
  friend bool operator==(const AudioLevel&, const AudioLevel&) = default;
};

// Reads the element data of an RFC 6464 extension (the bytes after the element header). RFC 6464
// section 3 allows the one-byte form (1 byte of data) and the two-byte form with padding: only the
// first byte counts. nullopt when `element` is empty (the extension is absent).
std::optional<AudioLevel> ParseAudioLevel(std::span<const uint8_t> element);

// The same, for existing callers: false when `element` is empty.
bool ParseAudioLevel(std::span<const uint8_t> element, bool* voice_activity, uint8_t* level);

// Writes the one data byte of an RFC 6464 element (level clamped to 127). Returns 1, or 0 when
// `out` is empty.
size_t WriteAudioLevel(const AudioLevel& level, std::span<uint8_t> out);

// RFC 6465 mixer-to-client audio levels: one byte per CSRC of the packet, in CSRC order, each a
// zero bit then a 7-bit level. Copies up to `levels.size()` levels (masking the reserved bit) and
// returns how many it copied; 0 for an empty element.
size_t ParseCsrcAudioLevels(std::span<const uint8_t> element, std::span<uint8_t> levels);

// Writes one byte per level (at most 15, the CSRC limit of RFC 3550). Returns the number of bytes
// written, or 0 when `levels` is empty, longer than 15 or `out` is too small.
size_t WriteCsrcAudioLevels(std::span<const uint8_t> levels, std::span<uint8_t> out);

// The RFC 6464 level of a frame of 16-bit samples: -20*log10(RMS / 32768), rounded to the nearest
// integer and clamped to 0..127. 127 for silence or an empty frame.
uint8_t LevelFromSamples(std::span<const int16_t> samples);

// The same from an RMS already computed, as a fraction of full scale (1.0 = 32768).
uint8_t LevelFromRms(double rms_full_scale);

// The RMS (fraction of full scale) a level stands for; 0 for 127 (silence).
double RmsFromLevel(uint8_t level);

}  // namespace chorus::rtp
