#include "src/core/output_directory.h"

#include <filesystem>
#include <system_error>

#include "src/core/error.h"

namespace refinery {

namespace fs = std::filesystem;

OutputDirectory::OutputDirectory(const std::string& path, const std::string& option) : path_(path) {
  if (path.empty()) return;
  // The directories that do not exist yet, outermost first.
  std::vector<fs::path> missing;
  std::error_code ec;
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "out/" names "out"
  for (; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.insert(missing.begin(), p);
    if (p == p.parent_path()) break;  // a root
  }
  for (const fs::path& p : missing) {
    if (!fs::create_directory(p, ec) && !fs::is_directory(p, ec)) break;
    created_.push_back(p.string());
  }
  if (!fs::is_directory(path, ec)) {
    const std::string why = fs::exists(path, ec) ? "exists and is not a directory" : "cannot create this directory";
    remove_created();
    throw InputError(path, option, why);
  }
}

OutputDirectory::~OutputDirectory() {
  if (!committed_) remove_created();
}

void OutputDirectory::remove_created() {
  std::error_code ec;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it)
    if (fs::is_empty(*it, ec) && !ec) fs::remove(*it, ec);  // only while empty: never a user's file
  created_.clear();
}

}  // namespace refinery
