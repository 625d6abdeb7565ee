#include "broker/control_service.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <utility>

#include "analytics/exec.h"
#include "analytics/exec_policy.h"
#include "analytics/python.h"
#include "common/grpc_server.h"
#include "common/limits.h"
#include "common/mutex.h"

namespace btrq::broker {
namespace {

// An exec or python job is refused unless a connected worker, not draining, allows its
// program or module: no worker would take its tasks, and a worker that did not allow it
// would dead-letter them. With no worker connected at all it is refused too (the safe
// answer: whether a later worker allows it is unknown; submit again once one is connected).
Status CheckSomeWorkerAllowsPython(const JobSpec& spec, const std::vector<WorkerInfo>& workers) {
  BTRQ_ASSIGN_OR_RETURN(analytics::PythonOptions python,
                        analytics::ParsePythonOptions(spec.params));
  for (const WorkerInfo& w : workers) {
    if (!w.draining && analytics::PythonModuleAllowed(w.python_modules, python.module)) {
      return Status::OK();
    }
  }
  return Status::FailedPrecondition(
      "job: no connected worker allows the python module '" + python.module + "' (" +
      std::to_string(workers.size()) +
      " connected); add it to a worker's worker.python.modules, then submit again");
}

Status CheckSomeWorkerAllows(const JobSpec& spec, const std::vector<WorkerInfo>& workers) {
  if (spec.analytic == analytics::kPythonName) return CheckSomeWorkerAllowsPython(spec, workers);
  if (spec.analytic != analytics::kExecName) return Status::OK();
  BTRQ_ASSIGN_OR_RETURN(std::string program, analytics::ExecProgram(spec.params));
  for (const WorkerInfo& w : workers) {
    if (!w.draining && analytics::ExecAllowed(w.exec_commands, program)) return Status::OK();
  }
  return Status::FailedPrecondition(
      "job: no connected worker allows exec of '" + program + "' (" +
      std::to_string(workers.size()) +
      " connected); add it to a worker's worker.exec.commands, then submit again");
}

// Slices of a WatchJob wait, so a cancelled client is noticed quickly.
constexpr auto kWatchSlice = std::chrono::milliseconds(50);
constexpr int64_t kMinWatchInterval = 10'000'000;  // 10ms

v1::JobState StateToProto(JobState s) {
  switch (s) {
    case JobState::kQueued: return v1::QUEUED;
    case JobState::kExpanding: return v1::EXPANDING;
    case JobState::kRunning: return v1::RUNNING;
    case JobState::kDone: return v1::DONE;
    case JobState::kDoneWithFailures: return v1::DONE_WITH_FAILURES;
    case JobState::kCancelled: return v1::CANCELLED;
    case JobState::kFailed: return v1::FAILED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

void ValueToProto(const FieldValue& v, v1::Value* out) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    out->set_int_value(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    out->set_double_value(*d);
  } else {
    out->set_string_value(std::get<std::string>(v));
  }
}

void SpecToProto(const JobSpec& spec, v1::JobSpec* out) {
  out->set_name(spec.name);
  out->set_collection(spec.collection);
  out->set_collection_prefix(spec.collection_prefix);
  for (const auto& [k, v] : spec.tags) {
    v1::TagFilter* t = out->add_tags();
    t->set_key(k);
    t->set_has_value(v.has_value());
    if (v) t->set_value(*v);
  }
  for (const auto& [k, v] : spec.annotations) {
    v1::TagFilter* t = out->add_annotations();
    t->set_key(k);
    t->set_has_value(v.has_value());
    if (v) t->set_value(*v);
  }
  for (const Uuid& u : spec.streams) out->add_streams(std::string(u.AsBytes()));
  if (spec.start) {
    out->set_has_start(true);
    out->set_start(*spec.start);
  }
  if (spec.end) {
    out->set_has_end(true);
    out->set_end(*spec.end);
  }
  out->set_chunk_ns(spec.chunk);
  out->set_analytic(spec.analytic);
  for (const auto& [name, value] : spec.params) {
    v1::Field* f = out->add_params();
    f->set_name(name);
    ValueToProto(value, f->mutable_value());
  }
  out->set_priority(spec.priority);
  out->set_max_attempts(spec.max_attempts);
  out->set_task_timeout_ns(spec.task_timeout);
  for (const auto& [u, version] : spec.versions) {
    v1::PinnedVersion* p = out->add_versions();
    p->set_stream(std::string(u.AsBytes()));
    p->set_version(version);
  }
}

void JobToProto(const JobInfo& info, const ProgressTracker& progress, v1::Job* out) {
  out->set_id(info.id);
  out->set_nonce(info.nonce);
  SpecToProto(info.spec, out->mutable_spec());
  out->set_state(StateToProto(info.state));
  v1::JobCounts* c = out->mutable_counts();
  c->set_total(info.counts.total);
  c->set_total_final(info.counts.total_final);
  c->set_pending(info.counts.pending);
  c->set_in_flight(info.counts.in_flight);
  c->set_done(info.counts.done);
  c->set_retried(info.counts.retried);
  c->set_dead(info.counts.dead);
  c->set_cancelled(info.counts.cancelled);
  c->set_streams(info.counts.streams);
  c->set_points_read(info.counts.points_read);
  out->set_error(info.error);
  out->set_submitted_at(info.submitted_wall_ns);
  out->set_started_at(progress.StartedAt(info.id));
  out->set_finished_at(info.finished_wall_ns);
  out->set_tasks_per_second(IsFinished(info.state) ? 0 : progress.JobTasksPerSecond(info.id));
  out->set_points_per_second(IsFinished(info.state) ? 0 : progress.JobPointsPerSecond(info.id));
  out->set_eta_seconds(progress.EtaSeconds(info));
}

Result<Uuid> UuidFromProto(const std::string& bytes, std::string_view what) {
  auto u = Uuid::FromBytes(bytes);
  if (!u.ok()) {
    return Status::InvalidArgument(std::string(what) + ": expected a 16-byte UUID, got " +
                                   std::to_string(bytes.size()) + " bytes");
  }
  return *u;
}

}  // namespace

Result<JobSpec> JobSpecFromProto(const v1::JobSpec& proto, const ControlServiceOptions& options) {
  JobSpec spec;
  spec.name = proto.name();
  spec.collection = proto.collection();
  spec.collection_prefix = proto.collection_prefix();
  for (const v1::TagFilter& t : proto.tags()) {
    spec.tags[t.key()] = t.has_value() ? std::optional<std::string>(t.value()) : std::nullopt;
  }
  for (const v1::TagFilter& a : proto.annotations()) {
    spec.annotations[a.key()] =
        a.has_value() ? std::optional<std::string>(a.value()) : std::nullopt;
  }
  for (const std::string& s : proto.streams()) {
    BTRQ_ASSIGN_OR_RETURN(Uuid u, UuidFromProto(s, "job: streams"));
    spec.streams.push_back(u);
  }
  if (proto.has_start()) spec.start = proto.start();
  if (proto.has_end()) spec.end = proto.end();
  if (proto.chunk_ns() != 0) spec.chunk = proto.chunk_ns();
  spec.analytic = proto.analytic();
  for (const v1::Field& f : proto.params()) {
    switch (f.value().kind_case()) {
      case v1::Value::kIntValue: spec.params.emplace_back(f.name(), f.value().int_value()); break;
      case v1::Value::kDoubleValue:
        spec.params.emplace_back(f.name(), f.value().double_value());
        break;
      case v1::Value::kStringValue:
        spec.params.emplace_back(f.name(), f.value().string_value());
        break;
      default:
        return Status::InvalidArgument("job: param '" + f.name() + "' has no value");
    }
  }
  spec.priority = proto.priority();
  spec.max_attempts = proto.max_attempts() != 0 ? proto.max_attempts() : options.default_max_attempts;
  spec.task_timeout =
      proto.task_timeout_ns() != 0 ? proto.task_timeout_ns() : options.default_task_timeout;
  for (const v1::PinnedVersion& p : proto.versions()) {
    BTRQ_ASSIGN_OR_RETURN(Uuid u, UuidFromProto(p.stream(), "job: versions"));
    spec.versions[u] = p.version();
  }
  return spec;
}

BrokerControlService::BrokerControlService(const ControlServiceOptions& options,
                                           Dispatcher* dispatcher,
                                           const analytics::Registry* analytics)
    : options_(options), dispatcher_(dispatcher), analytics_(analytics) {}

grpc::Status BrokerControlService::Authorize(const grpc::ServerContext& context) const {
  return CheckBearer(context, options_.token,
                     {.missing = "the broker requires a token: send \"authorization: Bearer "
                                 "<token>\" (btrq: set control.token or --token)",
                      .wrong = "wrong bearer token for the broker"});
}

Status BrokerControlService::Call(const grpc::ServerContext& context,
                                  const std::function<Status(Dispatcher&)>& fn) const {
  // The command refers to this frame (`fn` captures the request and the response). It
  // runs under `mu` and checks `abandoned`, so once this call has given up it never runs.
  struct Pending {
    Mutex mu;
    bool abandoned BTRQ_GUARDED_BY(mu) = false;
    std::promise<Status> answer;
  };
  auto pending = std::make_shared<Pending>();
  std::future<Status> answer = pending->answer.get_future();
  if (!dispatcher_->Post([&fn, pending](Dispatcher& d) {
        MutexLock lock(&pending->mu);
        if (pending->abandoned) return;
        pending->answer.set_value(fn(d));
      })) {
    return Status::Unavailable("the broker is shutting down");
  }
  const auto limit = std::chrono::system_clock::now() +
                     std::chrono::nanoseconds(options_.loop_timeout);
  if (answer.wait_until(std::min(limit, context.deadline())) == std::future_status::ready) {
    return answer.get();
  }
  MutexLock lock(&pending->mu);
  // It may have run while we took the lock.
  if (answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready) return answer.get();
  pending->abandoned = true;
  return Status::DeadlineExceeded(
      "the broker did not get to the request in time (its loop is busy); nothing was done, "
      "try again");
}

Status BrokerControlService::CallDurably(const grpc::ServerContext& context,
                                         const std::function<Status(Dispatcher&)>& fn,
                                         const std::string& what) const {
  auto durable = std::make_shared<std::promise<Status>>();
  std::future<Status> durable_answer = durable->get_future();
  BTRQ_RETURN_IF_ERROR(Call(context, [&fn, durable](Dispatcher& d) -> Status {
    BTRQ_RETURN_IF_ERROR(fn(d));
    d.scheduler().WhenDurable([durable](const Status& s) { durable->set_value(s); });
    return Status::OK();
  }));
  const Status s = AwaitDurable(&durable_answer, what);
  if (s.ok() || s.code() == StatusCode::kDeadlineExceeded || s.code() == StatusCode::kUnavailable) {
    return s;
  }
  // The change is made in memory and its record stays queued: the journal retries it.
  return s.WithContext(what + " took effect but is not durable yet (the journal retries it)");
}

Status BrokerControlService::AwaitDurable(std::future<Status>* answer,
                                          const std::string& what) const {
  if (answer->wait_for(std::chrono::nanoseconds(options_.call_timeout)) !=
      std::future_status::ready) {
    return Status::DeadlineExceeded(what + " was not made durable in time; check its state later");
  }
  try {
    return answer->get();
  } catch (const std::future_error&) {
    // The journal went away with the callback unrun (the broker is stopping).
    return Status::Unavailable("the broker stopped before " + what + " was durable");
  }
}

grpc::Status BrokerControlService::SubmitJob(grpc::ServerContext* context,
                                             const v1::SubmitJobRequest* request,
                                             v1::SubmitJobResponse* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  Result<JobSpec> parsed = JobSpecFromProto(request->spec(), options_);
  if (!parsed.ok()) return ToGrpcStatus(parsed.status());
  JobSpec spec = std::move(parsed).value();
  if (Status s = spec.Validate(); !s.ok()) return ToGrpcStatus(s);
  if (Status s = analytics_->ValidateParams(spec.analytic, spec.params); !s.ok()) {
    return ToGrpcStatus(Status::InvalidArgument("job: " + s.message()));
  }
  // The answer arrives from the journal's group commit, after Call's command returned.
  auto durable = std::make_shared<std::promise<Status>>();
  std::future<Status> durable_answer = durable->get_future();
  JobId id = 0;
  const Status submitted = Call(*context, [&spec, &id, durable](Dispatcher& d) -> Status {
    BTRQ_RETURN_IF_ERROR(CheckSomeWorkerAllows(spec, d.scheduler().Workers()));
    Result<JobId> r = d.scheduler().SubmitJob(
        spec, [durable](const Status& s) { durable->set_value(s); });
    if (!r.ok()) return r.status();
    id = *r;
    return Status::OK();
  });
  if (!submitted.ok()) return ToGrpcStatus(submitted);
  if (Status s = AwaitDurable(&durable_answer, "job " + std::to_string(id)); !s.ok()) {
    if (s.code() == StatusCode::kDeadlineExceeded || s.code() == StatusCode::kUnavailable) {
      return ToGrpcStatus(s);
    }
    if (s.code() == StatusCode::kResourceExhausted) {
      return ToGrpcStatus(Status::ResourceExhausted(
          "the broker's journal is full (disk full?), the job was not accepted: " + s.message()));
    }
    return ToGrpcStatus(s.WithContext("journaling the job failed, it was not accepted"));
  }
  response->set_job_id(id);
  return grpc::Status::OK;
}

grpc::Status BrokerControlService::GetJob(grpc::ServerContext* context,
                                          const v1::GetJobRequest* request, v1::Job* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  return ToGrpcStatus(Call(*context, [&](Dispatcher& d) -> Status {
    BTRQ_ASSIGN_OR_RETURN(JobInfo info, d.scheduler().GetJob(request->job_id()));
    JobToProto(info, d.progress(), response);
    return Status::OK();
  }));
}

grpc::Status BrokerControlService::ListJobs(grpc::ServerContext* context,
                                            const v1::ListJobsRequest* request,
                                            v1::ListJobsResponse* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  return ToGrpcStatus(Call(*context, [&](Dispatcher& d) -> Status {
    std::vector<JobInfo> jobs = d.scheduler().ListJobs();
    if (!request->include_finished()) {
      std::erase_if(jobs, [](const JobInfo& j) {
        return IsFinished(j.state) && j.state != JobState::kDoneWithFailures;
      });
    }
    // The newest `limit` jobs that fit in kMaxListResponseBytes, oldest first: a few
    // large specs must not make the answer too big for every client.
    size_t first = 0;
    if (request->limit() != 0 && jobs.size() > request->limit()) first = jobs.size() - request->limit();
    std::vector<v1::Job> listed;
    size_t bytes = 0;
    for (size_t i = jobs.size(); i > first; --i) {
      v1::Job job;
      JobToProto(jobs[i - 1], d.progress(), &job);
      bytes += job.ByteSizeLong() + 8;  // + the field's tag and length
      if (bytes > limits::kMaxListResponseBytes && !listed.empty()) break;
      listed.push_back(std::move(job));
    }
    for (auto it = listed.rbegin(); it != listed.rend(); ++it) *response->add_jobs() = std::move(*it);
    response->set_omitted(static_cast<uint32_t>(jobs.size() - first - listed.size()));
    return Status::OK();
  }));
}

Status BrokerControlService::ChangeJob(const grpc::ServerContext& context, JobId id,
                                       const std::string& doing,
                                       const std::function<Status(Scheduler&)>& change,
                                       v1::Job* response) const {
  return CallDurably(
      context,
      [&](Dispatcher& d) -> Status {
        BTRQ_RETURN_IF_ERROR(change(d.scheduler()));
        BTRQ_ASSIGN_OR_RETURN(JobInfo info, d.scheduler().GetJob(id));
        JobToProto(info, d.progress(), response);
        return Status::OK();
      },
      doing + " job " + std::to_string(id));
}

grpc::Status BrokerControlService::CancelJob(grpc::ServerContext* context,
                                             const v1::CancelJobRequest* request,
                                             v1::Job* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  const JobId id = request->job_id();
  return ToGrpcStatus(ChangeJob(
      *context, id, "cancelling", [id](Scheduler& s) { return s.CancelJob(id).status(); }, response));
}

grpc::Status BrokerControlService::RetryJob(grpc::ServerContext* context,
                                            const v1::RetryJobRequest* request,
                                            v1::Job* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  const JobId id = request->job_id();
  return ToGrpcStatus(ChangeJob(
      *context, id, "retrying", [id](Scheduler& s) { return s.RetryJob(id).status(); }, response));
}

grpc::Status BrokerControlService::WatchJob(grpc::ServerContext* context,
                                            const v1::WatchJobRequest* request,
                                            grpc::ServerWriter<v1::Job>* writer) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  const int64_t interval_ns = request->interval_ns() > 0
                                  ? std::max(request->interval_ns(), kMinWatchInterval)
                                  : options_.default_watch_interval;
  const auto interval = std::chrono::nanoseconds(interval_ns);
  while (true) {
    v1::Job job;
    const Status s = Call(*context, [&](Dispatcher& d) -> Status {
      BTRQ_ASSIGN_OR_RETURN(JobInfo info, d.scheduler().GetJob(request->job_id()));
      JobToProto(info, d.progress(), &job);
      return Status::OK();
    });
    if (!s.ok()) return ToGrpcStatus(s);
    if (!writer->Write(job)) return {grpc::StatusCode::CANCELLED, "the client went away"};
    if (job.state() == v1::DONE || job.state() == v1::DONE_WITH_FAILURES ||
        job.state() == v1::CANCELLED || job.state() == v1::FAILED) {
      return grpc::Status::OK;
    }
    const auto until = std::chrono::steady_clock::now() + interval;
    while (std::chrono::steady_clock::now() < until) {
      if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "the client went away"};
      std::this_thread::sleep_for(
          std::min<std::chrono::nanoseconds>(kWatchSlice, until - std::chrono::steady_clock::now()));
    }
  }
}

