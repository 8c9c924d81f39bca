// Judges recorded audio for the end-to-end tests, from the outside: reads raw signed 16-bit mono
// PCM (what an ffmpeg receiver decoded from Chorus's output) and prints, one per line:
//   tone <hz> <dB>        level of each asked-for tone, dB relative to a full-scale sine
//                         (Welch average of Hann-windowed FFTs, libavutil's real DFT)
//   peak <0..1>           largest absolute sample, relative to full scale
//   max_jump <n>          largest sample-to-sample difference (a wrap-around shows as ~65535)
//   longest_gap_ms <ms>   longest silence (1 ms blocks below --gap_db) between the first and
//                         last sound
//   seconds <s>           length analysed
// Usage: chorus-tone-analyzer FILE --rate=48000 --skip=1.0 --tones=440,660,880 [--gap_db=-45]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/mem.h>
#include <libavutil/tx.h>
}

namespace {

constexpr int kFftSize = 8192;
constexpr double kPi = 3.14159265358979323846;

// Mean power spectrum of `samples` (Welch, 50 % overlap, Hann window), kFftSize / 2 + 1 bins.
std::vector<double> PowerSpectrum(const std::vector<float>& samples) {
  std::vector<double> power(kFftSize / 2 + 1, 0.0);
  AVTXContext* tx = nullptr;
  av_tx_fn fft = nullptr;
  float scale = 1.0f;
  if (av_tx_init(&tx, &fft, AV_TX_FLOAT_RDFT, 0, kFftSize, &scale, 0) < 0) {
    std::fprintf(stderr, "cannot create the FFT\n");
    std::exit(2);
  }
  auto* in = static_cast<float*>(av_malloc(sizeof(float) * (kFftSize + 2)));
  auto* out = static_cast<float*>(av_malloc(sizeof(float) * (kFftSize + 2)));
  int blocks = 0;
  for (size_t start = 0; start + kFftSize <= samples.size(); start += kFftSize / 2) {
    for (int i = 0; i < kFftSize; ++i) {
      double window = 0.5 - 0.5 * std::cos(2 * kPi * i / (kFftSize - 1));
      in[i] = static_cast<float>(samples[start + i] * window);
    }
    fft(tx, out, in, sizeof(float));
    for (int k = 0; k <= kFftSize / 2; ++k) {
      double re = out[2 * k];
      double im = out[2 * k + 1];
      power[k] += re * re + im * im;
    }
    ++blocks;
  }
  if (blocks > 0) {
    for (double& p : power) p /= blocks;
  }
  av_free(in);
  av_free(out);
  av_tx_uninit(&tx);
  return power;
}

// Power within +-3 bins of `hz`.
double BandPower(const std::vector<double>& power, double hz, int rate) {
  int center = static_cast<int>(std::lround(hz * kFftSize / rate));
  double sum = 0;
  for (int k = std::max(0, center - 3); k <= std::min<int>(power.size() - 1, center + 3); ++k) {
    sum += power[k];
  }
  return sum;
}

std::string Flag(int argc, char** argv, const char* name, const char* fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: %s FILE --rate=48000 --skip=1.0 --tones=440,660 [--gap_db=-45]\n",
                 argv[0]);
    return 2;
  }
  const int rate = std::atoi(Flag(argc, argv, "rate", "48000").c_str());
  const double skip = std::atof(Flag(argc, argv, "skip", "1.0").c_str());
  const double gap_db = std::atof(Flag(argc, argv, "gap_db", "-45").c_str());
  std::vector<double> tones;
  std::string list = Flag(argc, argv, "tones", "");
  for (size_t pos = 0; pos < list.size();) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    tones.push_back(std::atof(list.substr(pos, comma - pos).c_str()));
    pos = comma + 1;
  }

  std::ifstream file(argv[1], std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<int16_t> pcm(bytes.size() / 2);
  std::memcpy(pcm.data(), bytes.data(), pcm.size() * 2);
  size_t first = std::min(pcm.size(), static_cast<size_t>(skip * rate));
  std::vector<float> samples;
  int peak = 0;
  int max_jump = 0;
  for (size_t i = first; i < pcm.size(); ++i) {
    samples.push_back(pcm[i] / 32768.0f);
    peak = std::max(peak, std::abs(static_cast<int>(pcm[i])));
    if (i > first) max_jump = std::max(max_jump, std::abs(pcm[i] - pcm[i - 1]));
  }

  // A full-scale sine through the same analysis is the 0 dB reference of each tone.
  const std::vector<double> power = PowerSpectrum(samples);
  std::vector<float> reference(std::max<size_t>(samples.size(), kFftSize));
  for (double hz : tones) {
    for (size_t i = 0; i < reference.size(); ++i) {
      reference[i] = static_cast<float>(std::sin(2 * kPi * hz * i / rate));
    }
    double level = BandPower(power, hz, rate);
    double full = BandPower(PowerSpectrum(reference), hz, rate);
    double db = level > 0 ? 10 * std::log10(level / full) : -200.0;
    std::printf("tone %g %.1f\n", hz, db);
  }

  // Silence gaps, in 1 ms blocks, between the first and last audible block.
  const int block = rate / 1000;
  const double threshold = std::pow(10.0, gap_db / 20.0);
  std::vector<bool> loud;
  for (size_t start = 0; start + block <= samples.size(); start += block) {
    double sum = 0;
    for (int i = 0; i < block; ++i) sum += samples[start + i] * samples[start + i];
    loud.push_back(std::sqrt(sum / block) > threshold);
  }
  int longest = 0;
  int run = 0;
  bool started = false;
  for (bool is_loud : loud) {
    if (is_loud) {
      if (started) longest = std::max(longest, run);
      started = true;
      run = 0;
    } else if (started) {
      ++run;
    }
  }
  std::printf("peak %.4f\n", peak / 32768.0);
  std::printf("max_jump %d\n", max_jump);
  std::printf("longest_gap_ms %d\n", started ? longest : -1);
  std::printf("seconds %.2f\n", static_cast<double>(samples.size()) / rate);
  return 0;
}
