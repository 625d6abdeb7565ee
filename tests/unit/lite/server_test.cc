// The BTrDB v5 service over gRPC, through the generated stub, against Server::Start on
// 127.0.0.1:0.

#include "lite/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lite/database.h"
#include "btrdb/v5/btrdb.grpc.pb.h"
#include "tests/support/status_matchers.h"

#include <grpcpp/grpcpp.h>

namespace btrq::lite {
namespace {

using ::testing::ElementsAre;

std::string Uuid16(uint8_t n) {
  std::string s(16, '\0');
  s[15] = static_cast<char>(n);
  return s;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.enable_fault_inject = fault_inject_;
    ASSERT_OK_AND_ASSIGN(server_, Server::Start(o));
    stub_ = v5api::BTrDB::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  void CreateStream(uint8_t n, const std::string& collection) {
    v5api::CreateParams p;
    p.set_uuid(Uuid16(n));
    p.set_collection(collection);
    auto* tag = p.add_tags();
    tag->set_key("name");
    tag->mutable_val()->set_value("s" + std::to_string(n));
    v5api::CreateResponse r;
    ASSERT_TRUE(stub_->Create(Ctx().get(), p, &r).ok());
    ASSERT_EQ(r.stat().code(), 0u) << r.stat().msg();
  }

  uint64_t InsertRamp(uint8_t n, int64_t t0, int count) {
    v5api::InsertParams p;
    p.set_uuid(Uuid16(n));
    for (int i = 0; i < count; ++i) {
      auto* v = p.add_values();
      v->set_time(t0 + i);
      v->set_value(i);
    }
    v5api::InsertResponse r;
    EXPECT_TRUE(stub_->Insert(Ctx().get(), p, &r).ok());
    EXPECT_EQ(r.stat().code(), 0u) << r.stat().msg();
    return r.versionmajor();
  }

  template <typename Resp, typename Params, typename Method>
  std::vector<Resp> ReadStream(Method method, const Params& params) {
    auto ctx = Ctx();
    auto reader = ((*stub_).*method)(ctx.get(), params);
    std::vector<Resp> out;
    Resp r;
    while (reader->Read(&r)) out.push_back(r);
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  std::vector<v5api::RawValuesResponse> Raw(uint8_t n, int64_t start, int64_t end, uint64_t version = 0) {
    v5api::RawValuesParams p;
    p.set_uuid(Uuid16(n));
    p.set_start(start);
    p.set_end(end);
    p.set_versionmajor(version);
    return ReadStream<v5api::RawValuesResponse>(&v5api::BTrDB::Stub::RawValues, p);
  }

  bool fault_inject_ = false;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v5api::BTrDB::Stub> stub_;
};

TEST_F(ServerTest, InfoReportsV5WithoutArrowAndAProxyEndpoint) {
  v5api::InfoResponse r;
  ASSERT_TRUE(stub_->Info(Ctx().get(), {}, &r).ok());
  EXPECT_EQ(r.majorversion(), 5u);
  EXPECT_LT(r.minorversion(), 30u);
  EXPECT_THAT(r.build(), ::testing::StartsWith("btrdb-lite "));
  EXPECT_FALSE(r.has_mash());
  EXPECT_THAT(r.proxy().proxyendpoints(), ElementsAre(server_->address()));
}

TEST_F(ServerTest, RawValuesChunksAt5000Points) {
  CreateStream(1, "c");
  const uint64_t v = InsertRamp(1, 1000, 12000);
  EXPECT_EQ(v, 11u);
  auto msgs = Raw(1, 0, 1000000);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].values_size(), 5000);
  EXPECT_EQ(msgs[1].values_size(), 5000);
  EXPECT_EQ(msgs[2].values_size(), 2000);
  for (const auto& m : msgs) {
    EXPECT_EQ(m.stat().code(), 0u);
    EXPECT_EQ(m.versionmajor(), 11u);
  }
  EXPECT_EQ(msgs[2].values(1999).time(), 1000 + 11999);
}

TEST_F(ServerTest, EmptyResultStillSendsOneMessageWithTheVersion) {
  CreateStream(1, "c");
  auto msgs = Raw(1, 0, 10);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].values_size(), 0);
  EXPECT_EQ(msgs[0].versionmajor(), 10u);
}