grpc::Status BrokerControlService::GetStats(grpc::ServerContext* context,
                                            const v1::GetStatsRequest* /*request*/,
                                            v1::BrokerStats* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  return ToGrpcStatus(Call(*context, [&](Dispatcher& d) -> Status {
    const SchedulerStats stats = d.scheduler().Stats();
    uint64_t depth = 0;
    for (const JobInfo& job : d.scheduler().ListJobs()) {
      if (IsFinished(job.state)) continue;
      v1::JobDepth* jd = response->add_jobs();
      jd->set_job_id(job.id);
      jd->set_queue_depth(job.counts.pending);
      depth += job.counts.pending;
    }
    uint64_t credit = 0;
    for (const WorkerInfo& w : d.scheduler().Workers()) credit += w.draining ? 0 : w.credit;
    response->set_queue_depth(depth);
    response->set_in_flight(stats.in_flight);
    response->set_workers(stats.workers);
    response->set_credit_outstanding(credit);
    response->set_tasks_per_second(d.progress().TotalTasksPerSecond());
    response->set_points_per_second(d.progress().TotalPointsPerSecond());
    response->set_oldest_ready_age_seconds(
        std::chrono::duration<double>(stats.oldest_ready_age).count());
    response->set_tasks_done_total(stats.done_total);
    response->set_tasks_retried_total(stats.retried_total);
    response->set_tasks_dead_total(stats.dead_total);
    return Status::OK();
  }));
}

