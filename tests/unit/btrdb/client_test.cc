// btrdb::Client against a small in-process fake BTrDB (the generated v5api::BTrDB::Service
// on 127.0.0.1:0): error handling per streamed message, the API key on plaintext,
// deadlines, endpoint fail-over, batching and merging done by the client.

#include "btrdb/client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "btrdb/rpc_observer.h"
#include "btrdb/v5/btrdb.grpc.pb.h"
#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"

namespace btrq::btrdb {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

Uuid TestUuid(uint8_t seed = 1) {
  Uuid u;
  for (size_t i = 0; i < u.bytes.size(); ++i) u.bytes[i] = static_cast<uint8_t>(seed + i);
  return u;
}

void AddRaw(v5api::RawValuesResponse* m, int64_t t, double v) {
  v5api::RawPoint* p = m->add_values();
  p->set_time(t);
  p->set_value(v);
}

// Answers a handful of RPCs with canned data and records what it received.
class FakeBtrdb final : public v5api::BTrDB::Service {
 public:
  // Behaviour knobs, set before the calls they affect.
  uint32_t major_version = 5;
  bool fail_second_raw_message = false;
  // Encoded size of every RawValues and AlignedWindows response sent.
  std::atomic<uint64_t> sent_bytes{0};

  grpc::Status Info(grpc::ServerContext* ctx, const v5api::InfoParams*,
                    v5api::InfoResponse* r) override {
    Record(ctx);
    r->set_majorversion(major_version);
    r->set_minorversion(28);
    r->set_build("fake-5.28");
    r->mutable_proxy()->add_proxyendpoints("127.0.0.1:4410");
    return grpc::Status::OK;
  }

  // Three messages of 2 points each (versionMajor 17), or an in-band 413 as the second.
  grpc::Status RawValues(grpc::ServerContext* ctx, const v5api::RawValuesParams* p,
                         grpc::ServerWriter<v5api::RawValuesResponse>* w) override {
    Record(ctx);
    for (int i = 0; i < 3; ++i) {
      v5api::RawValuesResponse m;
      m.set_versionmajor(17);
      if (i == 1 && fail_second_raw_message) {
        m.mutable_stat()->set_code(413);
        m.mutable_stat()->set_msg("invalid time range");
        w->Write(m);
        return grpc::Status::OK;
      }
      AddRaw(&m, p->start() + 2 * i, 2.0 * i);
      AddRaw(&m, p->start() + 2 * i + 1, 2.0 * i + 1);
      sent_bytes += m.ByteSizeLong();
      w->Write(m);
    }
    return grpc::Status::OK;
  }

  grpc::Status AlignedWindows(grpc::ServerContext* ctx, const v5api::AlignedWindowsParams* p,
                              grpc::ServerWriter<v5api::AlignedWindowsResponse>* w) override {
    Record(ctx);
    v5api::AlignedWindowsResponse m;
    m.set_versionmajor(12);
    v5api::StatPoint* s = m.add_values();
    s->set_time(p->start());
    s->set_min(1);
    s->set_mean(2);
    s->set_max(3);
    s->set_count(4);
    s->set_stddev(0.5);
    sent_bytes += m.ByteSizeLong();
    w->Write(m);
    return grpc::Status::OK;
  }

  // time == 0: blocks until the client gives up (deadline); time < 0: no such point.
  grpc::Status Nearest(grpc::ServerContext* ctx, const v5api::NearestParams* p,
                       v5api::NearestResponse* r) override {
    Record(ctx);
    if (p->time() == 0) {
      std::unique_lock lock(mu_);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!ctx->IsCancelled() && std::chrono::steady_clock::now() < give_up) {
        cv_.wait_for(lock, std::chrono::milliseconds(5));
      }
      return grpc::Status::OK;
    }
    if (p->time() < 0) {
      r->mutable_stat()->set_code(401);
      return grpc::Status::OK;
    }
    r->set_versionmajor(11);
    r->mutable_value()->set_time(p->time() + 5);
    r->mutable_value()->set_value(42);
    return grpc::Status::OK;
  }

