// Proves that AudioMixer::Mix() allocates nothing once participants have joined: this file
// replaces the global operator new/delete with versions that count while counting is on.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/audio/mixer.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* CountedAlloc(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return CountedAlloc(size); }
void* operator new[](std::size_t size) { return CountedAlloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace chorus::audio {
namespace {

TEST(MixerAllocationTest, ThousandTicksOfSixteenParticipantsAllocateNothing) {
  MixerConfig config;
  config.max_participants = 16;
  config.bus_count = 2;
  auto mixer = *AudioMixer::Create(config);
  for (ParticipantId id = 1; id <= 16; ++id) {
    ParticipantConfig participant;
    if (id == 16) participant.speak_bus = 1;                                  // an interpreter
    if (id == 15) participant.listens = ListenList({{1, 1.0f}, {0, 0.25f}});  // hears it
    if (id == 14) participant.admitted = false;
    if (id == 13) participant.muted = true;
    ASSERT_TRUE(mixer->AddParticipant(id, participant).ok());
  }
  // Speakers come and go (every 100 ticks a different group of five talks) so selection,
  // mix-minus outputs and their release all happen while counting.
  std::vector<std::vector<int16_t>> frames(16, std::vector<int16_t>(kFrameSamples));
  for (size_t p = 0; p < frames.size(); ++p) {
    for (size_t i = 0; i < kFrameSamples; ++i) {
      frames[p][i] = static_cast<int16_t>(6000 * std::sin(0.01 * (p + 1) * static_cast<double>(i)));
    }
  }
  g_allocations = 0;
  g_counting = true;
  size_t outputs = 0;
  for (int tick = 0; tick < 1000; ++tick) {
    for (ParticipantId id = 1; id <= 16; ++id) {
      const bool talks = (id + static_cast<ParticipantId>(tick / 100)) % 3 == 0 || id == 16;
      if (talks) {
        mixer->SetFrame(id, frames[id - 1], id % 2 == 0 ? uint8_t{25} : kMeasureLevel);
      }
    }
    mixer->Mix();
    outputs += mixer->outputs().size();
  }
  g_counting = false;
  EXPECT_EQ(0, g_allocations.load());
  EXPECT_GT(outputs, 1000u);
}

}  // namespace
}  // namespace chorus::audio
