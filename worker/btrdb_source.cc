#include "worker/btrdb_source.h"

#include <algorithm>
#include <utility>

namespace btrq::worker {

Status CancelledStatus() { return Status::Cancelled("task cancelled"); }

analytics::RawSink CancellableRawSink(const analytics::RawSink& sink,
                                      const std::atomic<bool>* cancelled) {
  return [&sink, cancelled](std::span<const btrdb::RawPoint> batch) {
    if (cancelled->load(std::memory_order_relaxed)) return CancelledStatus();
    return sink(batch);
  };
}

analytics::StatSink CancellableStatSink(const analytics::StatSink& sink,
                                        const std::atomic<bool>* cancelled) {
  return [&sink, cancelled](std::span<const btrdb::StatPoint> batch) {
    if (cancelled->load(std::memory_order_relaxed)) return CancelledStatus();
    return sink(batch);
  };
}

BtrdbConnection::BtrdbConnection(ConnectFn connect, const Clock* clock,
                                 const ReconnectOptions& options)
    : connect_(std::move(connect)), clock_(clock), options_(options) {}

Result<btrdb::Client*> BtrdbConnection::Get() {
  if (client_) return client_.get();
  const SteadyTime now = clock_->Now();
  if (backoff_ > 0 && now < retry_at_) {
    return Status::Unavailable("BTrDB reconnect backing off after: " + last_error_.ToString());
  }
  ++connect_attempts_;
  auto connected = connect_();
  if (!connected.ok()) {
    last_error_ = connected.status();
    backoff_ = backoff_ == 0 ? options_.backoff_initial
                             : std::min(backoff_ * 2, options_.backoff_max);
    retry_at_ = now + Nanos(backoff_);
    // A connect failure is transient whatever the server said (e.g. no server answered
    // as v5 yet): the task goes back to the broker for a later attempt.
    if (last_error_.IsTransient()) return last_error_;
    return Status::Unavailable("connecting to BTrDB: " + last_error_.ToString());
  }
  backoff_ = 0;
  client_ = std::move(connected).value();
  return client_.get();
}

void BtrdbConnection::ReportError(const Status& status) {
  if (!status.ok() && status.IsTransient()) client_.reset();
}

Result<btrdb::ConnectOptions> MakeConnectOptions(const BtrdbOptions& options) {
  btrdb::ConnectOptions out;
  out.endpoints = btrdb::SplitEndpoints(options.endpoints);
  if (out.endpoints.empty()) return Status::InvalidArgument("btrdb.endpoints is empty");
  BTRQ_ASSIGN_OR_RETURN(out.api_key,
                        ResolveSecret(options.api_key, options.api_key_file, "btrdb.api_key_file"));
  switch (options.tls) {
    case TlsMode::kAuto:
      out.tls = btrdb::ConnectOptions::Tls::kAuto;
      break;
    case TlsMode::kOn:
      out.tls = btrdb::ConnectOptions::Tls::kOn;
      break;
    case TlsMode::kOff:
      out.tls = btrdb::ConnectOptions::Tls::kOff;
      break;
  }
  out.ca_bundle = options.ca_bundle;
  if (options.call_timeout > 0) out.call_timeout_ns = options.call_timeout;
  out.stream_idle_timeout_ns = options.read_idle_timeout;
  return out;
}

namespace {

// Reads the task's stream through the thread's connection.
class BtrdbTaskSource final : public TaskSource {
 public:
  BtrdbTaskSource(BtrdbConnection* connection, const Uuid& stream,
                  const std::atomic<bool>* cancelled)
      : connection_(connection), stream_(stream), cancelled_(cancelled) {}

  Status ReadRaw(int64_t start, int64_t end, uint64_t version,
                 const analytics::RawSink& sink) override {
    return Read([&](btrdb::Client* client) {
      return client->RawValues(stream_, start, end, version,
                               CancellableRawSink(sink, cancelled_));
    });
  }

  Status ReadAligned(int64_t start, int64_t end, uint64_t version, uint8_t pointwidth,
                     const analytics::StatSink& sink) override {
    return Read([&](btrdb::Client* client) {
      return client->AlignedWindows(stream_, start, end, version, pointwidth,
                                    CancellableStatSink(sink, cancelled_));
    });
  }

  Status ReadWindows(int64_t start, int64_t end, uint64_t version, uint64_t width,
                     const analytics::StatSink& sink) override {
    return Read([&](btrdb::Client* client) {
      return client->Windows(stream_, start, end, version, width, /*depth=*/0,
                             CancellableStatSink(sink, cancelled_));
    });
  }

  uint64_t version_read() const override { return version_read_; }
  bool dependency_down() const override { return dependency_down_; }

 private:
  template <typename Call>
  Status Read(const Call& call) {
    if (cancelled_->load(std::memory_order_relaxed)) return CancelledStatus();
    Result<btrdb::Client*> client = connection_->Get();
    if (!client.ok()) {
      dependency_down_ = true;
      return client.status();
    }
    Result<uint64_t> version = call(*client);
    if (!version.ok()) {
      // A sink's own error (cancellation, an analytic's complaint) is not transient, so
      // only BTrDB trouble drops the connection.
      connection_->ReportError(version.status());
      // UNAVAILABLE: no server answered (it died, or the link did). A deadline may be
      // this stream's own slowness, so it stays a failed attempt.
      if (version.status().code() == StatusCode::kUnavailable) dependency_down_ = true;
      if (cancelled_->load(std::memory_order_relaxed)) return CancelledStatus();
      return version.status();
    }
    version_read_ = *version;
    return Status::OK();
  }

  BtrdbConnection* const connection_;
  const Uuid stream_;
  const std::atomic<bool>* const cancelled_;
  uint64_t version_read_ = 0;
  bool dependency_down_ = false;
};

class BtrdbSourceProvider final : public SourceProvider {
 public:
  BtrdbSourceProvider(const btrdb::ConnectOptions& options, const Clock* clock)
      : connection_([options] { return btrdb::Client::Connect(options); }, clock) {}

  std::unique_ptr<TaskSource> Open(const TaskSpec& task,
                                   const std::atomic<bool>* cancelled) override {
    return std::make_unique<BtrdbTaskSource>(&connection_, task.key.stream, cancelled);
  }

 private:
  BtrdbConnection connection_;
};

}  // namespace

std::unique_ptr<SourceProvider> NewBtrdbSourceProvider(const btrdb::ConnectOptions& options,
                                                       const Clock* clock) {
  return std::make_unique<BtrdbSourceProvider>(options, clock);
}

SourceProviderFactory BtrdbSourceProviderFactory(const btrdb::ConnectOptions& options,
                                                 const Clock* clock) {
  return [options, clock] { return NewBtrdbSourceProvider(options, clock); };
}

}  // namespace btrq::worker
