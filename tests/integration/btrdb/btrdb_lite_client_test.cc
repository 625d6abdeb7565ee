// btrq's BTrDB client against the real btrdb-lite server, in process on 127.0.0.1:0:
// every core RPC and the rules of docs/btrdb-api.md ("What btrdb-lite must get right"),
// as a client sees them.

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btrdb/client.h"
#include "lite/server.h"
#include "tests/support/status_matchers.h"

namespace btrq::btrdb {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kNewStreamVersion = 10;

Uuid MakeUuid(uint8_t n) {
  Uuid u;
  for (size_t i = 0; i < u.bytes.size(); ++i) u.bytes[i] = static_cast<uint8_t>(n * 16 + i);
  u.bytes[6] = 0x40 | (u.bytes[6] & 0x0f);  // version 4
  u.bytes[8] = 0x80 | (u.bytes[8] & 0x3f);  // RFC 4122 variant
  return u;
}

std::vector<RawPoint> Ramp(int64_t start, int64_t step, size_t n, double v0 = 0) {
  std::vector<RawPoint> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = {start + static_cast<int64_t>(i) * step, v0 + static_cast<double>(i)};
  }
  return out;
}

class LiteClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lite::ServerOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.enable_fault_inject = true;
    ASSERT_OK_AND_ASSIGN(server_, lite::Server::Start(opts));
    ConnectOptions copts;
    copts.endpoints = {"127.0.0.1:" + std::to_string(server_->port())};
    copts.call_timeout_ns = 10'000'000'000;
    copts.stream_timeout_ns = 30'000'000'000;
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(copts));
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown();
  }

  // Creates a stream in `collection` with tag name=`name`.
  Uuid NewStream(uint8_t n, const std::string& collection = "test/c",
                 const std::string& name = "s") {
    const Uuid u = MakeUuid(n);
    EXPECT_OK(client_->Create(u, collection, {{"name", name}, {"unit", "V"}}, {}));
    return u;
  }

  std::vector<RawPoint> ReadAll(const Uuid& u, int64_t start, int64_t end,
                                uint64_t version = kLatestVersion,
                                std::vector<size_t>* batch_sizes = nullptr) {
    std::vector<RawPoint> out;
    const Result<uint64_t> r =
        client_->RawValues(u, start, end, version, [&](std::span<const RawPoint> b) {
          if (batch_sizes != nullptr) batch_sizes->push_back(b.size());
          out.insert(out.end(), b.begin(), b.end());
          return Status::OK();
        });
    EXPECT_OK(r);
    return out;
  }

  std::vector<StatPoint> Aligned(const Uuid& u, int64_t start, int64_t end, uint8_t pw) {
    std::vector<StatPoint> out;
    EXPECT_OK(client_->AlignedWindows(u, start, end, 0, pw, [&](std::span<const StatPoint> b) {
      out.insert(out.end(), b.begin(), b.end());
      return Status::OK();
    }));
    return out;
  }

  std::unique_ptr<lite::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(LiteClientTest, InfoReportsAV5ServerWithAProxyEndpoint) {
  ASSERT_OK_AND_ASSIGN(Info info, client_->GetInfo());
  EXPECT_EQ(info.major_version, 5u);
  EXPECT_LT(info.minor_version, 30u);
  EXPECT_FALSE(info.proxy_endpoints.empty());
}

TEST_F(LiteClientTest, NewStreamStartsAtVersion10AndEveryWriteMakesANewVersion) {
  const Uuid u = NewStream(1);
  ASSERT_OK_AND_ASSIGN(uint64_t v0, client_->Version(u));
  EXPECT_EQ(v0, kNewStreamVersion);

  const std::vector<RawPoint> first = Ramp(1000, 10, 5);
  ASSERT_OK_AND_ASSIGN(uint64_t v1, client_->Insert(u, first));
  EXPECT_GT(v1, v0);
  ASSERT_OK_AND_ASSIGN(uint64_t v2, client_->Insert(u, Ramp(2000, 10, 5, 100)));
  EXPECT_GT(v2, v1);
  ASSERT_OK_AND_ASSIGN(uint64_t now, client_->Version(u));
  EXPECT_EQ(now, v2);

  // An empty insert answers the current version.
  ASSERT_OK_AND_ASSIGN(uint64_t same, client_->Insert(u, {}));
  EXPECT_EQ(same, v2);

  // Old versions still read as they were.
  EXPECT_EQ(ReadAll(u, kMinTime, kMaxTime - 1, v1), first);
  EXPECT_EQ(ReadAll(u, kMinTime, kMaxTime - 1, v2).size(), 10u);
  EXPECT_TRUE(ReadAll(u, kMinTime, kMaxTime - 1, v0).empty());
}

