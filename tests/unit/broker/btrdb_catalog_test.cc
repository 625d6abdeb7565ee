// The broker's BTrDB catalog against an in-process btrdb-lite: tag filters with and
// without a value, and the stream params a pin takes from the streams' annotations
// (`rate`, `min`, `max`).

#include "broker/btrdb_catalog.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

// Ours before gRPC's (see tests/support/subprocess.h).
#include "broker/control_service.h"
#include "lite/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

Uuid TestUuid(uint8_t n) {
  Uuid u;
  u.bytes[15] = n;
  u.bytes[0] = 0x10;
  return u;
}

TEST(StreamParamsFromAnnotations, TakesRateAndBoundsThatAreNumbers) {
  EXPECT_THAT(StreamParamsFromAnnotations(
                  {{"kind", "voltage"}, {"max", "7560"}, {"min", "6840"}, {"rate", "30"}}),
              ElementsAre(Pair("rate", FieldValue(30.0)), Pair("min", FieldValue(6840.0)),
                          Pair("max", FieldValue(7560.0))));
  EXPECT_THAT(StreamParamsFromAnnotations({{"min", "59.9"}}),
              ElementsAre(Pair("min", FieldValue(59.9))));
  EXPECT_THAT(StreamParamsFromAnnotations({{"max", "-1e3"}}),
              ElementsAre(Pair("max", FieldValue(-1000.0))));
}

TEST(StreamParamsFromAnnotations, LeavesOutWhatIsNotAValidNumber) {
  EXPECT_TRUE(StreamParamsFromAnnotations({}).empty());
  EXPECT_TRUE(StreamParamsFromAnnotations({{"min", "low"},
                                           {"max", "7560 V"},
                                           {"rate", "0"},
                                           {"unit", "V"}})
                  .empty());
  EXPECT_TRUE(StreamParamsFromAnnotations({{"min", "inf"}, {"max", "nan"}}).empty());
  EXPECT_TRUE(StreamParamsFromAnnotations({{"min", std::nullopt}, {"rate", "2e9"}}).empty());
  // Bounds that contradict each other are both left out; the rate stays.
  EXPECT_THAT(StreamParamsFromAnnotations({{"min", "5"}, {"max", "4"}, {"rate", "10"}}),
              ElementsAre(Pair("rate", FieldValue(10.0))));
}

class BtrdbCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lite::ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(server_, lite::Server::Start(server_options));
    btrdb::ConnectOptions options;
    options.endpoints = {server_->address()};
    options.tls = btrdb::ConnectOptions::Tls::kOff;
    ASSERT_OK_AND_ASSIGN(client_, btrdb::Client::Connect(options));
    // Stream 1 has a `phase` tag, stream 2 another value of it, stream 3 none.
    ASSERT_OK(client_->Create(TestUuid(1), "site/a", {{"name", "v1"}, {"phase", "A"}},
                              {{"rate", "30"}, {"min", "6840"}, {"max", "7560"}}));
    ASSERT_OK(client_->Create(TestUuid(2), "site/a", {{"name", "v2"}, {"phase", "B"}},
                              {{"rate", "10"}}));
    ASSERT_OK(client_->Create(TestUuid(3), "site/a", {{"name", "f"}}, {{"min", "59.9"}}));
    ASSERT_OK_AND_ASSIGN(catalog_, BtrdbCatalog::Create(options));
  }

  std::vector<Uuid> List(const JobSpec& spec) {
    std::vector<Uuid> out;
    auto streams = catalog_->ListStreams(spec);
    EXPECT_OK(streams.status());
    if (streams.ok()) {
      for (const StreamRef& s : *streams) out.push_back(s.uuid);
    }
    return out;
  }

  std::unique_ptr<lite::Server> server_;
  std::unique_ptr<btrdb::Client> client_;
  std::unique_ptr<BtrdbCatalog> catalog_;
};

TEST_F(BtrdbCatalogTest, TagFilterWithoutValueMatchesStreamsThatHaveTheKey) {
  JobSpec spec;
  spec.collection = "site/a";
  spec.tags = {{"phase", std::nullopt}};
  EXPECT_THAT(List(spec), ElementsAre(TestUuid(1), TestUuid(2)));

  spec.tags = {{"phase", std::string("B")}};
  EXPECT_THAT(List(spec), ElementsAre(TestUuid(2)));

  spec.tags = {{"phase", std::nullopt}, {"name", std::string("v1")}};
  EXPECT_THAT(List(spec), ElementsAre(TestUuid(1)));

  spec.tags = {{"missing", std::nullopt}};
  const auto none = catalog_->ListStreams(spec);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.status().message(),
            "collection 'site/a' with the given filters matches no stream");
}

TEST_F(BtrdbCatalogTest, APinTakesRateAndBoundsFromTheAnnotationsWithTheVersion) {
  const std::vector<btrdb::RawPoint> points = {{100, 1.0}, {200, 2.0}};
  ASSERT_OK(client_->Insert(TestUuid(1), points).status());
  ASSERT_OK_AND_ASSIGN(StreamPin pin, catalog_->PinStream(TestUuid(1), 0));
  EXPECT_TRUE(pin.params_pinned);
  EXPECT_THAT(pin.params, ElementsAre(Pair("rate", FieldValue(30.0)),
                                      Pair("min", FieldValue(6840.0)),
                                      Pair("max", FieldValue(7560.0))));
  EXPECT_TRUE(pin.has_data);
  EXPECT_EQ(pin.earliest, 100);
  EXPECT_EQ(pin.latest, 200);

  ASSERT_OK_AND_ASSIGN(StreamPin frequency, catalog_->PinStream(TestUuid(3), 0));
  EXPECT_THAT(frequency.params, ElementsAre(Pair("min", FieldValue(59.9))));
  EXPECT_FALSE(frequency.has_data);
}

TEST_F(BtrdbCatalogTest, BtrdbAwayIsATransientErrorNotAPinWithoutParams) {
  server_->Shutdown();
  const Result<StreamPin> pin = catalog_->PinStream(TestUuid(1), 0);
  ASSERT_FALSE(pin.ok());
  EXPECT_TRUE(pin.status().IsTransient()) << pin.status().ToString();
}

TEST(JobSpecFromProto, TagFiltersMayOmitTheValue) {
  v1::JobSpec proto;
  proto.set_collection("site/a");
  proto.set_analytic("noop");
  v1::TagFilter* present = proto.add_tags();
  present->set_key("phase");
  present->set_has_value(false);
  v1::TagFilter* exact = proto.add_tags();
  exact->set_key("unit");
  exact->set_has_value(true);
  exact->set_value("V");
  ASSERT_OK_AND_ASSIGN(JobSpec spec, JobSpecFromProto(proto, ControlServiceOptions()));
  EXPECT_THAT(spec.tags, ElementsAre(Pair("phase", std::nullopt),
                                     Pair("unit", std::optional<std::string>("V"))));
}

}  // namespace
}  // namespace btrq::broker
