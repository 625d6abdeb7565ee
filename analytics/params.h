#pragma once

// Typed access to an analytic's params (a Fields list), shared by the built-ins. A number
// may be given as int64, double or a string holding the number ("30", "2.5"), since params
// typed on a command line may arrive as strings. Every error is kInvalidArgument and names
// the analytic and the param.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace btrq::analytics {

// Params the broker may add to any job's params from the stream's annotations (`rate`
// in Hz, the value bounds `min` and `max`). Every analytic accepts them; those that do
// not use them ignore them.
inline constexpr std::string_view kContextParams[] = {"rate", "min", "max"};

// The value of `name` in `params`, or null.
const FieldValue* FindParam(const Fields& params, std::string_view name);

// Reads params by name and remembers which were read, so that CheckAllUsed() can reject
// unknown names (typos) at submit time. Borrows `params`, which must outlive the reader.
class ParamReader {
 public:
  ParamReader(std::string_view analytic, const Fields& params);

  // nullopt when absent. Accepts int64, double, or a string that is entirely a number.
  Result<std::optional<double>> Double(std::string_view name);
  // nullopt when absent. Accepts int64, an integral double, or an integer string.
  Result<std::optional<int64_t>> Int(std::string_view name);
  // nullopt when absent. Accepts strings only.
  Result<std::optional<std::string>> String(std::string_view name);
  // nullopt when absent. Nanoseconds: an int64, or a string in ParseDuration syntax
  // ("30s", "1h") or of digits only (nanoseconds). Must be >= 0.
  Result<std::optional<int64_t>> Duration(std::string_view name);

  // kInvalidArgument naming the first param that was neither read nor in
  // kContextParams; also when a name occurs twice.
  Status CheckAllUsed() const;

  // "<analytic>: param '<name>' <what>", for callers' own range checks.
  Status Invalid(std::string_view name, std::string_view what) const;

 private:
  const FieldValue* Take(std::string_view name);

  std::string analytic_;
  const Fields& params_;
  std::vector<bool> used_;
};

// The value as text, for error messages and the exec context ("30", "2.5", "abc").
std::string FieldValueToString(const FieldValue& value);

}  // namespace btrq::analytics
