#include "analytics/count.h"

#include "analytics/params.h"

namespace btrq::analytics {
namespace {

class CountAnalytic final : public Analytic {
 public:
  Result<Fields> Run(const TaskSpec& task, PointSource& source,
                     RunCounters* counters) const override {
    int64_t count = 0;
    BTRQ_RETURN_IF_ERROR(source.ReadRaw(task.key.start, task.end, task.version,
                                        [&](std::span<const RawPoint> batch) {
                                          count += static_cast<int64_t>(batch.size());
                                          counters->points_read +=
                                              static_cast<int64_t>(batch.size());
                                          return Status::OK();
                                        }));
    return Fields{{"count", count}};
  }
};

}  // namespace

Result<std::unique_ptr<Analytic>> NewCount(const Fields& params) {
  ParamReader reader(kCountName, params);
  BTRQ_RETURN_IF_ERROR(reader.CheckAllUsed());
  return std::unique_ptr<Analytic>(std::make_unique<CountAnalytic>());
}

}  // namespace btrq::analytics
