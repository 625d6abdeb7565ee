#pragma once

// An annotated mutex so clang's -Wthread-safety can check which lock guards what
// (leveldb's port/ and thread_annotations.h, in C++20 form). The macros carry our BTRQ_
// prefix, so they never clash with Abseil's unprefixed ones that gRPC's headers bring in:
// this header can be included before or after any other.

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define BTRQ_TSA(x) __attribute__((x))
#else
#define BTRQ_TSA(x)
#endif

#define BTRQ_CAPABILITY(x) BTRQ_TSA(capability(x))
#define BTRQ_SCOPED_CAPABILITY BTRQ_TSA(scoped_lockable)
#define BTRQ_GUARDED_BY(x) BTRQ_TSA(guarded_by(x))
#define BTRQ_PT_GUARDED_BY(x) BTRQ_TSA(pt_guarded_by(x))
#define BTRQ_REQUIRES(...) BTRQ_TSA(requires_capability(__VA_ARGS__))
#define BTRQ_REQUIRES_SHARED(...) BTRQ_TSA(requires_shared_capability(__VA_ARGS__))
#define BTRQ_EXCLUDES(...) BTRQ_TSA(locks_excluded(__VA_ARGS__))
#define BTRQ_ACQUIRE(...) BTRQ_TSA(acquire_capability(__VA_ARGS__))
#define BTRQ_RELEASE(...) BTRQ_TSA(release_capability(__VA_ARGS__))
#define BTRQ_ACQUIRE_SHARED(...) BTRQ_TSA(acquire_shared_capability(__VA_ARGS__))
#define BTRQ_RELEASE_SHARED(...) BTRQ_TSA(release_shared_capability(__VA_ARGS__))
#define BTRQ_NO_THREAD_SAFETY_ANALYSIS BTRQ_TSA(no_thread_safety_analysis)

namespace btrq {

class BTRQ_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() BTRQ_ACQUIRE() { mu_.lock(); }
  void Unlock() BTRQ_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class BTRQ_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) BTRQ_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() BTRQ_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A reader/writer mutex: many readers or one writer. Readers hold it shared
// (ReaderMutexLock), which BTRQ_REQUIRES_SHARED asks for; writers hold it exclusive.
class BTRQ_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() BTRQ_ACQUIRE() { mu_.lock(); }
  void Unlock() BTRQ_RELEASE() { mu_.unlock(); }
  void ReaderLock() BTRQ_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void ReaderUnlock() BTRQ_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class BTRQ_SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex* mu) BTRQ_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterMutexLock() BTRQ_RELEASE() { mu_->Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds a SharedMutex shared for its scope.
class BTRQ_SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex* mu) BTRQ_ACQUIRE_SHARED(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderMutexLock() BTRQ_RELEASE() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A condition variable. Each wait names the Mutex it releases while it sleeps, so that
// the analysis checks that the caller holds it (as Abseil's CondVar::Wait(Mutex*) does);
// one CondVar must always be used with the same Mutex. Wake-ups may be spurious: wait in
// a loop over the condition.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) BTRQ_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false on timeout.
  template <typename Duration>
  bool WaitFor(Mutex* mu, Duration d) BTRQ_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool signalled = cv_.wait_for(lock, d) == std::cv_status::no_timeout;
    lock.release();
    return signalled;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace btrq
