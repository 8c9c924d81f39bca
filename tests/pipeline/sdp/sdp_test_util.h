#pragma once

// Shared pieces of the SDP tests: the captured browser offers in testdata/, a small hand-written
// offer to edit line by line, and the local parameters answers are written with.

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/sdp/answer.h"

namespace chorus::sdp::testing {

// Offers captured from real WebRTC stacks (see testdata/README.md), by file stem.
const std::vector<std::string>& FixtureNames();
// The text of testdata/<name>.sdp; aborts the test binary if it cannot be read.
std::string ReadFixture(std::string_view name);

// A complete, minimal offer Chorus accepts: session-level transport attributes, an audio
// section "a" (Opus 111, PCMU 0) and a video section "v" (VP8 96 with RTX 97), LF line endings.
std::string MinimalOffer();

// `text` with the first occurrence of `from` replaced by `to`; aborts when `from` is absent, so
// a test cannot silently edit nothing.
std::string Replace(std::string text, std::string_view from, std::string_view to);

// Chorus's side: two candidates (192.0.2.10:40000 and [2001:db8::10]:40000), SSRCs 1001..1005.
AnswerParams TestAnswerParams();

}  // namespace chorus::sdp::testing
