#include "analytics/noop.h"

#include "analytics/params.h"

namespace btrq::analytics {
namespace {

class NoopAnalytic final : public Analytic {
 public:
  Result<Fields> Run(const TaskSpec&, PointSource&, RunCounters*) const override {
    return Fields{{"ok", int64_t{1}}};
  }
};

}  // namespace

Result<std::unique_ptr<Analytic>> NewNoop(const Fields& params) {
  ParamReader reader(kNoopName, params);
  BTRQ_RETURN_IF_ERROR(reader.CheckAllUsed());
  return std::unique_ptr<Analytic>(std::make_unique<NoopAnalytic>());
}

}  // namespace btrq::analytics