TEST_F(LiteClientTest, RawValuesIsHalfOpenAndChunkedAtMost5000PerMessage) {
  const Uuid u = NewStream(2);
  const std::vector<RawPoint> points = Ramp(0, 1, 12'345);
  ASSERT_OK(client_->Insert(u, points));
  std::vector<size_t> batches;
  const std::vector<RawPoint> got = ReadAll(u, 0, 12'345, kLatestVersion, &batches);
  EXPECT_EQ(got, points);
  ASSERT_GE(batches.size(), 3u);
  for (size_t b : batches) EXPECT_LE(b, 5000u);

  // [start, end): the end point is excluded.
  EXPECT_THAT(ReadAll(u, 10, 13), ElementsAre(RawPoint{10, 10}, RawPoint{11, 11},
                                              RawPoint{12, 12}));
}

TEST_F(LiteClientTest, InsertAboveTheBatchSizeArrivesWhole) {
  const Uuid u = NewStream(3);
  const std::vector<RawPoint> points = Ramp(-50'000, 3, kInsertBatchSize + 7);
  ASSERT_OK_AND_ASSIGN(uint64_t v, client_->Insert(u, points));
  EXPECT_GT(v, kNewStreamVersion);
  EXPECT_EQ(ReadAll(u, kMinTime, kMaxTime - 1).size(), points.size());
}

TEST_F(LiteClientTest, MergePolicyDecidesDuplicateTimes) {
  const Uuid u = NewStream(4);
  ASSERT_OK(client_->Insert(u, std::vector<RawPoint>{{100, 1.0}}));
  ASSERT_OK(client_->Insert(u, std::vector<RawPoint>{{100, 2.0}}, MergePolicy::kReplace));
  EXPECT_THAT(ReadAll(u, 0, 1000), ElementsAre(RawPoint{100, 2.0}));
  ASSERT_OK(client_->Insert(u, std::vector<RawPoint>{{100, 3.0}}, MergePolicy::kRetain));
  EXPECT_THAT(ReadAll(u, 0, 1000), ElementsAre(RawPoint{100, 2.0}));
}

TEST_F(LiteClientTest, NearestIsForwardInclusiveBackwardStrictAndNulloptWhenNone) {
  const Uuid u = NewStream(5);
  ASSERT_OK(client_->Insert(u, std::vector<RawPoint>{{100, 1}, {200, 2}, {300, 3}}));

  ASSERT_OK_AND_ASSIGN(auto fwd, client_->Nearest(u, 200, 0, /*backward=*/false));
  EXPECT_EQ(fwd, (RawPoint{200, 2}));
  ASSERT_OK_AND_ASSIGN(auto back, client_->Nearest(u, 200, 0, /*backward=*/true));
  EXPECT_EQ(back, (RawPoint{100, 1}));
  ASSERT_OK_AND_ASSIGN(auto none_before, client_->Nearest(u, 100, 0, /*backward=*/true));
  EXPECT_EQ(none_before, std::nullopt);
  ASSERT_OK_AND_ASSIGN(auto none_after, client_->Nearest(u, 301, 0, /*backward=*/false));
  EXPECT_EQ(none_after, std::nullopt);

  ASSERT_OK_AND_ASSIGN(auto earliest, client_->Earliest(u));
  EXPECT_EQ(earliest, (RawPoint{100, 1}));
  ASSERT_OK_AND_ASSIGN(auto latest, client_->Latest(u));
  EXPECT_EQ(latest, (RawPoint{300, 3}));

  const Uuid empty = NewStream(6);
  ASSERT_OK_AND_ASSIGN(auto nothing, client_->Earliest(empty));
  EXPECT_EQ(nothing, std::nullopt);
}

TEST_F(LiteClientTest, AlignedWindowsClearLowBitsAndOmitEmptyWindows) {
  const Uuid u = NewStream(7);
  // pw 4 = 16 ns windows: points in [16,32) and [48,64); [32,48) stays empty.
  ASSERT_OK(client_->Insert(u, std::vector<RawPoint>{{16, 1}, {20, 3}, {31, 5}, {50, 10}}));
  // start 21 and end 70 are cleared to 16 and 64.
  const std::vector<StatPoint> w = Aligned(u, 21, 70, 4);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].time, 16);
  EXPECT_EQ(w[0].count, 3u);
  EXPECT_EQ(w[0].min, 1);
  EXPECT_EQ(w[0].max, 5);
  EXPECT_DOUBLE_EQ(w[0].mean, 3);
  EXPECT_EQ(w[1].time, 48);
  EXPECT_EQ(w[1].count, 1u);
  EXPECT_EQ(w[1].mean, 10);

  // Nothing when the range is shorter than one window.
  EXPECT_THAT(Aligned(u, 16, 20, 4), IsEmpty());

  // The Python client's count(): the whole valid time range at pw 60.
  uint64_t total = 0;
  for (const StatPoint& s : Aligned(u, kMinTime, kMaxTime, 60)) total += s.count;
  EXPECT_EQ(total, 4u);

  const Result<uint64_t> bad =
      client_->AlignedWindows(u, 0, 100, 0, 64, [](auto) { return Status::OK(); });
  ASSERT_THAT(bad.status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(bad.status().subcode(), 415);
}

TEST_F(LiteClientTest, WindowsStartAtStartAndCutTheEndToWholeWindows) {
  const Uuid u = NewStream(8);
  ASSERT_OK(client_->Insert(u, Ramp(0, 1, 100)));
  std::vector<StatPoint> w;
  ASSERT_OK(client_->Windows(u, 5, 40, 0, 10, 0, [&](std::span<const StatPoint> b) {
    w.insert(w.end(), b.begin(), b.end());
    return Status::OK();
  }));
  // [5,15) [15,25) [25,35); [35,40) is not a whole window.
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].time, 5);
  EXPECT_EQ(w[0].count, 10u);
  EXPECT_EQ(w[0].min, 5);
  EXPECT_EQ(w[0].max, 14);
  EXPECT_DOUBLE_EQ(w[0].mean, 9.5);
  EXPECT_EQ(w[2].time, 25);

  const Result<uint64_t> bad_depth =
      client_->Windows(u, 0, 100, 0, 10, 64, [](auto) { return Status::OK(); });
  ASSERT_FALSE(bad_depth.ok());
  EXPECT_EQ(bad_depth.status().subcode(), 415);
}

