#include "lite/generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "btrdb/client.h"
#include "lite/generator.h"
#include "lite/server.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::lite {
namespace {

constexpr int64_t kMinute = 60'000'000'000LL;

class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(server_, Server::Start(options));
    btrdb::ConnectOptions connect;
    connect.endpoints = {server_->address()};
    connect.tls = btrdb::ConnectOptions::Tls::kOff;
    ASSERT_OK_AND_ASSIGN(client_, btrdb::Client::Connect(connect));

    command_.endpoint = server_->address();
    command_.manifest = dir_.File("manifest.json");
    command_.generator.collection = "test/sensors";
    command_.generator.streams = 3;
    command_.generator.duration = 60 * kMinute;
    command_.generator.chunk = 15 * kMinute;
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown();
  }

  testing::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<btrdb::Client> client_;
  GenerateCommand command_;
};

bool ByTimeThenValue(const btrdb::RawPoint& a, const btrdb::RawPoint& b) {
  return a.time != b.time ? a.time < b.time : a.value < b.value;
}

TEST_F(GenerateTest, ParsesTheDocumentedFlags) {
  ASSERT_OK_AND_ASSIGN(
      const GenerateCommand c,
      ParseGenerateArgs({"generate", "--endpoint", "127.0.0.1:1", "--collection", "a/b",
                         "--streams", "5", "--start", "2024-02-01T00:00:00Z", "--duration",
                         "90m", "--rate", "50", "--seed", "9", "--defects", "off",
                         "--manifest", "m.json", "--manifest-chunk", "1h"}));
  EXPECT_EQ(c.endpoint, "127.0.0.1:1");
  EXPECT_EQ(c.generator.collection, "a/b");
  EXPECT_EQ(c.generator.streams, 5);
  EXPECT_EQ(c.generator.start, 1706745600000000000);
  EXPECT_EQ(c.generator.duration, 90 * kMinute);
  EXPECT_EQ(c.generator.rate_hz, 50);
  EXPECT_EQ(c.generator.seed, 9u);
  EXPECT_FALSE(c.generator.defects);
  EXPECT_EQ(c.manifest, "m.json");
  EXPECT_EQ(c.generator.chunk, 60 * kMinute);
  EXPECT_EQ(ParseGenerateArgs({"generate", "--defects", "maybe"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseGenerateArgs({"generate", "--endpoint", "x:1", "--duration", "soon"})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(GenerateTest, LoadsExactlyTheModelsPointsWithTagsAndAnnotations) {
  ASSERT_OK(Generate(command_));
  ASSERT_OK_AND_ASSIGN(const std::vector<StreamPlan> plans, PlanStreams(command_.generator));
  ASSERT_OK_AND_ASSIGN(const std::vector<btrdb::StreamDescriptor> found,
                       client_->LookupStreams("test/sensors", false, {}, {}));
  EXPECT_EQ(found.size(), plans.size());

  for (const StreamPlan& plan : plans) {
    ASSERT_OK_AND_ASSIGN(const btrdb::StreamInfo info,
                         client_->GetStreamInfo(plan.uuid, false, false));
    ASSERT_TRUE(info.descriptor.has_value());
    const btrdb::KeyOptValues expected_tags = {
        {"name", plan.name}, {"unit", std::string(GetKindInfo(plan.kind).unit)}};
    btrdb::KeyOptValues tags = info.descriptor->tags;
    std::sort(tags.begin(), tags.end());
    EXPECT_EQ(tags, expected_tags);
    btrdb::KeyOptValues annotations = info.descriptor->annotations;
    std::sort(annotations.begin(), annotations.end());
    // min/max are the kind's bounds in text that reads back exactly.
    const KindInfo& kind = GetKindInfo(plan.kind);
    ASSERT_EQ(annotations.size(), 4u);
    EXPECT_EQ(annotations[0].first, "kind");
    EXPECT_EQ(annotations[0].second, std::string(kind.name));
    EXPECT_EQ(annotations[1].first, "max");
    EXPECT_EQ(std::strtod(annotations[1].second.value_or("").c_str(), nullptr), kind.max);
    EXPECT_EQ(annotations[2].first, "min");
    EXPECT_EQ(std::strtod(annotations[2].second.value_or("").c_str(), nullptr), kind.min);
    EXPECT_EQ(annotations[3].first, "rate");
    EXPECT_EQ(annotations[3].second, "30");

    // Read at the version the stream reports: Generate flushed, so it covers everything.
    std::vector<btrdb::RawPoint> got;
    ASSERT_OK(client_->RawValues(plan.uuid, btrdb::kMinTime, btrdb::kMaxTime - 1,
                                 info.version_major, [&](std::span<const btrdb::RawPoint> b) {
                                   got.insert(got.end(), b.begin(), b.end());
                                   return Status::OK();
                                 }));
    std::vector<btrdb::RawPoint> want;
    for (const GenPoint& p : GenerateAll(plan)) want.push_back({p.time, p.value});
    std::sort(got.begin(), got.end(), ByTimeThenValue);
    std::sort(want.begin(), want.end(), ByTimeThenValue);
    ASSERT_EQ(got.size(), want.size()) << plan.name;
    EXPECT_TRUE(got == want) << plan.name;
  }
}

TEST_F(GenerateTest, WritesAManifestThatPythonParses) {
  ASSERT_OK(Generate(command_));
  ASSERT_TRUE(std::filesystem::exists(command_.manifest));
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  const std::string check =
      "/usr/bin/python3 -c \"import json,sys; m=json.load(open(sys.argv[1])); "
      "s=m['streams']; assert len(s)==3, len(s); "
      "assert all(sum(c['count'] for c in x['chunks'])==x['truth']['count'] for x in s); "
      "assert all(len(x['chunks'])==4 for x in s)\" " +
      command_.manifest;
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
}

TEST_F(GenerateTest, RefusesToGenerateTheSameStreamsTwice) {
  ASSERT_OK(Generate(command_));
  EXPECT_EQ(Generate(command_).code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace btrq::lite
