#include "broker/broker.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "broker/btrdb_catalog.h"
#include "broker/control_service.h"
#include "broker/dashboard/dashboard.h"
#include "broker/dashboard/history.h"
#include "broker/dispatcher.h"
#include "broker/journal.h"
#include "broker/scheduler.h"
#include "common/file_util.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/lease_token.h"
#include "common/listen_gate.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/readiness.h"
#include "btrdb/rpc_observer.h"
#include "analytics/registry.h"

#include <spdlog/spdlog.h>

#ifndef BTRQ_BROKER_VERSION
#define BTRQ_BROKER_VERSION "unknown"
#endif

namespace btrq::broker {
namespace {

constexpr int kMaxControlMessageBytes = 64 << 20;
// BTrDB calls of the catalog (listing, pinning) in flight at most, each on its own
// thread and connection, off the dispatcher's loop.
constexpr size_t kCatalogThreads = 4;

}  // namespace

class Broker::Impl {
 public:
  Impl(const BtrqConfig& config, Clock* clock) : config_(config), clock_(clock) {}
  ~Impl() {
    // Answer control calls that wait on a loop that never ran, so gRPC can stop.
    if (dispatcher_ && !ran_) dispatcher_->Close();
    StopServers();
  }

  Status Init();
  Status Run();
  void Shutdown() {
    ready_.store(false);
    if (dispatcher_) dispatcher_->Stop();
  }

  std::string control_endpoint_;
  std::string tasks_endpoint_;
  const std::string& http_endpoint() const { return http_.endpoint(); }

 private:
  Status StartGrpc();
  Status StartHttp();
  void StopServers();

  const BtrqConfig config_;
  Clock* const clock_;
  std::atomic<bool> ready_{false};
  bool ran_ = false;

  analytics::Registry analytics_;
  metrics::Registry metrics_;
  dashboard::DashboardHistory history_;
  std::unique_ptr<Dispatcher> dispatcher_;

  std::unique_ptr<BrokerControlService> service_;
  std::unique_ptr<GrpcServer> grpc_server_;
  HttpServer http_;
};

Status Broker::Impl::Init() {
  const BrokerOptions& b = config_.broker;
  BTRQ_RETURN_IF_ERROR(CheckBrokerListeners(b, config_.curve));
  analytics::BuiltinOptions builtins;
  builtins.user_code = analytics::UserCode::kValidateOnly;  // to check params; it never runs
  BTRQ_RETURN_IF_ERROR(analytics::RegisterBuiltins(&analytics_, builtins));

  BTRQ_ASSIGN_OR_RETURN(btrdb::ConnectOptions connect, BrokerConnectOptions(config_.btrdb));
  // Every BTrDB call of the catalog: btrq_btrdb_rpc_duration_seconds.
  connect.observer = btrdb::MakeRpcMetrics(&metrics_);
  BTRQ_ASSIGN_OR_RETURN(
      std::unique_ptr<CatalogRunner> runner,
      CatalogRunner::Start(kCatalogThreads, [connect]() -> Result<std::unique_ptr<StreamCatalog>> {
        BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<BtrdbCatalog> c, BtrdbCatalog::Create(connect));
        return std::unique_ptr<StreamCatalog>(std::move(c));
      }));

  JournalOptions journal_options;
  journal_options.dir = b.data_dir;
  journal_options.sync_interval = Nanos(b.journal_sync);
  BTRQ_ASSIGN_OR_RETURN(metrics::Histogram * fsync_seconds,
                        metrics_.AddHistogram("btrq_journal_fsync_seconds",
                                              "Duration of one journal fdatasync.",
                                              metrics::ExponentialBuckets(0.0001, 2, 16)));
  journal_options.on_sync = [fsync_seconds](Nanos d) {
    fsync_seconds->Observe(std::chrono::duration<double>(d).count());
  };
  auto journal = Journal::Open(journal_options, clock_);
  if (!journal.ok()) return journal.status().WithContext("opening the journal in " + b.data_dir);
  if ((*journal)->recovery().truncated_bytes > 0) {
    spdlog::warn("btrq-broker: cut {} bytes of a torn journal tail",
                 (*journal)->recovery().truncated_bytes);
  }

  SchedulerOptions scheduler_options;
  scheduler_options.window_per_job = b.window;
  scheduler_options.heartbeat_interval = Nanos(b.heartbeat_interval);
  scheduler_options.liveness = b.liveness;
  scheduler_options.stall_threshold = kLoopStallThreshold;
  scheduler_options.retry_backoff.base = Nanos(b.retry_backoff);
  scheduler_options.retry_backoff.cap = Nanos(b.retry_backoff_max);
  auto scheduler = Scheduler::Create(scheduler_options, clock_, std::move(runner),
                                     std::move(journal).value());
  if (!scheduler.ok()) return scheduler.status().WithContext("recovering the broker's state");

