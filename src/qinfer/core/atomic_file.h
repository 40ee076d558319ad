// The one way qinfer writes a file the user named (models, logits, imatrix,
// JSON/CSV results, reports): the data goes to "<path>.tmp.<pid>", which is
// fsync'ed, closed and renamed to <path> by commit(). Until then <path> is
// untouched; any failure, or destruction without commit(), removes the
// temporary file, so a full disk never leaves a truncated or empty file
// under the final name. Errors are InputError("<path>: <what> <tmp>: <errno text>").
// A path that is a device or a pipe (/dev/stdout, a FIFO) is written in place.
//
//   AtomicFile f("out.json");
//   f.write(text.data(), text.size());
//   f.commit();
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qinfer {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates the temporary file
  ~AtomicFile();                          // removes it unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flush, fsync, close, rename; then a best-effort fsync of the directory.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

  // Removes the temporary file and throws InputError naming the final path;
  // `err` is an errno value (0: none to add).
  [[noreturn]] void fail(const std::string& problem, int err = 0);

 private:
  void flush();
  void emit(const char* p, size_t n);
  void abandon() noexcept;

  std::string path_, tmp_;
  int fd_ = -1;
  bool created_ = false;
  std::vector<char> buf_;
};

// Writes the whole of `content` to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, std::string_view content);

}  // namespace qinfer
