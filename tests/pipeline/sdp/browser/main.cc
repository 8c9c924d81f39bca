// chorus_sdp_answer_tool: reads an offer on standard input and prints Chorus's answer (fixed local
// parameters: loopback candidates on port 40000, SSRCs 1001-1005). For run.sh, which has real
// browsers and aiortc apply the answer; not part of the product.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "pipeline/sdp/answer.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/parser.h"

int main() {
  using namespace chorus::sdp;
  std::stringstream input;
  input << std::cin.rdbuf();
  const absl::StatusOr<Offer> offer = ParseOffer(input.str());
  if (!offer.ok()) {
    std::cerr << offer.status() << "\n";
    return 1;
  }
  const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
  if (!negotiated.ok()) {
    std::cerr << negotiated.status() << "\n";
    return 1;
  }
  AnswerParams params;
  params.ice = IceCredentials{.ufrag = "ChoR", .pwd = "chorusChorusChorus0123+/"};
  for (size_t i = 0; i < params.fingerprint_sha256.size(); ++i) {
    params.fingerprint_sha256[i] = static_cast<uint8_t>(0xA0 + i);
  }
  params.candidates = {{.ip = "127.0.0.1", .port = 40000}, {.ip = "::1", .port = 40000}};
  params.ssrcs = LocalSsrcs{
      .audio = 1001, .video = 1002, .video_rtx = 1003, .content = 1004, .content_rtx = 1005};
  params.cname = "chorus-mix";
  params.msid_stream_id = "chorus";
  params.session_id = 42;
  std::cout << WriteAnswer(*offer, *negotiated, params);
  return 0;
}
