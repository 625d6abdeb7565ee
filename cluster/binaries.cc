#include "cluster/binaries.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

namespace btrq::cluster {
namespace {

namespace fs = std::filesystem;

// The first executable of `name` under `root` as an install or a build tree.
Result<std::string> Find(const fs::path& root, const std::string& name,
                         const std::string& build_subdir) {
  const std::vector<fs::path> tried = {
      root / name,
      (root / ".." / build_subdir / name).lexically_normal(),
      (root / build_subdir / name).lexically_normal(),
  };
  for (const fs::path& p : tried) {
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  std::string list;
  for (const fs::path& p : tried) list += (list.empty() ? "" : ", ") + p.string();
  return Status::NotFound("cannot find " + name + " (looked for " + list +
                          "); build everything with scripts/build, or pass --bin-dir");
}

}  // namespace

Binaries BuildTreeBinaries(const std::string& build_dir) {
  const fs::path root(build_dir);
  return Binaries{(root / "lite" / "btrdb-lite").string(), (root / "broker" / "btrq-broker").string(),
                  (root / "sink" / "btrq-sink").string(), (root / "worker" / "btrq-worker").string()};
}

Result<Binaries> FindBinaries(const std::string& dir) {
  fs::path root(dir);
  if (dir.empty()) {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return Status::IoError("cannot read /proc/self/exe: " + ec.message());
    root = exe.parent_path();
  }
  Binaries b;
  BTRQ_ASSIGN_OR_RETURN(b.btrdb_lite, Find(root, "btrdb-lite", "lite"));
  BTRQ_ASSIGN_OR_RETURN(b.broker, Find(root, "btrq-broker", "broker"));
  BTRQ_ASSIGN_OR_RETURN(b.sink, Find(root, "btrq-sink", "sink"));
  BTRQ_ASSIGN_OR_RETURN(b.worker, Find(root, "btrq-worker", "worker"));
  return b;
}

}  // namespace btrq::cluster
