#include "common/metrics.h"

#include <algorithm>
#include <cmath>

#include "common/number_format.h"

namespace btrq::metrics {
namespace {

enum Type : int { kCounter, kGauge, kHistogram };

std::string_view TypeName(int type) {
  switch (type) {
    case kCounter: return "counter";
    case kGauge: return "gauge";
    default: return "histogram";
  }
}

void AtomicAdd(std::atomic<double>* a, double v) {
  double old = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// HELP text escapes backslash and newline.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// {a="x",b="y"} with `extra` (e.g. le) appended; "" when there are no labels.
void AppendLabels(std::string* out, const Labels& labels, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out->push_back(',');
    first = false;
    *out += k;
    *out += "=\"";
    *out += EscapeLabelValue(v);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out->push_back(',');
    *out += extra_name;
    *out += "=\"";
    *out += extra_value;
    out->push_back('"');
  }
  out->push_back('}');
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix,
                  const Labels& labels, double value, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  *out += name;
  *out += suffix;
  AppendLabels(out, labels, extra_name, extra_value);
  out->push_back(' ');
  *out += FormatValue(value);
  out->push_back('\n');
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return FormatDouble(v);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

void Counter::Inc(double v) {
  if (v < 0) return;
  AtomicAdd(&value_, v);
}

void Gauge::Inc(double v) { AtomicAdd(&value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  // First bound >= v; NaN lands in +Inf.
  const size_t i = std::isnan(v) ? bounds_.size()
                                 : static_cast<size_t>(
                                       std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                       bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, v);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

std::vector<double> ExponentialBuckets(double start, double factor, size_t count) {
  std::vector<double> b;
  b.reserve(count);
  for (size_t i = 0; i < count; ++i, start *= factor) b.push_back(start);
  return b;
}

std::vector<double> LinearBuckets(double start, double width, size_t count) {
  std::vector<double> b;
  b.reserve(count);
  for (size_t i = 0; i < count; ++i) b.push_back(start + width * static_cast<double>(i));
  return b;
}

struct Registry::Series {
  Labels labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> callback;
};

struct Registry::Family {
  std::string name;
  std::string help;
  int type = kCounter;
  std::vector<double> bounds;  // histograms
  std::vector<std::unique_ptr<Series>> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Result<Registry::Series*> Registry::FindOrAdd(std::string_view name, std::string_view help,
                                              int type, const Labels& labels,
                                              const std::vector<double>* bounds) {
  if (!ValidName(name, /*allow_colon=*/true)) {
    return Status::InvalidArgument("metrics: invalid metric name '" + std::string(name) + "'");
  }
  for (const auto& [k, v] : labels) {
    if (!ValidName(k, /*allow_colon=*/false) || k.rfind("__", 0) == 0) {
      return Status::InvalidArgument("metrics: invalid label name '" + k + "' on " +
                                     std::string(name));
    }
    if (type == kHistogram && k == "le") {
      return Status::InvalidArgument("metrics: histogram " + std::string(name) +
                                     " cannot have a label named 'le'");
    }
  }
  if (bounds != nullptr) {
    for (size_t i = 0; i < bounds->size(); ++i) {
      if (!std::isfinite((*bounds)[i]) || (i > 0 && (*bounds)[i] <= (*bounds)[i - 1])) {
        return Status::InvalidArgument("metrics: histogram " + std::string(name) +
                                       " needs finite, strictly increasing bounds");
      }
    }
  }
  Family* family = nullptr;
  for (const auto& f : families_) {
    if (f->name == name) {
      family = f.get();
      break;
    }
  }
  if (family == nullptr) {
    auto f = std::make_unique<Family>();
    f->name = std::string(name);
    f->help = std::string(help);
    f->type = type;
    if (bounds != nullptr) f->bounds = *bounds;
    family = f.get();
    families_.push_back(std::move(f));
  } else if (family->type != type) {
    return Status::InvalidArgument("metrics: " + std::string(name) + " is already a " +
                                   std::string(TypeName(family->type)));
  } else if (bounds != nullptr && family->bounds != *bounds) {
    return Status::InvalidArgument("metrics: histogram " + std::string(name) +
                                   " registered again with other bounds");
  }
  for (const auto& s : family->series) {
    if (s->labels == labels) return s.get();
  }
  auto s = std::make_unique<Series>();
  s->labels = labels;
  if (type == kHistogram) s->histogram = std::make_unique<Histogram>(family->bounds);
  family->series.push_back(std::move(s));
  return family->series.back().get();
}

Result<Counter*> Registry::AddCounter(std::string_view name, std::string_view help,
                                      const Labels& labels) {
  MutexLock lock(&mu_);
  BTRQ_ASSIGN_OR_RETURN(Series * s, FindOrAdd(name, help, kCounter, labels, nullptr));
  if (s->callback) {
    return Status::InvalidArgument("metrics: " + std::string(name) + " is a callback counter");
  }
  if (!s->counter) s->counter = std::make_unique<Counter>();
  return s->counter.get();
}

Result<Gauge*> Registry::AddGauge(std::string_view name, std::string_view help,
                                  const Labels& labels) {
  MutexLock lock(&mu_);
  BTRQ_ASSIGN_OR_RETURN(Series * s, FindOrAdd(name, help, kGauge, labels, nullptr));
  if (s->callback) {
    return Status::InvalidArgument("metrics: " + std::string(name) + " is a callback gauge");
  }
  if (!s->gauge) s->gauge = std::make_unique<Gauge>();
  return s->gauge.get();
}

Result<Histogram*> Registry::AddHistogram(std::string_view name, std::string_view help,
                                          std::vector<double> bounds, const Labels& labels) {
  MutexLock lock(&mu_);
  BTRQ_ASSIGN_OR_RETURN(Series * s, FindOrAdd(name, help, kHistogram, labels, &bounds));
  return s->histogram.get();
}

Status Registry::AddCallbackGauge(std::string_view name, std::string_view help,
                                  const Labels& labels, std::function<double()> fn) {
  MutexLock lock(&mu_);
  BTRQ_ASSIGN_OR_RETURN(Series * s, FindOrAdd(name, help, kGauge, labels, nullptr));
  if (s->gauge) {
    return Status::InvalidArgument("metrics: " + std::string(name) + " is a plain gauge");
  }
  s->callback = std::move(fn);
  return Status::OK();
}

Status Registry::AddCallbackCounter(std::string_view name, std::string_view help,
                                    const Labels& labels, std::function<double()> fn) {
  MutexLock lock(&mu_);
  BTRQ_ASSIGN_OR_RETURN(Series * s, FindOrAdd(name, help, kCounter, labels, nullptr));
  if (s->counter) {
    return Status::InvalidArgument("metrics: " + std::string(name) + " is a plain counter");
  }
  s->callback = std::move(fn);
  return Status::OK();
}

std::string Registry::Render() const {
  MutexLock lock(&mu_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP ";
    out += f->name;
    out.push_back(' ');
    out += EscapeHelp(f->help);
    out += "\n# TYPE ";
    out += f->name;
    out.push_back(' ');
    out += TypeName(f->type);
    out.push_back('\n');
    for (const auto& s : f->series) {
      if (s->histogram) {
        const std::vector<uint64_t> counts = s->histogram->BucketCounts();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          const std::string le = i < f->bounds.size() ? FormatValue(f->bounds[i]) : "+Inf";
          AppendSample(&out, f->name, "_bucket", s->labels, static_cast<double>(cumulative),
                       "le", le);
        }
        AppendSample(&out, f->name, "_sum", s->labels, s->histogram->sum());
        AppendSample(&out, f->name, "_count", s->labels, static_cast<double>(cumulative));
      } else {
        const double v = s->callback ? s->callback()
                         : s->counter ? s->counter->value()
                                      : s->gauge->value();
        AppendSample(&out, f->name, "", s->labels, v);
      }
    }
  }
  return out;
}

}  // namespace btrq::metrics
