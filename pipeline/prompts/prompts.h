#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace chorus::prompts {

// What a telephone caller is told while it types the room's PIN on its keypad.
enum class Prompt : uint8_t {
  kEnterPin,  // "Welcome. Please enter the meeting PIN, followed by the hash key."
  kWrongPin,  // "That PIN is not correct. Please try again."
};

// "enter_pin", "wrong_pin".
std::optional<Prompt> PromptFromName(std::string_view name);

// The languages prompts are spoken in: "en", "de", "da", "nb".
bool HasLanguage(std::string_view language);

// The prompt as 48 kHz mono 16-bit PCM, spoken in `language` (its primary subtag; English when
// Chorus has no prompts in it). Built into the binary: valid for the program's lifetime.
std::span<const int16_t> Pcm(Prompt prompt, std::string_view language);

}  // namespace chorus::prompts