TEST_F(ServerTest, ErrorsAreInBand) {
  CreateStream(1, "c");
  auto unknown = Raw(9, 0, 10);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].stat().code(), 404u);
  EXPECT_EQ(Raw(1, 10, 10)[0].stat().code(), 413u);
  EXPECT_EQ(Raw(1, kMinTime - 1, 10)[0].stat().code(), 413u);
  EXPECT_EQ(Raw(1, 0, 10, 99)[0].stat().code(), 450u);

  v5api::AlignedWindowsParams ap;
  ap.set_uuid(Uuid16(1));
  ap.set_start(0);
  ap.set_end(100);
  ap.set_pointwidth(64);
  auto aw = ReadStream<v5api::AlignedWindowsResponse>(&v5api::BTrDB::Stub::AlignedWindows, ap);
  ASSERT_EQ(aw.size(), 1u);
  EXPECT_EQ(aw[0].stat().code(), 415u);

  v5api::StreamInfoParams sp;
  sp.set_uuid(Uuid16(1));
  sp.set_omitversion(true);
  sp.set_omitdescriptor(true);
  v5api::StreamInfoResponse sr;
  ASSERT_TRUE(stub_->StreamInfo(Ctx().get(), sp, &sr).ok());
  EXPECT_EQ(sr.stat().code(), 421u);

  v5api::FaultInjectResponse fr;
  ASSERT_TRUE(stub_->FaultInject(Ctx().get(), {}, &fr).ok());
  EXPECT_EQ(fr.stat().code(), 424u);

  v5api::NearestParams np;
  np.set_uuid(Uuid16(1));
  np.set_time(0);
  v5api::NearestResponse nr;
  ASSERT_TRUE(stub_->Nearest(Ctx().get(), np, &nr).ok());
  EXPECT_EQ(nr.stat().code(), 401u);

  v5api::ChangesParams cp;
  cp.set_uuid(Uuid16(1));
  cp.set_frommajor(12);
  cp.set_tomajor(10);
  auto ch = ReadStream<v5api::ChangesResponse>(&v5api::BTrDB::Stub::Changes, cp);
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].stat().code(), 427u);
}

TEST_F(ServerTest, OldVersionsAndChangesOverTheWire) {
  CreateStream(1, "c");
  InsertRamp(1, 0, 10);  // v11
  v5api::DeleteParams dp;
  dp.set_uuid(Uuid16(1));
  dp.set_start(0);
  dp.set_end(5);
  v5api::DeleteResponse dr;
  ASSERT_TRUE(stub_->Delete(Ctx().get(), dp, &dr).ok());
  EXPECT_EQ(dr.versionmajor(), 12u);
  EXPECT_EQ(Raw(1, 0, 100)[0].values_size(), 5);
  EXPECT_EQ(Raw(1, 0, 100, 11)[0].values_size(), 10);

  v5api::ChangesParams cp;
  cp.set_uuid(Uuid16(1));
  cp.set_frommajor(11);
  cp.set_tomajor(0);
  auto ch = ReadStream<v5api::ChangesResponse>(&v5api::BTrDB::Stub::Changes, cp);
  ASSERT_EQ(ch.size(), 1u);
  ASSERT_EQ(ch[0].ranges_size(), 1);
  EXPECT_EQ(ch[0].ranges(0).start(), 0);
  EXPECT_EQ(ch[0].ranges(0).end(), 5);
  EXPECT_EQ(ch[0].versionmajor(), 12u);
}

TEST_F(ServerTest, AlignedWindowsClampTheFullTimeRange) {
  CreateStream(1, "c");
  InsertRamp(1, 0, 100);
  v5api::AlignedWindowsParams ap;
  ap.set_uuid(Uuid16(1));
  ap.set_start(kMinTime);
  ap.set_end(kMaxTime);  // as the Go client's Count sends it
  ap.set_pointwidth(62);
  auto aw = ReadStream<v5api::AlignedWindowsResponse>(&v5api::BTrDB::Stub::AlignedWindows, ap);
  ASSERT_EQ(aw.size(), 1u);
  EXPECT_EQ(aw[0].stat().code(), 0u) << aw[0].stat().msg();
  ASSERT_EQ(aw[0].values_size(), 1);
  EXPECT_EQ(aw[0].values(0).count(), 100u);
  EXPECT_EQ(aw[0].values(0).time(), 0);
}

TEST_F(ServerTest, WindowsIncludeEmptyOnes) {
  CreateStream(1, "c");
  InsertRamp(1, 0, 10);
  v5api::WindowsParams wp;
  wp.set_uuid(Uuid16(1));
  wp.set_start(0);
  wp.set_end(35);
  wp.set_width(10);
  auto w = ReadStream<v5api::WindowsResponse>(&v5api::BTrDB::Stub::Windows, wp);
  ASSERT_EQ(w.size(), 1u);
  ASSERT_EQ(w[0].values_size(), 3);  // end cut to 30
  EXPECT_EQ(w[0].values(0).count(), 10u);
  EXPECT_EQ(w[0].values(1).count(), 0u);
  EXPECT_EQ(w[0].values(2).time(), 20);
}