TEST_F(LiteClientTest, ChangesCoverInsertsAndDeletesAfterAVersion) {
  const Uuid u = NewStream(9);
  ASSERT_OK_AND_ASSIGN(uint64_t v1, client_->Insert(u, Ramp(1000, 1, 10)));
  ASSERT_OK_AND_ASSIGN(uint64_t v2, client_->Insert(u, Ramp(5000, 1, 10)));

  ASSERT_OK_AND_ASSIGN(std::vector<ChangedRange> since_v1, client_->Changes(u, v1, 0, 0));
  ASSERT_FALSE(since_v1.empty());
  // The second insert's points [5000, 5010) are covered; the first insert's are not.
  bool covers_second = false;
  for (const ChangedRange& r : since_v1) {
    covers_second = covers_second || (r.start <= 5000 && r.end >= 5010);
    EXPECT_FALSE(r.start <= 1000 && r.end > 1009) << r.start << ".." << r.end;
  }
  EXPECT_TRUE(covers_second);

  ASSERT_OK_AND_ASSIGN(uint64_t v3, client_->Delete(u, 1000, 1005));
  EXPECT_GT(v3, v2);
  ASSERT_OK_AND_ASSIGN(std::vector<ChangedRange> by_delete, client_->Changes(u, v2, v3, 0));
  bool covers_delete = false;
  for (const ChangedRange& r : by_delete) {
    covers_delete = covers_delete || (r.start <= 1000 && r.end >= 1005);
  }
  EXPECT_TRUE(covers_delete);
  // Ranges come back sorted and disjoint.
  for (size_t i = 1; i < by_delete.size(); ++i) {
    EXPECT_GT(by_delete[i].start, by_delete[i - 1].end);
  }

  // Delete made a new version; the old one still holds the data.
  EXPECT_EQ(ReadAll(u, 1000, 1010).size(), 5u);
  EXPECT_EQ(ReadAll(u, 1000, 1010, v2).size(), 10u);

  const Result<std::vector<ChangedRange>> bad = client_->Changes(u, v3, v1, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().subcode(), 427);
  const Result<std::vector<ChangedRange>> bad_res = client_->Changes(u, v1, 0, 64);
  ASSERT_FALSE(bad_res.ok());
  EXPECT_EQ(bad_res.status().subcode(), 415);
}

