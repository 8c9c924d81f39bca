// Arbitrary payloads into each audio decoder (the first byte picks the codec), then a
// concealment and an FEC attempt from the same bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "pipeline/codec/audio_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using chorus::codec::AudioCodec;
  using chorus::codec::AudioDecoder;
  static std::unique_ptr<AudioDecoder> decoders[4] = {
      *AudioDecoder::Create(AudioCodec::kOpus), *AudioDecoder::Create(AudioCodec::kPcmu),
      *AudioDecoder::Create(AudioCodec::kPcma), *AudioDecoder::Create(AudioCodec::kG722)};
  if (size == 0) return 0;
  AudioDecoder& decoder = *decoders[data[0] % 4];
  std::span<const uint8_t> payload(data + 1, size - 1);
  std::array<int16_t, 960> out;
  (void)decoder.Decode(payload, out);
  decoder.Conceal(out);
  (void)decoder.DecodeFec(payload, out);
  return 0;
}