  // Unsorted, overlapping and adjacent ranges over two messages.
  grpc::Status Changes(grpc::ServerContext* ctx, const v5api::ChangesParams*,
                       grpc::ServerWriter<v5api::ChangesResponse>* w) override {
    Record(ctx);
    auto add = [](v5api::ChangesResponse* m, int64_t s, int64_t e) {
      v5api::ChangedRange* r = m->add_ranges();
      r->set_start(s);
      r->set_end(e);
    };
    v5api::ChangesResponse first;
    add(&first, 100, 200);
    add(&first, 0, 10);
    w->Write(first);
    v5api::ChangesResponse second;
    add(&second, 200, 300);
    add(&second, 250, 260);
    add(&second, 10, 20);
    add(&second, 500, 600);
    w->Write(second);
    return grpc::Status::OK;
  }

  grpc::Status Insert(grpc::ServerContext* ctx, const v5api::InsertParams* p,
                      v5api::InsertResponse* r) override {
    Record(ctx);
    std::unique_lock lock(mu_);
    insert_batches_.push_back(p->values_size());
    insert_policy_ = p->merge_policy();
    if (p->values_size() > 0) insert_last_time_ = p->values(p->values_size() - 1).time();
    r->set_versionmajor(10 + insert_batches_.size());
    return grpc::Status::OK;
  }

  grpc::Status LookupStreams(grpc::ServerContext* ctx, const v5api::LookupStreamsParams* p,
                             grpc::ServerWriter<v5api::LookupStreamsResponse>* w) override {
    Record(ctx);
    {
      std::unique_lock lock(mu_);
      lookup_filters_.clear();
      for (const v5api::KeyOptValue& kv : p->tags()) {
        lookup_filters_.push_back(kv.key() + (kv.has_val() ? "=" + kv.val().value() : "?"));
      }
    }
    v5api::LookupStreamsResponse m;
    v5api::StreamDescriptor* d = m.add_results();
    d->set_uuid(std::string(TestUuid(9).AsBytes()));
    d->set_collection(p->collection() + "/x");
    d->set_propertyversion(3);
    v5api::KeyOptValue* name = d->add_tags();
    name->set_key("name");
    name->mutable_val()->set_value("voltage");
    d->add_tags()->set_key("unit");  // no value
    w->Write(m);
    return grpc::Status::OK;
  }

  std::vector<std::string> auth_headers() {
    std::unique_lock lock(mu_);
    return auth_headers_;
  }
  std::vector<int> insert_batches() {
    std::unique_lock lock(mu_);
    return insert_batches_;
  }
  v5api::MergePolicy insert_policy() {
    std::unique_lock lock(mu_);
    return insert_policy_;
  }
  int64_t insert_last_time() {
    std::unique_lock lock(mu_);
    return insert_last_time_;
  }
  std::vector<std::string> lookup_filters() {
    std::unique_lock lock(mu_);
    return lookup_filters_;
  }

 private:
  // The authorization header of every call ("" when absent).
  void Record(grpc::ServerContext* ctx) {
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    std::unique_lock lock(mu_);
    auth_headers_.push_back(it == md.end() ? "" : std::string(it->second.data(),
                                                              it->second.size()));
  }

  // std::mutex, not common/mutex.h: its annotation macros clash with absl's (via gRPC).
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> auth_headers_;
  std::vector<int> insert_batches_;
  v5api::MergePolicy insert_policy_ = v5api::NEVER;
  int64_t insert_last_time_ = 0;
  std::vector<std::string> lookup_filters_;
};

class FakeServer {
 public:
  FakeServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  FakeBtrdb& service() { return service_; }
  bool started() const { return server_ != nullptr && port_ > 0; }

 private:
  FakeBtrdb service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }

  ConnectOptions Options() {
    ConnectOptions o;
    o.endpoints = {server_.endpoint()};
    o.call_timeout_ns = 5'000'000'000;
    o.stream_timeout_ns = 5'000'000'000;
    o.connect_timeout_ns = 5'000'000'000;
    return o;
  }

  std::unique_ptr<Client> ConnectOrDie(const ConnectOptions& o) {
    Result<std::unique_ptr<Client>> c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  FakeServer server_;
};

