#pragma once

// Where the daemons' executables are: side by side in an install, one folder per
// component in the build tree (build/broker/btrq-broker, build/lite/btrdb-lite, ...).

#include <string>

#include "common/status.h"

namespace btrq::cluster {

struct Binaries {
  std::string btrdb_lite;
  std::string broker;
  std::string sink;
  std::string worker;
};

// The binaries of the build tree rooted at `build_dir` (not checked).
Binaries BuildTreeBinaries(const std::string& build_dir);

// Looks in `dir` (or, when empty, the folder of the running program) for an install
// (DIR/btrq-broker) or a build tree (DIR/../broker/btrq-broker, DIR/broker/btrq-broker).
// NotFound naming every path tried when one is missing.
Result<Binaries> FindBinaries(const std::string& dir);

}  // namespace btrq::cluster
