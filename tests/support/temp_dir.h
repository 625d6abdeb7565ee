#pragma once

#include <string>

namespace btrq::testing {

// A fresh directory under $TMPDIR (else /tmp), removed with its contents on destruction.
// Aborts the test binary if it cannot be created.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace btrq::testing