TEST_F(ClientTest, ConnectChecksInfoAndReportsIt) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->endpoint(), server_.endpoint());
  ASSERT_OK_AND_ASSIGN(Info info, client->GetInfo());
  EXPECT_EQ(info.major_version, 5u);
  EXPECT_EQ(info.minor_version, 28u);
  EXPECT_EQ(info.build, "fake-5.28");
  EXPECT_THAT(info.proxy_endpoints, ElementsAre("127.0.0.1:4410"));
}

TEST_F(ClientTest, ServerThatIsNotVersion5IsRefused) {
  server_.service().major_version = 4;
  const Result<std::unique_ptr<Client>> c = Client::Connect(Options());
  ASSERT_THAT(c.status(), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_FALSE(c.status().IsTransient());
  EXPECT_THAT(c.status().message(), HasSubstr("need 5"));
}

TEST_F(ClientTest, ApiKeyArrivesAsBearerMetadataOnPlaintext) {
  ConnectOptions o = Options();
  o.api_key = "k";
  auto client = ConnectOrDie(o);
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->RawValues(TestUuid(), 0, 100, 0, [](auto) { return Status::OK(); }));
  // Clients sharing the channel send it too.
  ASSERT_OK(client->Share()->GetInfo());
  EXPECT_THAT(server_.service().auth_headers(), ElementsAre("Bearer k", "Bearer k", "Bearer k"));
}

TEST_F(ClientTest, NoApiKeyNoAuthorizationHeader) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(server_.service().auth_headers(), ElementsAre(""));
}

TEST_F(ClientTest, RawValuesDeliversEachMessageAsABatchAndReturnsTheVersion) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  std::vector<std::vector<RawPoint>> batches;
  ASSERT_OK_AND_ASSIGN(uint64_t version,
                       client->RawValues(TestUuid(), 1000, 2000, 0,
                                         [&](std::span<const RawPoint> batch) {
                                           batches.emplace_back(batch.begin(), batch.end());
                                           return Status::OK();
                                         }));
  EXPECT_EQ(version, 17u);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_THAT(batches[0], ElementsAre(RawPoint{1000, 0}, RawPoint{1001, 1}));
  EXPECT_THAT(batches[2], ElementsAre(RawPoint{1004, 4}, RawPoint{1005, 5}));
}

// The point streams are decoded from their wire bytes (btrdb/point_frames.h); the
// observer still sees each call once with exactly the bytes the server sent.
TEST_F(ClientTest, ObserverCountsTheEncodedBytesOfThePointStreams) {
  struct Call {
    std::string method, code;
    uint64_t bytes;
  };
  class Recorder final : public RpcObserver {
   public:
    void OnRpc(std::string_view method, std::string_view code, double, uint64_t bytes) override {
      std::unique_lock lock(mu);
      calls.push_back({std::string(method), std::string(code), bytes});
    }
    std::mutex mu;
    std::vector<Call> calls;
  };
  auto recorder = std::make_shared<Recorder>();
  ConnectOptions o = Options();
  o.observer = recorder;
  auto client = ConnectOrDie(o);
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->RawValues(TestUuid(), 1000, 2000, 0, [](auto) { return Status::OK(); }));
  const uint64_t raw_bytes = server_.service().sent_bytes.exchange(0);
  ASSERT_OK(client->AlignedWindows(TestUuid(), 64, 128, 0, 6, [](auto) { return Status::OK(); }));
  const uint64_t stat_bytes = server_.service().sent_bytes.load();
  std::unique_lock lock(recorder->mu);
  ASSERT_EQ(recorder->calls.size(), 3u);  // Info (at connect), RawValues, AlignedWindows
  EXPECT_EQ(recorder->calls[1].method, "RawValues");
  EXPECT_EQ(recorder->calls[1].code, "OK");
  EXPECT_GT(raw_bytes, 0u);
  EXPECT_EQ(recorder->calls[1].bytes, raw_bytes);
  EXPECT_EQ(recorder->calls[2].method, "AlignedWindows");
  EXPECT_EQ(recorder->calls[2].bytes, stat_bytes);
}