TEST_F(LiteClientTest, ValidationErrorsMapToPermanentStatuses) {
  const Uuid u = NewStream(10);
  // 425: NaN and infinities.
  const Result<uint64_t> nan = client_->Insert(
      u, std::vector<RawPoint>{{1, std::numeric_limits<double>::quiet_NaN()}});
  ASSERT_THAT(nan.status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(nan.status().subcode(), 425);
  const Result<uint64_t> inf =
      client_->Insert(u, std::vector<RawPoint>{{1, std::numeric_limits<double>::infinity()}});
  ASSERT_FALSE(inf.ok());
  EXPECT_EQ(inf.status().subcode(), 425);

  // 413: times out of range, empty or inverted ranges.
  const Result<uint64_t> late = client_->Insert(u, std::vector<RawPoint>{{kMaxTime - 1, 1}});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().subcode(), 413);
  const Result<uint64_t> inverted =
      client_->RawValues(u, 100, 50, 0, [](auto) { return Status::OK(); });
  ASSERT_FALSE(inverted.ok());
  EXPECT_EQ(inverted.status().subcode(), 413);
  EXPECT_FALSE(inverted.status().IsTransient());
  const Result<uint64_t> bad_delete = client_->Delete(u, kMinTime - 1, 0);
  ASSERT_FALSE(bad_delete.ok());
  EXPECT_EQ(bad_delete.status().subcode(), 413);

  // 421: StreamInfo omitting both parts.
  const Result<StreamInfo> both = client_->GetStreamInfo(u, true, true);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().subcode(), 421);
}

TEST_F(LiteClientTest, UnknownStreamIsNotFound404Everywhere) {
  const Uuid ghost = MakeUuid(99);
  const Result<uint64_t> version = client_->Version(ghost);
  ASSERT_THAT(version.status(), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(version.status().subcode(), 404);
  const Result<uint64_t> raw = client_->RawValues(ghost, 0, 10, 0, [](auto) {
    return Status::OK();
  });
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.status().subcode(), 404);
  EXPECT_EQ(client_->Nearest(ghost, 0, 0, false).status().subcode(), 404);
  EXPECT_EQ(client_->Insert(ghost, std::vector<RawPoint>{{1, 1}}).status().subcode(), 404);
  EXPECT_EQ(client_->SetStreamTags(ghost, 1, {}, "", {}).subcode(), 404);
}

TEST_F(LiteClientTest, CreateTwiceIs417AlreadyExists) {
  const Uuid u = NewStream(11);
  const Status again = client_->Create(u, "other", {{"name", "x"}}, {});
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.subcode(), 417);
}

TEST_F(LiteClientTest, StreamInfoReturnsDescriptorAndPropertyVersion) {
  const Uuid u = MakeUuid(12);
  ASSERT_OK(client_->Create(u, "meta/a", {{"name", "volt"}}, {{"owner", "ops"}}));
  ASSERT_OK_AND_ASSIGN(StreamInfo info, client_->GetStreamInfo(u, false, false));
  EXPECT_EQ(info.version_major, kNewStreamVersion);
  ASSERT_TRUE(info.descriptor.has_value());
  EXPECT_EQ(info.descriptor->uuid, u);
  EXPECT_EQ(info.descriptor->collection, "meta/a");
  EXPECT_EQ(info.descriptor->property_version, 1u);
  EXPECT_THAT(info.descriptor->tags, ElementsAre(Pair("name", std::optional<std::string>("volt"))));
  EXPECT_THAT(info.descriptor->annotations,
              ElementsAre(Pair("owner", std::optional<std::string>("ops"))));

  ASSERT_OK_AND_ASSIGN(StreamInfo no_descriptor, client_->GetStreamInfo(u, false, true));
  EXPECT_FALSE(no_descriptor.descriptor.has_value());
  EXPECT_EQ(no_descriptor.version_major, kNewStreamVersion);
}

