#include "cluster/binaries.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::cluster {
namespace {

namespace fs = std::filesystem;

void MakeExecutable(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "#!/bin/sh\n";
  ::chmod(path.c_str(), 0755);
}

TEST(FindBinaries, FindsAnInstallSideBySide) {
  testing::TempDir dir;
  for (const char* name : {"btrdb-lite", "btrq-broker", "btrq-sink", "btrq-worker"}) {
    MakeExecutable(fs::path(dir.path()) / name);
  }
  ASSERT_OK_AND_ASSIGN(Binaries b, FindBinaries(dir.path()));
  EXPECT_EQ(b.btrdb_lite, dir.File("btrdb-lite"));
  EXPECT_EQ(b.broker, dir.File("btrq-broker"));
  EXPECT_EQ(b.sink, dir.File("btrq-sink"));
  EXPECT_EQ(b.worker, dir.File("btrq-worker"));
}

TEST(FindBinaries, FindsTheBuildTreeFromItsSubmitterFolder) {
  testing::TempDir dir;
  const Binaries want = BuildTreeBinaries(dir.path());
  for (const std::string& path : {want.btrdb_lite, want.broker, want.sink, want.worker}) {
    MakeExecutable(path);
  }
  fs::create_directories(dir.File("submitter"));
  ASSERT_OK_AND_ASSIGN(Binaries b, FindBinaries(dir.File("submitter")));
  EXPECT_EQ(b.broker, dir.File("broker/btrq-broker"));
  EXPECT_EQ(b.btrdb_lite, dir.File("lite/btrdb-lite"));
  ASSERT_OK_AND_ASSIGN(Binaries from_root, FindBinaries(dir.path()));
  EXPECT_EQ(from_root.worker, dir.File("worker/btrq-worker"));
}

TEST(FindBinaries, NamesWhatItLookedFor) {
  testing::TempDir dir;
  MakeExecutable(fs::path(dir.path()) / "btrdb-lite");
  Result<Binaries> b = FindBinaries(dir.path());
  ASSERT_EQ(b.status().code(), StatusCode::kNotFound);
  EXPECT_NE(b.status().message().find("btrq-broker"), std::string::npos);
  EXPECT_NE(b.status().message().find(dir.File("btrq-broker")), std::string::npos);
}

}  // namespace
}  // namespace btrq::cluster
