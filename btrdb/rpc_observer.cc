#include "btrdb/rpc_observer.h"

#include "common/metrics.h"
#include "common/mutex.h"

#include <array>
#include <chrono>
#include <map>
#include <string>
#include <utility>

#include <grpcpp/support/interceptor.h>
#include <grpcpp/support/client_interceptor.h>
#include <google/protobuf/message_lite.h>

#include "btrdb/point_frames.h"
#include "btrdb/rpc_interceptor.h"

namespace btrq::btrdb {
namespace {

// "/v5api.BTrDB/RawValues" -> "RawValues".
std::string_view ShortMethod(std::string_view full) {
  const size_t slash = full.rfind('/');
  return slash == std::string_view::npos ? full : full.substr(slash + 1);
}

class ObservingInterceptor final : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(RpcObserver* observer, std::string_view method)
      : observer_(observer), method_(ShortMethod(method)), received_(ReceivedAs(method_)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_INITIAL_METADATA)) {
      start_ = std::chrono::steady_clock::now();
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE)) {
      if (const void* message = methods->GetRecvMessage(); message != nullptr) {
        bytes_ += Bytes(message);
      }
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_STATUS)) {
      const grpc::Status* status = methods->GetRecvStatus();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      observer_->OnRpc(method_, GrpcCodeName(status != nullptr ? status->error_code() : 2),
                       seconds, bytes_);
    }
    methods->Proceed();
  }

 private:
  // What client.cc reads each method's responses into: the point streams as PointFrames
  // (btrdb/point_frames.h), every other method as its generated protobuf class.
  enum class Received { kMessage, kRawFrame, kStatFrame };
  static Received ReceivedAs(std::string_view method) {
    if (method == "RawValues") return Received::kRawFrame;
    if (method == "AlignedWindows" || method == "Windows") return Received::kStatFrame;
    return Received::kMessage;
  }

  uint64_t Bytes(const void* message) const {
    switch (received_) {
      case Received::kRawFrame:
        return static_cast<const RawFrame*>(message)->wire_bytes;
      case Received::kStatFrame:
        return static_cast<const StatFrame*>(message)->wire_bytes;
      case Received::kMessage:
        break;
    }
    // A generated class's MessageLite base is its primary base (same address): the void*
    // gRPC hands out points at it.
    return static_cast<const google::protobuf::MessageLite*>(message)->ByteSizeLong();
  }

  RpcObserver* const observer_;
  const std::string method_;
  const Received received_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  uint64_t bytes_ = 0;
};

class ObservingInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ObservingInterceptorFactory(std::shared_ptr<RpcObserver> observer)
      : observer_(std::move(observer)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ObservingInterceptor(observer_.get(), info->method() ? info->method() : "");
  }

 private:
  const std::shared_ptr<RpcObserver> observer_;
};

class RpcMetrics final : public RpcObserver {
 public:
  explicit RpcMetrics(metrics::Registry* registry) : registry_(registry) {}

  Status Init() {
    BTRQ_ASSIGN_OR_RETURN(bytes_, registry_->AddCounter(
                                      "btrq_btrdb_received_bytes_total",
                                      "Bytes of BTrDB responses received (protobuf size)."));
    return Status::OK();
  }

  void OnRpc(std::string_view method, std::string_view code, double seconds,
             uint64_t response_bytes) override {
    bytes_->Inc(static_cast<double>(response_bytes));
    if (metrics::Histogram* h = Find(method, code)) h->Observe(seconds);
  }

 private:
  metrics::Histogram* Find(std::string_view method, std::string_view code) BTRQ_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    auto key = std::make_pair(std::string(method), std::string(code));
    auto it = series_.find(key);
    if (it != series_.end()) return it->second;
    auto added = registry_->AddHistogram(
        "btrq_btrdb_rpc_duration_seconds", "Duration of BTrDB RPCs, by method and gRPC code.",
        metrics::ExponentialBuckets(0.0005, 2, 16), {{"method", key.first}, {"code", key.second}});
    metrics::Histogram* h = added.ok() ? *added : nullptr;
    series_.emplace(std::move(key), h);
    return h;
  }

  metrics::Registry* const registry_;
  metrics::Counter* bytes_ = nullptr;
  Mutex mu_;
  std::map<std::pair<std::string, std::string>, metrics::Histogram*> series_ BTRQ_GUARDED_BY(mu_);
};

}  // namespace

std::string_view GrpcCodeName(int code) {
  static constexpr std::array<std::string_view, 17> kNames = {
      "OK",           "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",   "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(kNames.size())) return "UNKNOWN";
  return kNames[static_cast<size_t>(code)];
}

std::shared_ptr<RpcObserver> MakeRpcMetrics(metrics::Registry* registry) {
  auto m = std::make_shared<RpcMetrics>(registry);
  if (!m->Init().ok()) return nullptr;
  return m;
}

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
MakeObservingInterceptors(std::shared_ptr<RpcObserver> observer) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> out;
  if (observer) out.push_back(std::make_unique<ObservingInterceptorFactory>(std::move(observer)));
  return out;
}

}  // namespace btrq::btrdb