grpc::Status BrokerControlService::ListWorkers(grpc::ServerContext* context,
                                               const v1::ListWorkersRequest* /*request*/,
                                               v1::ListWorkersResponse* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  return ToGrpcStatus(Call(*context, [&](Dispatcher& d) -> Status {
    const auto wall_now = std::chrono::system_clock::now();
    const auto steady_now = std::chrono::steady_clock::now();
    for (const WorkerInfo& w : d.scheduler().Workers()) {
      v1::Worker* out = response->add_workers();
      out->set_id(w.id);
      out->set_host(w.host);
      out->set_pid(w.pid);
      out->set_threads(w.threads);
      for (const std::string& a : w.analytics) out->add_analytics(a);
      out->set_credit(static_cast<uint32_t>(std::min<uint64_t>(w.credit, UINT32_MAX)));
      out->set_in_flight(static_cast<uint32_t>(std::min<uint64_t>(w.in_flight, UINT32_MAX)));
      out->set_tasks_done(w.done);
      out->set_tasks_per_second(d.progress().WorkerTasksPerSecond(w.id));
      out->set_points_per_second(d.progress().WorkerPointsPerSecond(w.id));
      // last_seen is on the broker's clock; shown as wall time.
      const auto ago = steady_now.time_since_epoch() - w.last_seen.time_since_epoch();
      out->set_last_heartbeat(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  (wall_now - ago).time_since_epoch())
                                  .count());
      out->set_draining(w.draining);
    }
    return Status::OK();
  }));
}

