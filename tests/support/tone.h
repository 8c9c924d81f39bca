#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

namespace chorus::testing {

// Amplitude of the tone at `hz` in `samples` (one DFT bin, at `rate_hz`), in sample units: a
// full-scale sine reads about 32767. Exact for tones with whole periods in the span.
inline double ToneAmplitude(std::span<const int16_t> samples, double hz, double rate_hz = 48000) {
  constexpr double kPi = 3.14159265358979323846;
  double re = 0, im = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    re += samples[i] * std::cos(2 * kPi * hz * static_cast<double>(i) / rate_hz);
    im += samples[i] * std::sin(2 * kPi * hz * static_cast<double>(i) / rate_hz);
  }
  return 2 * std::sqrt(re * re + im * im) / static_cast<double>(samples.size());
}

// The same in dB relative to full scale (at least -180 dB).
inline double ToneDbfs(std::span<const int16_t> samples, double hz, double rate_hz = 48000) {
  return 20 * std::log10(std::max(ToneAmplitude(samples, hz, rate_hz) / 32768.0, 1e-9));
}

}  // namespace chorus::testing
