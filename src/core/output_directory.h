// OutputDirectory: the directory a command writes its outputs into, created
// with its missing parents. Unless commit() is called (the command
// succeeded), the destructor removes again the directories it created that
// are still empty, so a command that fails leaves no empty output directory
// behind; a directory that existed before is never touched.
#pragma once
#include <string>
#include <vector>

namespace refinery {

class OutputDirectory {
 public:
  // InputError naming `option` and the path when it cannot be created or is
  // not a directory.
  OutputDirectory(const std::string& path, const std::string& option);
  ~OutputDirectory();
  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;

  void commit() { committed_ = true; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> created_;  // innermost last
  bool committed_ = false;

  void remove_created();
};

}  // namespace refinery