  DispatcherOptions dispatcher_options;
  dispatcher_options.listen = b.tasks_listen;
  dispatcher_options.heartbeat_interval = Nanos(b.heartbeat_interval);
  dispatcher_options.limits.max_frame_bytes = static_cast<size_t>(b.max_message_bytes);
  dispatcher_options.sampler.history = &history_;
  if (!b.lease_secret_file.empty()) {
    BTRQ_ASSIGN_OR_RETURN(dispatcher_options.lease_signer,
                          LeaseSigner::FromFile(b.lease_secret_file, "broker.lease_secret_file"));
  }
  if (config_.curve.enabled) {
    // Our own pair (checked against curve.public_key); only listed worker keys get in.
    BTRQ_ASSIGN_OR_RETURN(CurveKeyPair pair, CurveKeyPairFrom(config_.curve));
    dispatcher_options.curve = CurveServerKeys{std::move(pair.secret_key)};
    BTRQ_ASSIGN_OR_RETURN(dispatcher_options.zap, ZapOptionsFrom(config_.curve));
    spdlog::info("btrq-broker: CurveZMQ on, {} authorized worker keys from {}",
                 dispatcher_options.zap->authorized_keys.size(),
                 config_.curve.authorized_keys_file);
  }
  BTRQ_ASSIGN_OR_RETURN(dispatcher_, Dispatcher::Create(dispatcher_options, clock_,
                                                       std::move(scheduler).value(), &metrics_));
  tasks_endpoint_ = dispatcher_->endpoint();

  BTRQ_RETURN_IF_ERROR(metrics_.AddCallbackGauge(
      "btrq_build_info", "The broker's build.", {{"version", BTRQ_BROKER_VERSION}},
      [] { return 1.0; }));
  BTRQ_RETURN_IF_ERROR(metrics_.AddCallbackGauge("btrq_broker_ready",
                                                 "1 while the broker serves.", {},
                                                 [this] { return ready_.load() ? 1.0 : 0.0; }));
  BTRQ_RETURN_IF_ERROR(StartGrpc());
  BTRQ_RETURN_IF_ERROR(StartHttp());
  return Status::OK();
}

Status Broker::Impl::StartGrpc() {
  const BrokerOptions& b = config_.broker;
  BTRQ_ASSIGN_OR_RETURN(std::string token, ResolveSecret(b.control_token, b.control_token_file,
                                                         "broker.control_token_file"));
  ControlServiceOptions service_options;
  service_options.token = std::move(token);
  service_options.default_max_attempts = b.max_attempts;
  service_options.default_task_timeout = b.task_timeout;
  service_ = std::make_unique<BrokerControlService>(service_options, dispatcher_.get(),
                                                    &analytics_);

  GrpcServerOptions server_options =
      ControlServerOptions("broker", b.control_listen, b.tls_cert, b.tls_key);
  server_options.max_receive_message_bytes = kMaxControlMessageBytes;
  // Calls still running (WatchJob) are cancelled after the grace period.
  server_options.shutdown_grace = std::chrono::seconds(1);
  BTRQ_ASSIGN_OR_RETURN(grpc_server_, GrpcServer::Start(server_options, {service_.get()}));
  control_endpoint_ = grpc_server_->endpoint();
  return Status::OK();
}

Status Broker::Impl::StartHttp() {
  // The web dashboard: "/", "/static/*", "/api/snapshot", "/api/history".
  Dispatcher* dispatcher = dispatcher_.get();
  dashboard::RegisterDashboard(
      http_.routes(), [dispatcher] { return dispatcher->DashboardView(); }, &history_, clock_);
  return http_.Start({config_.broker.http_listen, "broker.http_listen",
                      [this] { return metrics_.Render() + dispatcher_->RenderJobMetrics(); },
                      &ready_});
}

void Broker::Impl::StopServers() {
  ready_ = false;
  grpc_server_.reset();  // GrpcServer's destructor shuts it down
  http_.Stop();
}

Status Broker::Impl::Run() {
  if (ran_) return Status::FailedPrecondition("the broker has already run");
  ran_ = true;
  ready_ = true;
  spdlog::info("{}", BrokerReadyLine(control_endpoint_, tasks_endpoint_,
                                     http_.endpoint().empty() ? "off" : http_.endpoint()));
  const Status status = dispatcher_->Run();
  StopServers();
  if (status.ok()) spdlog::info("btrq-broker: stopped (journal synced)");
  return status;
}

Result<std::unique_ptr<Broker>> Broker::Create(const BtrqConfig& config, Clock* clock) {
  auto impl = std::make_unique<Impl>(config, clock);
  BTRQ_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() = default;

Status Broker::Run() { return impl_->Run(); }
void Broker::Shutdown() { impl_->Shutdown(); }
const std::string& Broker::control_endpoint() const { return impl_->control_endpoint_; }
const std::string& Broker::tasks_endpoint() const { return impl_->tasks_endpoint_; }
const std::string& Broker::http_endpoint() const { return impl_->http_endpoint(); }

}  // namespace btrq::broker
