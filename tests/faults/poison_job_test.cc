// Poison jobs (issue #14, section 3): jobs whose tasks no worker could decode used to stop
// every worker that received them for good. Sent over raw gRPC (past the CLI's checks),
// each is now refused at submit with the limit it breaks; a job whose tasks together would
// make frames over the limit is split into frames the workers take; and a normal job on
// the same workers then completes with every result right.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "btrq/v1/control.grpc.pb.h"
#include "tests/faults/fault_fixture.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

class PoisonJobTest : public FaultTest {
 protected:
  v1::JobSpec ExecSpec() const {
    v1::JobSpec spec;
    spec.set_collection(spec_.collection);
    spec.set_collection_prefix(true);
    spec.set_chunk_ns(15LL * 60 * 1'000'000'000);
    spec.set_analytic("exec");
    spec.set_max_attempts(2);
    AddParam(&spec, "command", R"(["/bin/sh", "-c", "echo '{\"ok\": 1}'"])");
    return spec;
  }
  static void AddParam(v1::JobSpec* spec, const std::string& name, const std::string& value) {
    v1::Field* f = spec->add_params();
    f->set_name(name);
    f->mutable_value()->set_string_value(value);
  }
  grpc::Status Submit(const v1::JobSpec& spec, JobId* id) {
    auto stub = v1::Broker::NewStub(
        grpc::CreateChannel(cluster_->control_endpoint(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    v1::SubmitJobResponse response;
    const grpc::Status s = stub->SubmitJob(&ctx, request, &response);
    *id = response.job_id();
    return s;
  }
};

TEST_F(PoisonJobTest, PoisonJobsAreRefusedAtSubmitAndTheWorkersKeepWorking) {
  ClusterOptions options;
  options.workers = 2;
  // Much credit, so that one dispatch of the big-params job is far over a frame.
  options.env = {"BTRQ_WORKER_CREDIT=32"};
  GenerateSpec data;
  data.streams = 4;
  data.duration = "2h";  // 8 chunks of 15 minutes per stream: 32 tasks a job
  ASSERT_OK(Boot(options, data, Millis(0)));

  struct Case {
    const char* what;
    std::function<void(v1::JobSpec*)> poison;
    const char* error;
  };
  const Case cases[] = {
      {"a 1.1 MB param", [](v1::JobSpec* s) { AddParam(s, "x", std::string(1153433, 'x')); },
       "param 'x' is 1153433 bytes; the limit is 65536"},
      {"4097 params",
       [](v1::JobSpec* s) {
         for (int i = 0; i < 4097; ++i) AddParam(s, "p" + std::to_string(i), "v");
       },
       "params is 4098 entries; the limit is 1024"},
      {"duplicate param names",
       [](v1::JobSpec* s) {
         AddParam(s, "dup", "1");
         AddParam(s, "dup", "2");
       },
       "param 'dup' is given twice"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    v1::JobSpec spec = ExecSpec();
    c.poison(&spec);
    JobId id = 0;
    const grpc::Status s = Submit(spec, &id);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find(c.error), std::string::npos) << s.error_message();
    // Before the fix the job was accepted and wedged the workers: cancel it, as its user
    // would, and see whether the next job still runs.
    if (s.ok()) ASSERT_OK(cluster_->Cli({"cancel", std::to_string(id)}).status());
  }

  // 16 params of 60 000 bytes: within every limit, but 32 tasks of them make 30 MB, more
  // than one frame may hold. The broker splits its TASK frames; the job completes.
  v1::JobSpec wide = ExecSpec();
  for (int i = 0; i < 16; ++i) AddParam(&wide, "w" + std::to_string(i), std::string(60'000, 'w'));
  JobId wide_id = 0;
  ASSERT_TRUE(Submit(wide, &wide_id).ok());
  ASSERT_OK_AND_ASSIGN(testing::Json wide_end, cluster_->WaitForJobEnd(wide_id, Millis(120'000)));
  EXPECT_EQ(wide_end["state"].AsString(), "done");
  EXPECT_EQ(Count(wide_end, "done"), 32);

  // A normal job on the same workers: every task done once, results as the ground truth.
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, Millis(120'000)));
  EXPECT_TRUE(check.ok()) << check.Summary();
}

}  // namespace
}  // namespace btrq::faults
