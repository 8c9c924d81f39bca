#pragma once

#include <string_view>
#include <vector>

namespace chorus::web {

// One file of the web client (web/ in the source tree), built into chorusd.
struct Asset {
  std::string_view name;  // "index.html", "app.js", ...
  std::string_view bytes;
};

// Every file of web/, in name order.
const std::vector<Asset>& Assets();

}  // namespace chorus::web
