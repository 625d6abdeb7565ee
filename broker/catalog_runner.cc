#include "broker/catalog_runner.h"

#include <deque>
#include <thread>
#include <utility>

#include "common/mutex.h"

namespace btrq::broker {

CatalogAnswer RunCatalogRequest(StreamCatalog* catalog, CatalogRequest request) {
  CatalogAnswer answer;
  if (request.kind == CatalogRequest::Kind::kList) {
    Result<std::vector<StreamRef>> found = catalog->ListStreams(request.selection);
    if (found.ok()) {
      answer.streams = std::move(found).value();
    } else {
      answer.status = found.status();
    }
  } else {
    Result<StreamPin> pin = catalog->PinStream(request.stream, request.version);
    if (pin.ok()) {
      answer.pin = std::move(pin).value();
    } else {
      answer.status = pin.status();
    }
  }
  answer.request = std::move(request);
  return answer;
}

// What the scheduler's thread and the runner threads share. The threads hold it too, so
// it outlives whichever side ends last.
class CatalogRunner::Shared {
 public:
  explicit Shared(StreamCatalog* inline_catalog) : inline_(inline_catalog) {}

  void Submit(CatalogRequest request) BTRQ_EXCLUDES(mu_) {
    if (inline_ != nullptr) {
      CatalogAnswer answer = RunCatalogRequest(inline_, std::move(request));
      MutexLock lock(&mu_);
      answers_.push_back(std::move(answer));
      return;
    }
    MutexLock lock(&mu_);
    queue_.push_back(std::move(request));
    work_.Signal();
  }

  std::vector<CatalogAnswer> Take() BTRQ_EXCLUDES(mu_) {
    std::vector<CatalogAnswer> out;
    MutexLock lock(&mu_);
    out.swap(answers_);
    return out;
  }

  void SetWakeup(std::function<void()> wakeup) BTRQ_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    wakeup_ = std::move(wakeup);
  }

  void Stop() BTRQ_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    stop_ = true;
    wakeup_ = nullptr;
    work_.SignalAll();
  }

  // A runner thread's life: take a request, call the catalog without the lock, post the
  // answer and wake the loop.
  void Serve(StreamCatalog* catalog) BTRQ_EXCLUDES(mu_) {
    for (;;) {
      CatalogRequest request;
      {
        MutexLock lock(&mu_);
        while (!stop_ && queue_.empty()) work_.Wait(&mu_);
        if (stop_) return;
        request = std::move(queue_.front());
        queue_.pop_front();
      }
      CatalogAnswer answer = RunCatalogRequest(catalog, std::move(request));
      MutexLock lock(&mu_);
      answers_.push_back(std::move(answer));
      // Under the lock, so that Stop() (and the runner's end) is never followed by a wakeup.
      if (wakeup_) wakeup_();
    }
  }

 private:
  StreamCatalog* const inline_;
  Mutex mu_;
  CondVar work_;
  bool stop_ BTRQ_GUARDED_BY(mu_) = false;
  std::deque<CatalogRequest> queue_ BTRQ_GUARDED_BY(mu_);
  std::vector<CatalogAnswer> answers_ BTRQ_GUARDED_BY(mu_);
  std::function<void()> wakeup_ BTRQ_GUARDED_BY(mu_);

 public:
  std::vector<std::thread> threads;  // touched only by the owning CatalogRunner
};

std::unique_ptr<CatalogRunner> CatalogRunner::Inline(StreamCatalog* catalog) {
  return std::unique_ptr<CatalogRunner>(new CatalogRunner(std::make_shared<Shared>(catalog)));
}

Result<std::unique_ptr<CatalogRunner>> CatalogRunner::Start(size_t threads,
                                                            const CatalogFactory& factory) {
  if (threads == 0) return Status::InvalidArgument("catalog runner: threads must be positive");
  std::vector<std::unique_ptr<StreamCatalog>> catalogs;
  for (size_t i = 0; i < threads; ++i) {
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<StreamCatalog> c, factory());
    catalogs.push_back(std::move(c));
  }
  auto shared = std::make_shared<Shared>(nullptr);
  for (std::unique_ptr<StreamCatalog>& c : catalogs) {
    shared->threads.emplace_back(
        [shared_ptr = shared, catalog = std::move(c)] { shared_ptr->Serve(catalog.get()); });
  }
  return std::unique_ptr<CatalogRunner>(new CatalogRunner(std::move(shared)));
}

CatalogRunner::~CatalogRunner() {
  shared_->Stop();
  for (std::thread& t : shared_->threads) t.join();
}

void CatalogRunner::Submit(CatalogRequest request) {
  ++outstanding_;
  shared_->Submit(std::move(request));
}

std::vector<CatalogAnswer> CatalogRunner::TakeAnswers() {
  std::vector<CatalogAnswer> out = shared_->Take();
  outstanding_ -= out.size();
  return out;
}

void CatalogRunner::SetWakeup(std::function<void()> wakeup) {
  shared_->SetWakeup(std::move(wakeup));
}

}  // namespace btrq::broker