grpc::Status BrokerControlService::DrainWorker(grpc::ServerContext* context,
                                               const v1::DrainWorkerRequest* request,
                                               v1::DrainWorkerResponse* /*response*/) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  return ToGrpcStatus(
      CallDurably(*context, [&](Dispatcher& d) -> Status { return d.DrainWorker(request->worker_id()); },
                  "draining worker " + request->worker_id()));
}

grpc::Status BrokerControlService::ListDeadLetters(grpc::ServerContext* context,
                                                   const v1::ListDeadLettersRequest* request,
                                                   v1::ListDeadLettersResponse* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
  return ToGrpcStatus(Call(*context, [&](Dispatcher& d) -> Status {
    BTRQ_ASSIGN_OR_RETURN(JobInfo info, d.scheduler().GetJob(request->job_id()));
    BTRQ_ASSIGN_OR_RETURN(std::vector<DeadLetter> dead,
                          d.scheduler().DeadLetters(request->job_id()));
    const size_t n = request->limit() == 0 ? dead.size()
                                           : std::min<size_t>(dead.size(), request->limit());
    for (size_t i = 0; i < n; ++i) {
      v1::DeadLetter* out = response->add_dead();
      out->mutable_key()->set_job(dead[i].key.job);
      out->mutable_key()->set_stream(std::string(dead[i].key.stream.AsBytes()));
      out->mutable_key()->set_start(dead[i].key.start);
      out->mutable_key()->set_nonce(dead[i].key.nonce);
      out->set_attempt(dead[i].attempt);
      out->set_error(dead[i].error);
      out->set_end(dead[i].key.start + info.spec.chunk);
    }
    return Status::OK();
  }));
}

}  // namespace btrq::broker