TEST_F(LiteClientTest, PropertyVersionIsCompareAndSet423) {
  const Uuid u = MakeUuid(13);
  ASSERT_OK(client_->Create(u, "meta/b", {{"name", "n"}}, {}));

  ASSERT_OK(client_->SetStreamAnnotations(u, 1, {{"distil.x", "17"}}, {}));
  const Status stale = client_->SetStreamAnnotations(u, 1, {{"distil.x", "18"}}, {});
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.subcode(), 423);
  EXPECT_FALSE(stale.IsTransient());

  ASSERT_OK(client_->SetStreamTags(u, 2, {{"unit", "A"}}, "meta/moved", {}));
  ASSERT_OK_AND_ASSIGN(StreamInfo info, client_->GetStreamInfo(u, true, false));
  ASSERT_TRUE(info.descriptor.has_value());
  EXPECT_EQ(info.descriptor->property_version, 3u);
  EXPECT_EQ(info.descriptor->collection, "meta/moved");
  EXPECT_THAT(info.descriptor->tags,
              UnorderedElementsAre(Pair("name", std::optional<std::string>("n")),
                                   Pair("unit", std::optional<std::string>("A"))));
  EXPECT_THAT(info.descriptor->annotations,
              ElementsAre(Pair("distil.x", std::optional<std::string>("17"))));

  ASSERT_OK(client_->SetStreamAnnotations(u, 3, {}, {"distil.x"}));
  ASSERT_OK(client_->SetStreamTags(u, 4, {}, "", {"unit"}));
  ASSERT_OK_AND_ASSIGN(StreamInfo after, client_->GetStreamInfo(u, true, false));
  EXPECT_THAT(after.descriptor->annotations, IsEmpty());
  EXPECT_THAT(after.descriptor->tags, ElementsAre(Pair("name", std::optional<std::string>("n"))));
  EXPECT_EQ(after.descriptor->collection, "meta/moved");
}

TEST_F(LiteClientTest, LookupStreamsByPrefixOrExactCollectionAndKeyFilters) {
  const Uuid a = NewStream(20, "plant/north", "a");
  const Uuid b = NewStream(21, "plant/northeast", "b");
  const Uuid c = NewStream(22, "plant", "c");
  ASSERT_OK(client_->SetStreamAnnotations(a, 1, {{"phase", "A"}}, {}));
  auto uuids = [](const std::vector<StreamDescriptor>& ds) {
    std::vector<Uuid> out;
    for (const StreamDescriptor& d : ds) out.push_back(d.uuid);
    return out;
  };

  ASSERT_OK_AND_ASSIGN(auto prefix, client_->LookupStreams("plant/north", true, {}, {}));
  EXPECT_THAT(uuids(prefix), UnorderedElementsAre(a, b));
  ASSERT_OK_AND_ASSIGN(auto exact, client_->LookupStreams("plant/north", false, {}, {}));
  EXPECT_THAT(uuids(exact), ElementsAre(a));
  ASSERT_OK_AND_ASSIGN(auto all, client_->LookupStreams("", true, {}, {}));
  EXPECT_THAT(uuids(all), UnorderedElementsAre(a, b, c));

  ASSERT_OK_AND_ASSIGN(auto by_tag, client_->LookupStreams("plant", true, {{"name", "b"}}, {}));
  EXPECT_THAT(uuids(by_tag), ElementsAre(b));
  // A filter without a value means "key present, any value".
  ASSERT_OK_AND_ASSIGN(auto has_phase,
                       client_->LookupStreams("plant", true, {}, {{"phase", std::nullopt}}));
  EXPECT_THAT(uuids(has_phase), ElementsAre(a));
  ASSERT_OK_AND_ASSIGN(auto wrong_phase,
                       client_->LookupStreams("plant", true, {}, {{"phase", "B"}}));
  EXPECT_THAT(wrong_phase, IsEmpty());

  ASSERT_EQ(by_tag.size(), 1u);
  EXPECT_EQ(by_tag[0].collection, "plant/northeast");
  EXPECT_EQ(by_tag[0].property_version, 1u);
}

