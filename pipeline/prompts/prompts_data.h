#pragma once

#include <vector>

namespace chorus::prompts {

// One prompt as built in: its language, its name, and its 48 kHz mono 16-bit PCM (native byte
// order) between `begin` and `end`.
struct PromptData {
  const char* language;
  const char* name;
  const char* begin;
  const char* end;
};

// Every built-in prompt (generated at build time).
const std::vector<PromptData>& AllPrompts();

}  // namespace chorus::prompts