TEST_F(ClientTest, InBandErrorOnTheSecondStreamedMessageIsCaught) {
  server_.service().fail_second_raw_message = true;
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  size_t points = 0;
  const Result<uint64_t> r = client->RawValues(TestUuid(), 0, 100, 0,
                                               [&](std::span<const RawPoint> batch) {
                                                 points += batch.size();
                                                 return Status::OK();
                                               });
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(points, 2u);  // the first message was delivered before the error
  EXPECT_EQ(r.status().subcode(), 413);
  EXPECT_FALSE(r.status().IsTransient());
  EXPECT_THAT(r.status().message(), HasSubstr("RawValues: invalid time range"));
}

TEST_F(ClientTest, SinkErrorStopsTheStreamAndIsReturned) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  int calls = 0;
  const Result<uint64_t> r = client->RawValues(TestUuid(), 0, 100, 0, [&](auto) {
    ++calls;
    return Status::Cancelled("enough");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status(), Status::Cancelled("enough"));
  EXPECT_EQ(calls, 1);
  // The client is still usable afterwards.
  EXPECT_OK(client->GetInfo());
}

TEST_F(ClientTest, DeadlineExceededIsTransient) {
  ConnectOptions o = Options();
  o.call_timeout_ns = 200'000'000;
  auto client = ConnectOrDie(o);
  ASSERT_NE(client, nullptr);
  const Result<std::optional<RawPoint>> r = client->Nearest(TestUuid(), 0, 0, false);
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(r.status().IsTransient());
  EXPECT_THAT(r.status().message(), HasSubstr("Nearest"));
}

TEST_F(ClientTest, UnreachableEndpointIsTransientUnavailableNamingTheEndpoint) {
  ConnectOptions o = Options();
  const std::string dead = testing::FreeHostPort();
  o.endpoints = {dead};
  o.api_key = "s3cret-key";
  const Result<std::unique_ptr<Client>> c = Client::Connect(o);
  ASSERT_THAT(c.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(c.status().IsTransient());
  EXPECT_THAT(c.status().message(), HasSubstr("cannot connect to BTrDB"));
  EXPECT_THAT(c.status().message(), HasSubstr(dead));
  EXPECT_THAT(c.status().ToString(), Not(HasSubstr("s3cret")));
  EXPECT_THAT(c.status().message(), HasSubstr("BTrDB server unavailable"));
}

TEST_F(ClientTest, EndpointListFallsOverToTheSecondEndpoint) {
  ConnectOptions o = Options();
  o.endpoints = {testing::FreeHostPort(), server_.endpoint()};
  auto client = ConnectOrDie(o);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->endpoint(), server_.endpoint());
}

TEST_F(ClientTest, UnreadableCaBundleIsAClearPermanentError) {
  ConnectOptions o = Options();
  o.tls = ConnectOptions::Tls::kOn;
  o.ca_bundle = "/nonexistent/btrq-ca.pem";
  const Result<std::unique_ptr<Client>> c = Client::Connect(o);
  ASSERT_THAT(c.status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("/nonexistent/btrq-ca.pem")));
}

TEST_F(ClientTest, TlsIsReallyDialledAndTheKeyNeverReachesAPlaintextServer) {
  ConnectOptions o = Options();
  o.tls = ConnectOptions::Tls::kOn;
  o.api_key = "k";
  const Result<std::unique_ptr<Client>> c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);  // the TLS handshake fails
  EXPECT_THAT(server_.service().auth_headers(), IsEmpty());
}

