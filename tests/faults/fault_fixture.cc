#include "tests/faults/fault_fixture.h"

#include <iostream>

namespace btrq::faults {

void FaultTest::TearDown() {
  if (HasFailure() && cluster_ != nullptr) {
    std::cerr << "==== process logs (tails) ====\n" << cluster_->LogTail(40);
  }
  cluster_.reset();
}

Status FaultTest::Boot(const ClusterOptions& options, const GenerateSpec& spec, Millis delay) {
  spec_ = spec;
  BTRQ_ASSIGN_OR_RETURN(cluster_, Cluster::Start(options));
  BTRQ_ASSIGN_OR_RETURN(std::string manifest, cluster_->Generate(spec));
  BTRQ_ASSIGN_OR_RETURN(truth_, LoadManifestTruth(manifest));
  if (delay.count() > 0) BTRQ_RETURN_IF_ERROR(cluster_->SetBtrdbDelay(delay));
  return Status::OK();
}

std::vector<std::string> FaultTest::QualityJob() const {
  return {"--collection", spec_.collection, "--prefix", "--chunk", spec_.chunk,
          "--analytic", "quality", "--max-attempts", "1000"};
}

Result<testing::Json> FaultTest::WaitForProgress(JobId job, double fraction) {
  const auto reached = [fraction](const testing::Json& j) {
    const double total = j["counts"]["total"].AsNumber();
    const double finished = j["counts"]["done"].AsNumber() + j["counts"]["dead"].AsNumber();
    return JobEnded(j) || (j["counts"]["total_final"].AsBool() && total > 0 &&
                           finished >= fraction * total);
  };
  BTRQ_ASSIGN_OR_RETURN(testing::Json j, cluster_->WaitForJob(job, reached, Millis(60'000)));
  if (JobEnded(j)) {
    return Status::FailedPrecondition("job " + std::to_string(job) +
                                      " ended before the fault could be injected");
  }
  return j;
}

Result<TotalCheck> FaultTest::Finish(JobId job, Millis timeout, const CheckOptions& options) {
  BTRQ_ASSIGN_OR_RETURN(testing::Json end, cluster_->WaitForJobEnd(job, timeout));
  BTRQ_ASSIGN_OR_RETURN(TotalCheck check, CheckJob(cluster_.get(), job, truth_, options));
  std::cout << "[ faults   ] job " << job << " " << end["state"].AsString() << ": "
            << check.Summary() << std::endl;
  return check;
}

Status FaultTest::TakeBaseline() {
  BTRQ_ASSIGN_OR_RETURN(JobId job, cluster_->Submit(QualityJob()));
  BTRQ_ASSIGN_OR_RETURN(TotalCheck check, Finish(job));
  if (!check.ok() || check.results != check.tasks) {
    return Status::Internal("the undisturbed run is not clean: " + check.Summary());
  }
  size_t repeated = 0;
  BTRQ_ASSIGN_OR_RETURN(baseline_, FetchResults(cluster_.get(), job, &repeated));
  return Status::OK();
}

}  // namespace btrq::faults
