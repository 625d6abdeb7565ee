#pragma once

// The CLI's test fixture: `btrq` run in-process (RunCli) against fake Broker and Sink
// gRPC services, with a fake clock and recorded sleeps, plus sample jobs and workers.

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/ids.h"
#include "submitter/cli.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/submitter/fake_services.h"

namespace btrq::submitter {

using testing::FakeBroker;
using testing::FakeServer;
using testing::FakeSink;

inline constexpr const char* kStream = "0f3c6a5e-1d2b-4c3a-9e8f-112233445566";
// FakeClock's wall start: 2023-11-14T22:13:20Z.
inline constexpr int64_t kNow = 1'700'000'000'000'000'000;

inline std::string StreamBytes() { return std::string(Uuid::Parse(kStream).value().AsBytes()); }

inline std::string ReadFile(const std::string& path) { return ReadFileToString(path).value_or(""); }

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

MATCHER_P(EqualsProto, expected, "") {
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  if (differ.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

inline v1::Job RunningJob() {
  v1::Job job;
  job.set_id(7);
  job.mutable_spec()->set_name("nightly");
  job.mutable_spec()->set_collection("sensors/");
  job.mutable_spec()->set_collection_prefix(true);
  job.mutable_spec()->set_analytic("quality");
  job.set_state(v1::RUNNING);
  v1::JobCounts* c = job.mutable_counts();
  c->set_total(1000);
  c->set_total_final(true);
  c->set_pending(300);
  c->set_in_flight(200);
  c->set_done(490);
  c->set_dead(10);
  c->set_streams(4);
  c->set_points_read(123456);
  job.set_submitted_at(kNow - 60'000'000'000);
  job.set_started_at(kNow - 59'000'000'000);
  job.set_tasks_per_second(120.0);
  job.set_points_per_second(2.5e6);
  job.set_eta_seconds(250);
  return job;
}

inline v1::Worker AWorker() {
  v1::Worker w;
  w.set_id("hostA:42:ab12");
  w.set_host("hostA");
  w.set_pid(42);
  w.set_threads(8);
  w.add_analytics("quality");
  w.add_analytics("noop");
  w.set_credit(16);
  w.set_in_flight(5);
  w.set_tasks_done(900);
  w.set_tasks_per_second(30);
  w.set_points_per_second(1e6);
  w.set_last_heartbeat(kNow - 2'000'000'000);
  w.set_draining(true);
  return w;
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>(std::vector<grpc::Service*>{&broker_, &sink_});
  }

  std::map<std::string, std::string> DefaultEnv() const {
    return {{"BTRQ_BROKER", server_->address()}, {"BTRQ_SINK", server_->address()}};
  }

  CliRun Run(std::vector<std::string> args) { return RunWith(std::move(args), DefaultEnv()); }

  CliRun RunWith(std::vector<std::string> args, std::map<std::string, std::string> env,
                 bool tty = false) {
    args.insert(args.begin(), "btrq");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    CliOptions options;
    options.out_tty = tty;
    options.err_tty = tty;
    options.clock = &clock_;
    options.sleep = [this](int64_t ns) {
      sleeps_.push_back(ns);
      clock_.Advance(Nanos(ns));
    };
    CliRun run;
    run.code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err,
                      Env::FromMap(std::move(env)), options);
    run.out = out.str();
    run.err = err.str();
    return run;
  }

  FakeBroker broker_;
  FakeSink sink_;
  std::unique_ptr<FakeServer> server_;
  btrq::testing::FakeClock clock_{kNow};
  btrq::testing::TempDir dir_;
  std::vector<int64_t> sleeps_;
};

}  // namespace btrq::submitter