TEST_F(ClientTest, NearestReturnsThePointOrNulloptFor401) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(std::optional<RawPoint> p, client->Nearest(TestUuid(), 10, 0, false));
  EXPECT_EQ(p, (RawPoint{15, 42}));
  ASSERT_OK_AND_ASSIGN(std::optional<RawPoint> none, client->Earliest(TestUuid()));
  EXPECT_EQ(none, std::nullopt);  // Earliest asks from kMinTime (< 0): the fake's 401
}

TEST_F(ClientTest, AlignedWindowsDecodesEveryStatField) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  std::vector<StatPoint> got;
  ASSERT_OK_AND_ASSIGN(uint64_t version,
                       client->AlignedWindows(TestUuid(), 64, 128, 0, 6,
                                              [&](std::span<const StatPoint> b) {
                                                got.assign(b.begin(), b.end());
                                                return Status::OK();
                                              }));
  EXPECT_EQ(version, 12u);
  EXPECT_THAT(got, ElementsAre(StatPoint{64, 1, 2, 3, 4, 0.5}));
}

TEST_F(ClientTest, ChangesAreSortedAndCoalescedAcrossMessages) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<ChangedRange> ranges, client->Changes(TestUuid(), 10, 0, 0));
  EXPECT_THAT(ranges, ElementsAre(ChangedRange{0, 20}, ChangedRange{100, 300},
                                  ChangedRange{500, 600}));
}

TEST_F(ClientTest, InsertSplitsIntoBatchesOf50000AndReturnsTheLastVersion) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  std::vector<RawPoint> points(2 * kInsertBatchSize + 1);
  for (size_t i = 0; i < points.size(); ++i) points[i] = {static_cast<int64_t>(i), 1.0};
  ASSERT_OK_AND_ASSIGN(uint64_t version,
                       client->Insert(TestUuid(), points, MergePolicy::kReplace));
  EXPECT_EQ(version, 13u);  // the fake answers 10 + number of Insert calls
  EXPECT_THAT(server_.service().insert_batches(), ElementsAre(50000, 50000, 1));
  EXPECT_EQ(server_.service().insert_policy(), v5api::REPLACE);
  EXPECT_EQ(server_.service().insert_last_time(), static_cast<int64_t>(points.size() - 1));
}

TEST_F(ClientTest, EmptyInsertStillAsksForTheVersion) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(uint64_t version, client->Insert(TestUuid(), {}));
  EXPECT_EQ(version, 11u);
  EXPECT_THAT(server_.service().insert_batches(), ElementsAre(0));
}

TEST_F(ClientTest, LookupStreamsSendsKeyOnlyFiltersAndKeepsTagOrder) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(
      std::vector<StreamDescriptor> streams,
      client->LookupStreams("sensors", true, {{"name", "voltage"}, {"unit", std::nullopt}}, {}));
  EXPECT_THAT(server_.service().lookup_filters(), ElementsAre("name=voltage", "unit?"));
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].uuid, TestUuid(9));
  EXPECT_EQ(streams[0].collection, "sensors/x");
  EXPECT_EQ(streams[0].property_version, 3u);
  EXPECT_THAT(streams[0].tags, ElementsAre(Pair("name", std::optional<std::string>("voltage")),
                                           Pair("unit", std::nullopt)));
}

TEST_F(ClientTest, FromChannelSharesAChannelAndSendsTheKeyPerCall) {
  auto channel = grpc::CreateChannel(server_.endpoint(), grpc::InsecureChannelCredentials());
  ConnectOptions o = Options();
  o.api_key = "shared";
  auto a = Client::FromChannel(channel, o, server_.endpoint());
  auto b = Client::FromChannel(channel, o, server_.endpoint());
  ASSERT_OK(a->GetInfo());
  ASSERT_OK(b->GetInfo());
  EXPECT_THAT(server_.service().auth_headers(), ElementsAre("Bearer shared", "Bearer shared"));
}

TEST_F(ClientTest, UnimplementedRpcMapsToUnimplemented) {
  auto client = ConnectOrDie(Options());
  ASSERT_NE(client, nullptr);
  const Status s = client->Obliterate(TestUuid());
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_FALSE(s.IsTransient());
}

}  // namespace
}  // namespace btrq::btrdb
