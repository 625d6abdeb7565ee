#pragma once

// Number formatting shared by every text output of ours (config rendering, CSV export,
// metrics, the demo, btrdb-lite): one spelling of a double everywhere.

#include <string>

namespace btrq {

// The shortest decimal text that reads back (std::from_chars) as exactly `v`: "60.1" (not
// "60.100000000000001"), "6840", "1e+20". Non-finite values as std::to_chars spells
// them: "nan", "-nan", "inf", "-inf"; callers that need another spelling test first.
std::string FormatDouble(double v);
void AppendDouble(std::string* out, double v);

}  // namespace btrq
