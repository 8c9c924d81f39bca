#include "pipeline/prompts/prompts.h"

#include <cstring>
#include <string>

#include "pipeline/prompts/prompts_data.h"

namespace chorus::prompts {
namespace {

std::string_view NameOf(Prompt prompt) {
  switch (prompt) {
    case Prompt::kEnterPin:
      return "enter_pin";
    case Prompt::kWrongPin:
      return "wrong_pin";
  }
  return "";
}

// "de-AT" -> "de"; "no" (Norwegian) -> "nb".
std::string_view Primary(std::string_view language) {
  const size_t dash = language.find_first_of("-_");
  std::string_view primary = language.substr(0, dash);
  if (primary == "no" || primary == "nn") return "nb";
  return primary;
}

const PromptData* Find(std::string_view language, std::string_view name) {
  for (const PromptData& data : AllPrompts()) {
    if (language == data.language && name == data.name) return &data;
  }
  return nullptr;
}

}  // namespace

std::optional<Prompt> PromptFromName(std::string_view name) {
  for (Prompt prompt : {Prompt::kEnterPin, Prompt::kWrongPin}) {
    if (name == NameOf(prompt)) return prompt;
  }
  return std::nullopt;
}

bool HasLanguage(std::string_view language) {
  return Find(Primary(language), "enter_pin") != nullptr;
}

std::span<const int16_t> Pcm(Prompt prompt, std::string_view language) {
  const PromptData* data = Find(Primary(language), NameOf(prompt));
  if (data == nullptr) data = Find("en", NameOf(prompt));
  if (data == nullptr) return {};
  const size_t samples = static_cast<size_t>(data->end - data->begin) / sizeof(int16_t);
  return std::span<const int16_t>(reinterpret_cast<const int16_t*>(data->begin), samples);
}

}  // namespace chorus::prompts
