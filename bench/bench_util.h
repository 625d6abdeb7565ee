#pragma once

// Small helpers shared by the end-to-end benchmark tools (bench/run drives them): the
// machine line, percentiles, CPU time of a thread. Header-only; benchmarks only.

#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace btrq::bench {

inline std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

// "Linux 6.1.0 x86_64, 2 hardware threads, <cpu model>".
inline std::string MachineLine() {
  utsname uts{};
  uname(&uts);
  return std::string(uts.sysname) + " " + uts.release + " " + uts.machine + ", " +
         std::to_string(std::thread::hardware_concurrency()) + " hardware threads, " +
         CpuModel();
}

// The q-quantile (0..1) of `v` by nearest rank; sorts `v`. 0 when empty.
inline int64_t Quantile(std::vector<int64_t>* v, double q) {
  if (v->empty()) return 0;
  std::sort(v->begin(), v->end());
  size_t rank = static_cast<size_t>(q * static_cast<double>(v->size()));
  if (rank >= v->size()) rank = v->size() - 1;
  return (*v)[rank];
}

// CPU seconds (user + system) of the calling thread.
inline double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline int64_t MonotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace btrq::bench