TEST_F(LiteClientTest, ListCollectionsAndMetadataUsageByPrefix) {
  NewStream(30, "site/one", "x");
  NewStream(31, "site/two", "y");
  NewStream(32, "elsewhere", "z");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> site, client_->ListCollections("site/"));
  EXPECT_THAT(site, UnorderedElementsAre("site/one", "site/two"));

  ASSERT_OK_AND_ASSIGN(MetadataUsage usage, client_->GetMetadataUsage("site/"));
  EXPECT_THAT(usage.tags, UnorderedElementsAre(Pair("name", 2u), Pair("unit", 2u)));
  EXPECT_THAT(usage.annotations, IsEmpty());
}

TEST_F(LiteClientTest, FlushAnswersTheVersionAndObliterateRemovesTheStream) {
  const Uuid u = NewStream(40);
  ASSERT_OK_AND_ASSIGN(uint64_t v, client_->Insert(u, Ramp(0, 1, 3)));
  ASSERT_OK_AND_ASSIGN(uint64_t flushed, client_->Flush(u));
  EXPECT_GE(flushed, v);
  ASSERT_OK(client_->Obliterate(u));
  EXPECT_EQ(client_->Version(u).status().subcode(), 404);
}

TEST_F(LiteClientTest, InjectedContextErrorIsTransientAndClears) {
  const Uuid u = NewStream(50);
  ASSERT_OK_AND_ASSIGN(std::string rv, client_->FaultInject(1, "1"));
  EXPECT_EQ(rv, "ok");
  const Result<uint64_t> failed = client_->Version(u);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().subcode(), 402);
  EXPECT_TRUE(failed.status().IsTransient());
  EXPECT_OK(client_->Version(u));  // only the next call failed
}

TEST(LiteClientFaultInject, DisabledFaultInjectionIs424) {
  lite::ServerOptions opts;
  opts.listen = "127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<lite::Server> server, lite::Server::Start(opts));
  ConnectOptions copts;
  copts.endpoints = {"127.0.0.1:" + std::to_string(server->port())};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(copts));
  const Result<std::string> r = client->FaultInject(1, "1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().subcode(), 424);
  EXPECT_FALSE(r.status().IsTransient());
  client.reset();
  server->Shutdown();
}

TEST_F(LiteClientTest, GenerateCsvRawRowsWithHeader) {
  const Uuid u = NewStream(60);
  ASSERT_OK(client_->Insert(u, std::vector<RawPoint>{{10, 1.5}, {20, 2.5}}));
  CsvQuery q;
  q.type = CsvQuery::Type::kRaw;
  q.start = 0;
  q.end = 100;
  q.streams = {CsvStream{u, kLatestVersion, "s"}};
  std::vector<std::vector<std::string>> rows;
  int headers = 0;
  ASSERT_OK(client_->GenerateCSV(q, [&](bool is_header, std::span<const std::string> cells) {
    headers += is_header ? 1 : 0;
    rows.emplace_back(cells.begin(), cells.end());
    return Status::OK();
  }));
  EXPECT_EQ(headers, 1);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0], ElementsAre("timestamp", "s"));
  EXPECT_EQ(rows[1][0], "10");
  EXPECT_EQ(rows[2][0], "20");
}

TEST_F(LiteClientTest, SqlQueryAnswersRowsAsJson) {
  NewStream(70, "sql/a", "alpha");
  NewStream(71, "sql/b", "beta");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> rows,
                       client_->SQLQuery("SELECT name FROM streams WHERE collection = $1",
                                         {"sql/b"}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_THAT(rows[0], HasSubstr("\"beta\""));
  EXPECT_THAT(rows[0], ::testing::Not(HasSubstr("alpha")));
}

}  // namespace
}  // namespace btrq::btrdb
