#include "pipeline/rtp/silence_filter.h"

#include <cstddef>

#include "pipeline/rtp/audio_level.h"

namespace chorus::rtp {
namespace {

// Where a conditional jump goes: the next instruction, or one of the named blocks.
enum class Target : uint8_t { kNext, kAccept, kDrop, kLevel };

// Writes the program with symbolic jump targets, then resolves them into the forward offsets
// classic BPF wants (the blocks come last, so every jump is forward).
class Assembler {
 public:
  void Op(uint16_t code, uint32_t k = 0) { code_.push_back({{code, 0, 0, k}, {}, {}}); }
  void Jump(uint16_t code, uint32_t k, Target if_true, Target if_false) {
    code_.push_back({{code, 0, 0, k}, if_true, if_false});
  }
  void Mark(Target block) { marks_[static_cast<size_t>(block)] = code_.size(); }

  std::vector<sock_filter> Resolve() const {
    std::vector<sock_filter> program;
    program.reserve(code_.size());
    for (size_t i = 0; i < code_.size(); ++i) {
      sock_filter instruction = code_[i].instruction;
      instruction.jt = Offset(i, code_[i].jt);
      instruction.jf = Offset(i, code_[i].jf);
      program.push_back(instruction);
    }
    return program;
  }

 private:
  struct Line {
    sock_filter instruction;
    Target jt;
    Target jf;
  };
  uint8_t Offset(size_t from, Target target) const {
    if (target == Target::kNext) return 0;
    return static_cast<uint8_t>(marks_[static_cast<size_t>(target)] - (from + 1));
  }
  std::vector<Line> code_;
  size_t marks_[4] = {};
};

constexpr uint32_t kRtp = 8;  // the UDP header comes first
constexpr uint32_t kOneByteForm = 0xBEDE;
constexpr int kElementsLooked = 4;  // elements read before the filter gives up (passes)

}  // namespace

std::vector<sock_filter> DigitalSilenceFilter(uint8_t extension_id, uint8_t payload_type,
                                              uint16_t sample_every) {
  if (extension_id < 1 || extension_id > 14 || sample_every < 2 ||
      (sample_every & (sample_every - 1)) != 0 || payload_type > 127) {
    return {};
  }
  Assembler a;
  // Version 2 with the X bit; the participant's codec; not the sampled one in `sample_every`.
  a.Op(BPF_LD | BPF_B | BPF_ABS, kRtp);
  a.Op(BPF_ALU | BPF_AND | BPF_K, 0xd0);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0x90, Target::kNext, Target::kAccept);
  a.Op(BPF_LD | BPF_B | BPF_ABS, kRtp + 1);
  a.Op(BPF_ALU | BPF_AND | BPF_K, 0x7f);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, payload_type, Target::kNext, Target::kAccept);
  a.Op(BPF_LD | BPF_H | BPF_ABS, kRtp + 2);
  a.Op(BPF_ALU | BPF_AND | BPF_K, sample_every - 1u);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, Target::kAccept, Target::kNext);
  // X = 4 * CSRC count; the extension header follows the fixed header and the CSRCs.
  a.Op(BPF_LDX | BPF_B | BPF_MSH, kRtp);
  a.Op(BPF_LD | BPF_H | BPF_IND, kRtp + 12);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, kOneByteForm, Target::kNext, Target::kAccept);
  // M[0] = where the extension's elements end; X = the first element.
  a.Op(BPF_LD | BPF_H | BPF_IND, kRtp + 14);
  a.Op(BPF_ALU | BPF_LSH | BPF_K, 2);
  a.Op(BPF_ALU | BPF_ADD | BPF_K, kRtp + 16);
  a.Op(BPF_ALU | BPF_ADD | BPF_X);
  a.Op(BPF_ST, 0);
  a.Op(BPF_MISC | BPF_TXA);
  a.Op(BPF_ALU | BPF_ADD | BPF_K, kRtp + 16);
  a.Op(BPF_MISC | BPF_TAX);
  for (int element = 0; element < kElementsLooked; ++element) {
    a.Op(BPF_LD | BPF_MEM, 0);
    a.Jump(BPF_JMP | BPF_JGT | BPF_X, 0, Target::kNext, Target::kAccept);  // past the end
    a.Op(BPF_LD | BPF_B | BPF_IND, 0);
    a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, Target::kAccept, Target::kNext);  // padding: give up
    a.Op(BPF_ALU | BPF_RSH | BPF_K, 4);
    a.Jump(BPF_JMP | BPF_JEQ | BPF_K, extension_id, Target::kLevel, Target::kNext);
    a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 15, Target::kAccept, Target::kNext);  // 15: stop
    a.Op(BPF_LD | BPF_B | BPF_IND, 0);
    a.Op(BPF_ALU | BPF_AND | BPF_K, 0x0f);
    a.Op(BPF_ALU | BPF_ADD | BPF_K, 2);  // the header byte and length + 1 data bytes
    a.Op(BPF_ALU | BPF_ADD | BPF_X);
    a.Op(BPF_MISC | BPF_TAX);
  }
  a.Op(BPF_RET | BPF_K, 0xffffffffu);
  // The level's data byte must lie inside the extension: end - 1 > X.
  a.Mark(Target::kLevel);
  a.Op(BPF_LD | BPF_MEM, 0);
  a.Op(BPF_ALU | BPF_SUB | BPF_K, 1);
  a.Jump(BPF_JMP | BPF_JGT | BPF_X, 0, Target::kNext, Target::kAccept);
  a.Op(BPF_LD | BPF_B | BPF_IND, 1);
  a.Op(BPF_ALU | BPF_AND | BPF_K, 0x7f);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, kSilentLevel, Target::kDrop, Target::kAccept);
  a.Mark(Target::kAccept);
  a.Op(BPF_RET | BPF_K, 0xffffffffu);
  a.Mark(Target::kDrop);
  a.Op(BPF_RET | BPF_K, 0);
  return a.Resolve();
}

}  // namespace chorus::rtp