TEST_F(ServerTest, MetadataRoundTrip) {
  CreateStream(1, "grid/a");
  CreateStream(2, "grid/b");
  v5api::LookupStreamsParams lp;
  lp.set_collection("grid");
  lp.set_iscollectionprefix(true);
  auto* f = lp.add_tags();
  f->set_key("name");
  f->mutable_val()->set_value("s2");
  auto found = ReadStream<v5api::LookupStreamsResponse>(&v5api::BTrDB::Stub::LookupStreams, lp);
  ASSERT_EQ(found.size(), 1u);
  ASSERT_EQ(found[0].results_size(), 1);
  EXPECT_EQ(found[0].results(0).uuid(), Uuid16(2));
  EXPECT_EQ(found[0].results(0).propertyversion(), 1u);

  v5api::SetStreamAnnotationsParams sp;
  sp.set_uuid(Uuid16(2));
  sp.set_expectedpropertyversion(1);
  auto* c = sp.add_changes();
  c->set_key("rate");
  c->mutable_val()->set_value("120");
  v5api::SetStreamAnnotationsResponse sr;
  ASSERT_TRUE(stub_->SetStreamAnnotations(Ctx().get(), sp, &sr).ok());
  EXPECT_EQ(sr.stat().code(), 0u);
  ASSERT_TRUE(stub_->SetStreamAnnotations(Ctx().get(), sp, &sr).ok());
  EXPECT_EQ(sr.stat().code(), 423u);

  v5api::StreamInfoParams ip;
  ip.set_uuid(Uuid16(2));
  v5api::StreamInfoResponse ir;
  ASSERT_TRUE(stub_->StreamInfo(Ctx().get(), ip, &ir).ok());
  EXPECT_EQ(ir.versionmajor(), 10u);
  EXPECT_EQ(ir.stream_descriptor().collection(), "grid/b");
  EXPECT_EQ(ir.stream_descriptor().propertyversion(), 2u);
  ASSERT_EQ(ir.stream_descriptor().annotations_size(), 1);

  v5api::ListCollectionsParams cp;
  cp.set_prefix("grid");
  auto cols = ReadStream<v5api::ListCollectionsResponse>(&v5api::BTrDB::Stub::ListCollections, cp);
  ASSERT_EQ(cols.size(), 1u);
  EXPECT_THAT(cols[0].collections(), ElementsAre("grid/a", "grid/b"));

  v5api::MetadataUsageParams mp;
  mp.set_prefix("grid");
  v5api::MetadataUsageResponse mr;
  ASSERT_TRUE(stub_->GetMetadataUsage(Ctx().get(), mp, &mr).ok());
  ASSERT_EQ(mr.tags_size(), 1);
  EXPECT_EQ(mr.tags(0).key(), "name");
  EXPECT_EQ(mr.tags(0).count(), 2u);

  v5api::ObliterateParams op;
  op.set_uuid(Uuid16(2));
  v5api::ObliterateResponse orr;
  ASSERT_TRUE(stub_->Obliterate(Ctx().get(), op, &orr).ok());
  EXPECT_EQ(orr.stat().code(), 0u);
  ASSERT_TRUE(stub_->StreamInfo(Ctx().get(), ip, &ir).ok());
  EXPECT_EQ(ir.stat().code(), 404u);
}

TEST_F(ServerTest, GenerateCsvMergesStreamsByTime) {
  CreateStream(1, "c");
  CreateStream(2, "c");
  InsertRamp(1, 0, 2);  // t 0, 1
  InsertRamp(2, 1, 2);  // t 1, 2
  v5api::GenerateCSVParams p;
  p.set_querytype(v5api::GenerateCSVParams::RAW_QUERY);
  p.set_starttime(0);
  p.set_endtime(10);
  for (uint8_t n : {1, 2}) {
    auto* s = p.add_streams();
    s->set_uuid(Uuid16(n));
    s->set_label("s" + std::to_string(n));
  }
  auto rows = ReadStream<v5api::GenerateCSVResponse>(&v5api::BTrDB::Stub::GenerateCSV, p);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].isheader());
  EXPECT_THAT(rows[0].row(), ElementsAre("timestamp", "s1", "s2"));
  EXPECT_THAT(rows[1].row(), ElementsAre("0", "0", ""));
  EXPECT_THAT(rows[2].row(), ElementsAre("1", "1", "0"));
  EXPECT_THAT(rows[3].row(), ElementsAre("2", "", "1"));
}

class FaultInjectServerTest : public ServerTest {
 protected:
  FaultInjectServerTest() { fault_inject_ = true; }
};

TEST_F(FaultInjectServerTest, NextCallsFailWith402) {
  CreateStream(1, "c");
  v5api::FaultInjectParams p;
  p.set_type(1);
  p.set_params("2");
  v5api::FaultInjectResponse r;
  ASSERT_TRUE(stub_->FaultInject(Ctx().get(), p, &r).ok());
  EXPECT_EQ(r.stat().code(), 0u);
  EXPECT_EQ(Raw(1, 0, 10)[0].stat().code(), 402u);
  EXPECT_EQ(Raw(1, 0, 10)[0].stat().code(), 402u);
  EXPECT_EQ(Raw(1, 0, 10)[0].stat().code(), 0u);
}

}  // namespace
}  // namespace btrq::lite
