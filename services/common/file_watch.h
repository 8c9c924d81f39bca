#pragma once

#include <string>
#include <vector>

namespace chorus::common {

// What tells whether files were replaced or rewritten, without reading them: each one's inode,
// size and modification time. Empty when one of them cannot be looked at. A Kubernetes Secret
// updated in place (its mounted files are swapped) or a certificate renewed gives another one.
std::string FilesSignature(const std::vector<std::string>& paths);

}  // namespace chorus::common
