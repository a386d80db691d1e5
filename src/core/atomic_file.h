// AtomicFile: write an output under a temporary name in the destination's
// directory and rename it into place on commit(). A run interrupted or failing
// before commit() leaves no file under the final name and never destroys an
// older one (rename(2) within one file system is atomic). The temporary file
// is removed by the destructor, by SIGINT/SIGTERM/SIGHUP/SIGQUIT (the signal
// then takes its default action), and, after a SIGKILL, by the next
// AtomicFile for the same destination (the files of dead processes).
#pragma once
#include <string>

namespace refinery {

class AtomicFile {
 public:
  // Checks that the destination directory exists and is writable; throws
  // InputError naming the path otherwise.
  explicit AtomicFile(std::string final_path);
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Where to write: "<dir>/.<name>.tmp.<pid>.<counter>".
  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  // Renames the temporary file to the final path. Throws on failure.
  void commit();
  bool committed() const { return committed_; }

 private:
  std::string final_path_;
  std::string temp_path_;
  bool committed_ = false;
  int slot_ = -1;  // in the signal handler's list
};

// Writes text (JSON results, CSV) atomically.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace refinery
