#pragma once

// How an executor thread reads BTrDB. Each executor thread owns one SourceProvider (made
// on that thread by a SourceProviderFactory) and never shares it; the BTrDB one holds the
// thread's own btrdb::Client, connected lazily and reconnected with backoff after a
// transient failure. Every source honours a cancel flag: once it is set, the read in
// progress ends at its next batch with kCancelled, and later reads fail at once.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "btrdb/client.h"
#include "btrdb/connect_options.h"
#include "common/clock.h"
#include "common/messages.h"
#include "common/options.h"
#include "common/status.h"
#include "analytics/analytic.h"

namespace btrq::worker {

// A PointSource for one task, which also tells what version the server answered with.
class TaskSource : public analytics::PointSource {
 public:
  // The version of the last successful read (0 before any).
  virtual uint64_t version_read() const = 0;
  // True once a read failed because the data's server could not be reached (no
  // connection, or UNAVAILABLE): the task was not attempted, whatever the analytic made
  // of the error (ExecutorOutcome::dependency_down).
  virtual bool dependency_down() const { return false; }
};

// One executor thread's access to the data. Not thread-safe: one thread uses it.
class SourceProvider {
 public:
  virtual ~SourceProvider() = default;
  // A source reading `task`'s stream. `cancelled` must outlive the source.
  virtual std::unique_ptr<TaskSource> Open(const TaskSpec& task,
                                           const std::atomic<bool>* cancelled) = 0;
};

// Called once on each executor thread as it starts.
using SourceProviderFactory = std::function<std::unique_ptr<SourceProvider>()>;

// Sinks that fail with kCancelled instead of delivering once `*cancelled` is true.
analytics::RawSink CancellableRawSink(const analytics::RawSink& sink,
                                      const std::atomic<bool>* cancelled);
analytics::StatSink CancellableStatSink(const analytics::StatSink& sink,
                                        const std::atomic<bool>* cancelled);

// The status of a read that `cancelled` ended.
Status CancelledStatus();

// Options of a BtrdbConnection's reconnect backoff.
struct ReconnectOptions {
  int64_t backoff_initial = 100'000'000;  // 100ms after the first failed connect
  int64_t backoff_max = 5'000'000'000;    // 5s cap of the doubling
};

// One thread's btrdb::Client, connected on first use. A transient error from a call
// (ReportError) drops the client, so the next Get() reconnects at once. A failed
// connect makes Get() fail fast (Unavailable: transient, naming the last error) until a
// backoff has passed: 100ms, doubling up to 5s, reset by a successful connect. Failing
// fast hands the task back to the broker as "not attempted: dependency down" (no attempt
// spent; the worker pauses, see worker.h) instead of holding an executor thread while
// BTrDB is away.
class BtrdbConnection {
 public:
  using ConnectFn = std::function<Result<std::unique_ptr<btrdb::Client>>()>;

  // `clock` must outlive the connection.
  BtrdbConnection(ConnectFn connect, const Clock* clock,
                  const ReconnectOptions& options = ReconnectOptions());

  // The connected client (owned by this connection), or why there is none.
  Result<btrdb::Client*> Get();
  // Reports a call's outcome: a transient error drops the client.
  void ReportError(const Status& status);

  bool connected() const { return client_ != nullptr; }
  // Connect attempts made so far (for tests and logs).
  uint64_t connect_attempts() const { return connect_attempts_; }

 private:
  const ConnectFn connect_;
  const Clock* const clock_;
  const ReconnectOptions options_;
  std::unique_ptr<btrdb::Client> client_;
  Status last_error_;
  SteadyTime retry_at_{};
  int64_t backoff_ = 0;  // ns; 0 until a connect fails
  uint64_t connect_attempts_ = 0;
};

// btrq's BTrDB options as the client's ConnectOptions (secrets resolved).
Result<btrdb::ConnectOptions> MakeConnectOptions(const BtrdbOptions& options);

// A SourceProvider over a BtrdbConnection that connects with `options`.
std::unique_ptr<SourceProvider> NewBtrdbSourceProvider(const btrdb::ConnectOptions& options,
                                                       const Clock* clock);

// A factory of such providers, one per executor thread.
SourceProviderFactory BtrdbSourceProviderFactory(const btrdb::ConnectOptions& options,
                                                 const Clock* clock);

}  // namespace btrq::worker
