#pragma once

// The little JSON the exec analytic speaks: it writes the task context as one object and
// reads a result object whose values are numbers or strings. Not a general JSON library.
//
// Numbers: an integer literal that fits int64 is an int64; any other number is a double.
// Like Python's json module, NaN, Infinity and -Infinity are accepted and written for
// non-finite doubles.

#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace btrq::analytics {

// Appends an int64, a double (shortest round-trip form) or a string (AppendJsonQuoted of
// common/json_writer.h).
void AppendJsonValue(std::string* out, const FieldValue& value);

// Appends {"name":value,...} in the fields' order.
void AppendJsonObject(std::string* out, const Fields& fields);

// Parses `text` as exactly one JSON object (whitespace around it allowed) whose values are
// numbers or strings, keeping the members' order. kInvalidArgument, with the byte offset,
// for anything else: nested values, true/false/null, duplicate names, trailing text.
Result<Fields> ParseFlatJsonObject(std::string_view text);

// Parses `text` as a JSON array of strings.
Result<std::vector<std::string>> ParseJsonStringArray(std::string_view text);

}  // namespace btrq::analytics
