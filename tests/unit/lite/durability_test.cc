// kill -9 of the real btrdb-lite binary: every acknowledged write survives a restart.

#include <signal.h>

#include <gtest/gtest.h>

#include <regex>

#include "lite/stream_data.h"
#include "btrdb/v5/btrdb.grpc.pb.h"
#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

#include <grpcpp/grpcpp.h>

namespace btrq::lite {
namespace {

constexpr auto kStartDeadline = std::chrono::seconds(20);

std::string Uuid16(uint8_t n) {
  std::string s(16, '\0');
  s[15] = static_cast<char>(n);
  return s;
}

std::unique_ptr<testing::Subprocess> StartLite(const std::string& dir, std::string* address) {
  auto p = testing::Subprocess::Spawn(
      {BTRDB_LITE_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn"});
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  if (!p.ok()) return nullptr;
  auto line = (*p)->WaitForLine("^btrdb-lite: ready on ", kStartDeadline);
  EXPECT_TRUE(line.ok()) << line.status().ToString() << "\nstderr:\n" << (*p)->Stderr();
  if (!line.ok()) return nullptr;
  *address = line->substr(std::string("btrdb-lite: ready on ").size());
  return std::move(*p);
}

std::unique_ptr<v5api::BTrDB::Stub> Connect(const std::string& address) {
  return v5api::BTrDB::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

TEST(LiteDurability, AcknowledgedWritesSurviveKill9) {
  testing::TempDir dir;
  std::string address;
  auto lite = StartLite(dir.path(), &address);
  ASSERT_NE(lite, nullptr);
  auto stub = Connect(address);

  v5api::CreateParams cp;
  cp.set_uuid(Uuid16(1));
  cp.set_collection("durable");
  v5api::CreateResponse cr;
  ASSERT_TRUE(stub->Create(Ctx().get(), cp, &cr).ok());
  ASSERT_EQ(cr.stat().code(), 0u);
  uint64_t version = 0;
  for (int batch = 0; batch < 20; ++batch) {
    v5api::InsertParams ip;
    ip.set_uuid(Uuid16(1));
    for (int i = 0; i < 1000; ++i) {
      auto* v = ip.add_values();
      v->set_time(batch * 1000 + i);
      v->set_value(i);
    }
    v5api::InsertResponse ir;
    ASSERT_TRUE(stub->Insert(Ctx().get(), ip, &ir).ok());
    ASSERT_EQ(ir.stat().code(), 0u);
    version = ir.versionmajor();
  }
  ASSERT_OK(lite->Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(int code, lite->Wait(std::chrono::seconds(10)));
  EXPECT_EQ(code, 128 + SIGKILL);

  lite = StartLite(dir.path(), &address);
  ASSERT_NE(lite, nullptr);
  stub = Connect(address);
  v5api::RawValuesParams rp;
  rp.set_uuid(Uuid16(1));
  rp.set_start(kMinTime);
  rp.set_end(kMaxTime - 1);
  auto ctx = Ctx();
  auto reader = stub->RawValues(ctx.get(), rp);
  v5api::RawValuesResponse r;
  size_t points = 0;
  while (reader->Read(&r)) {
    EXPECT_EQ(r.stat().code(), 0u);
    EXPECT_EQ(r.versionmajor(), version);
    points += static_cast<size_t>(r.values_size());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(points, 20000u);

  // SIGTERM is a clean shutdown with exit code 0.
  ASSERT_OK(lite->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(code, lite->Wait(std::chrono::seconds(10)));
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace btrq::lite
