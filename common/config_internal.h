#pragma once

// Text helpers shared by the two halves of the config binder (config.cc: loading stages,
// lookup, rendering; config_fields.cc: the field types). Not for use outside them.

#include <string>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace btrq::config_internal {

std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
// Without leading and trailing spaces and tabs.
std::string_view Trim(std::string_view s);
// A YAML double-quoted scalar (escapes quotes, backslashes and control characters).
std::string Quote(std::string_view s);
// `s` in double quotes, unescaped, for messages.
std::string Quoted(std::string_view s);
// "a duration", "one of the names", ... for messages.
std::string TypeDescription(const ConfigField& f);
// InvalidArgument "ORIGIN: PATH: MESSAGE".
Status Located(const std::string& origin, std::string_view path, std::string_view message);

}  // namespace btrq::config_internal
