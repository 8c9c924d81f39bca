#include "services/common/file_watch.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace chorus::common {

std::string FilesSignature(const std::vector<std::string>& paths) {
  std::string signature;
  for (const std::string& path : paths) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) return "";
    absl::StrAppend(&signature, info.st_ino, ":", info.st_size, ":", info.st_mtim.tv_sec, ".",
                    info.st_mtim.tv_nsec, ";");
  }
  return signature;
}

}  // namespace chorus::common
