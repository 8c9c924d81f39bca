// Transport-wide congestion control feedback (pipeline/rtp/transport_feedback.h), both ways:
//   - any datagram through the parser; whatever parses is written again with the builder (when
//     it fits one message) and must parse to the same statuses and arrival times;
//   - the datagram read as (sequence number, arrival step) pairs fed to a recorder, whose
//     messages must all parse, number their statuses from their base, and never exceed the
//     builder's limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "pipeline/rtp/transport_feedback.h"

namespace {

using namespace chorus::rtp;

void RoundTrip(std::span<const uint8_t> data) {
  static std::vector<TransportFeedbackStatus> statuses(65536);
  static std::vector<TransportFeedbackStatus> again(65536);
  TransportFeedbackHeader header;
  if (ParseTransportFeedback(data, &header, statuses) != TransportFeedbackParseResult::kOk) return;
  if (header.status_count == 0 || header.status_count > statuses.size()) std::abort();
  static TransportFeedbackBuilder builder;
  builder.Reset(header.sender_ssrc, header.media_ssrc, header.base_sequence, header.feedback_count,
                int64_t{header.reference_time} * kTransportFeedbackReferenceUs);
  for (size_t i = 0; i < header.status_count; ++i) {
    if (statuses[i].sequence != static_cast<uint16_t>(header.base_sequence + i)) std::abort();
    const bool added =
        statuses[i].received ? builder.AddReceived(statuses[i].arrival_us) : builder.AddLost();
    if (!added) return;  // more than one message of ours holds
  }
  std::vector<uint8_t> out(TransportFeedbackBuilder::kMaxBytes);
  const size_t size = builder.Build(out);
  if (size == 0 || size > TransportFeedbackBuilder::kMaxBytes) std::abort();
  TransportFeedbackHeader rebuilt;
  if (ParseTransportFeedback(std::span<const uint8_t>(out.data(), size), &rebuilt, again) !=
          TransportFeedbackParseResult::kOk ||
      rebuilt.status_count != header.status_count ||
      rebuilt.base_sequence != header.base_sequence) {
    std::abort();
  }
  for (size_t i = 0; i < header.status_count; ++i) {
    if (again[i].received != statuses[i].received ||
        (statuses[i].received && again[i].arrival_us != statuses[i].arrival_us)) {
      std::abort();
    }
  }
}

void Record(std::span<const uint8_t> data) {
  TransportFeedbackRecorder recorder(1);
  static std::vector<TransportFeedbackStatus> statuses(TransportFeedbackBuilder::kMaxStatuses);
  std::vector<uint8_t> out(1500);
  int64_t now_us = 0;
  auto drain = [&] {
    for (size_t size; (size = recorder.BuildNext(out)) > 0;) {
      if (size > TransportFeedbackBuilder::kMaxBytes) std::abort();
      TransportFeedbackHeader header;
      if (ParseTransportFeedback(std::span<const uint8_t>(out.data(), size), &header, statuses) !=
          TransportFeedbackParseResult::kOk) {
        std::abort();
      }
    }
  };
  for (size_t i = 0; i + 4 <= data.size(); i += 4) {
    const auto sequence = static_cast<uint16_t>(data[i] << 8 | data[i + 1]);
    now_us += (data[i + 2] << 8 | data[i + 3]) * 16;  // up to about 1 s per step
    recorder.OnPacket(sequence, 7, now_us);
    if (data[i + 3] == 0xff) drain();
  }
  drain();
  if (recorder.pending()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  RoundTrip(input);
  Record(input);
  return 0;
}
