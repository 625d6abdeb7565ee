#include "common/mutex.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace btrq {
namespace {

// Waits up to 10 s for `done`; a deadline, not a sleep, decides.
bool Eventually(const std::atomic<bool>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  return done.load();
}

TEST(SharedMutex, ReadersShareIt) {
  SharedMutex mu;
  ReaderMutexLock held(&mu);
  std::atomic<bool> second_reader_in{false};
  std::thread reader([&] {
    ReaderMutexLock lock(&mu);
    second_reader_in = true;
  });
  EXPECT_TRUE(Eventually(second_reader_in));
  reader.join();
}

// The second thread records whether the first had already let go when it got in: with a
// broken exclusion it could get in earlier, and the check fails.
TEST(SharedMutex, AWriterWaitsForTheReaders) {
  SharedMutex mu;
  std::atomic<bool> released{false}, writer_saw_release{false};
  std::thread writer;
  {
    ReaderMutexLock held(&mu);
    writer = std::thread([&] {
      WriterMutexLock lock(&mu);
      writer_saw_release = released.load();
    });
    released = true;
  }
  writer.join();
  EXPECT_TRUE(writer_saw_release.load());
}

TEST(SharedMutex, AReaderWaitsForTheWriter) {
  SharedMutex mu;
  std::atomic<bool> released{false}, reader_saw_release{false};
  std::thread reader;
  {
    WriterMutexLock held(&mu);
    reader = std::thread([&] {
      ReaderMutexLock lock(&mu);
      reader_saw_release = released.load();
    });
    released = true;
  }
  reader.join();
  EXPECT_TRUE(reader_saw_release.load());
}

}  // namespace
}  // namespace btrq
