#include "common/config.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>


#include "common/clock.h"
#include "common/file_util.h"
#include "common/config_internal.h"
#include "common/text.h"
#include "common/yaml.h"
#include "common/logging.h"
#include "common/number_format.h"
#include "common/text.h"
#include "common/yaml.h"
#include "common/time_util.h"

extern char** environ;

namespace btrq {
namespace config_internal {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A YAML double-quoted scalar.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string TypeDescription(const ConfigField& f) {
  switch (f.type) {
    case ConfigType::kString: return "a string";
    case ConfigType::kBool: return "true or false";
    case ConfigType::kInt64: return "an integer";
    case ConfigType::kUint32: return "an unsigned 32-bit integer";
    case ConfigType::kDouble: return "a number";
    case ConfigType::kDuration: return "a duration";
    case ConfigType::kTimestamp: return "a timestamp";
    case ConfigType::kStringList: return "a list of strings";
    case ConfigType::kEnum: return "one of the names";
  }
  return "a value";
}

Status Located(const std::string& origin, std::string_view path, std::string_view message) {
  std::string msg = origin;
  msg += ": ";
  msg.append(path);
  msg += ": ";
  msg.append(message);
  return Status::InvalidArgument(std::move(msg));
}

}  // namespace config_internal

namespace {

using config_internal::Located;
using config_internal::Lower;
using config_internal::Quote;
using config_internal::Quoted;
using config_internal::Trim;
using config_internal::TypeDescription;
using config_internal::Upper;

// True when `candidate` is close enough to `typed` to be worth suggesting.
bool IsClose(std::string_view typed, std::string_view candidate) {
  const size_t d = EditDistance(typed, candidate);
  return d <= 2 && d < typed.size();
}

std::string NodeKind(const YamlNode& node) {
  return node.IsNull() ? "a scalar" : std::string(node.KindName());
}

std::string YamlOrigin(std::string_view name, int line) {
  return std::string(name) + ":" + std::to_string(line + 1);
}

// A nested key (worker.exec.commands) has '_' for each dot: BTRQ_WORKER_EXEC_COMMANDS.
std::string EnvVarName(std::string_view prefix, const ConfigField& f) {
  std::string name = Upper(std::string(prefix) + "_" + f.section + "_" + f.key);
  for (char& c : name) c = c == '.' ? '_' : c;
  return name;
}

// The items of a YAML sequence of scalars, for a kStringList field at `path`.
Result<std::vector<std::string>> YamlStringList(const YamlNode& list, const std::string& path,
                                                std::string_view name) {
  std::vector<std::string> items;
  for (const YamlNode& item : list.items) {
    if (!item.IsScalar()) {
      return Located(YamlOrigin(name, item.line), path,
                     "expected a list of strings, got " + NodeKind(item) + " in it");
    }
    items.push_back(item.scalar);
  }
  return items;
}

}  // namespace

// ---- Env -------------------------------------------------------------------------------

Env Env::FromMap(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<const std::map<std::string, std::string>>(std::move(vars));
  return Env(
      [shared](const std::string& name) -> std::optional<std::string> {
        auto it = shared->find(name);
        if (it == shared->end()) return std::nullopt;
        return it->second;
      },
      [shared] {
        std::vector<std::string> names;
        for (const auto& [name, value] : *shared) names.push_back(name);
        return names;
      });
}

Env Env::FromFunction(LookupFn lookup) {
  return Env(std::move(lookup), [] { return std::vector<std::string>(); });
}

Env Env::Process() {
  return Env(
      [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      },
      [] {
        std::vector<std::string> names;
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
          const char* eq = std::strchr(*e, '=');
          names.emplace_back(*e, eq == nullptr ? std::strlen(*e) : static_cast<size_t>(eq - *e));
        }
        return names;
      });
}

std::optional<std::string> Env::Get(const std::string& name) const { return lookup_(name); }

std::vector<std::string> Env::Names() const { return names_(); }

// ---- Field declaration -------------------------------------------------------------------

std::string_view ConfigTypeName(ConfigType type) {
  switch (type) {
    case ConfigType::kString: return "string";
    case ConfigType::kBool: return "bool";
    case ConfigType::kInt64: return "int64";
    case ConfigType::kUint32: return "uint32";
    case ConfigType::kDouble: return "double";
    case ConfigType::kDuration: return "duration";
    case ConfigType::kTimestamp: return "timestamp";
    case ConfigType::kStringList: return "string list";
    case ConfigType::kEnum: return "enum";
  }
  return "unknown";
}

Result<ConfigOverride> ParseSetFlag(std::string_view assignment) {
  const size_t eq = assignment.find('=');
  const std::string_view path = Trim(assignment.substr(0, eq));
  if (eq == std::string_view::npos || path.find('.') == std::string_view::npos ||
      path.front() == '.' || path.back() == '.') {
    // Only the part before '=' is quoted: the value may be a secret.
    return Status::InvalidArgument("flag --set " + Quote(path) +
                                   ": expected section.key=value, e.g. "
                                   "--set broker.heartbeat_interval=2s");
  }
  ConfigOverride o;
  o.path = std::string(path);
  o.value = std::string(assignment.substr(eq + 1));
  o.source = "flag --set " + o.path;
  return o;
}

ConfigBinder::ConfigBinder(const Clock* clock) : clock_(clock) {}

ConfigBinder::SectionBuilder ConfigBinder::Section(std::string name, std::string doc) {
  if (FindSection(name) == nullptr) sections_.push_back({name, std::move(doc), ""});
  return SectionBuilder(this, std::move(name));
}

// ---- Lookup --------------------------------------------------------------------------------

ConfigField* ConfigBinder::FindMutable(std::string_view path) {
  for (auto& f : fields_) {
    if (f->section.size() + 1 + f->key.size() == path.size() && f->path() == path) {
      return f.get();
    }
  }
  return nullptr;
}

const ConfigField* ConfigBinder::Find(std::string_view path) const {
  return const_cast<ConfigBinder*>(this)->FindMutable(path);
}

std::vector<const ConfigField*> ConfigBinder::fields() const {
  std::vector<const ConfigField*> out;
  for (const auto& f : fields_) out.push_back(f.get());
  return out;
}

ConfigBinder::SectionInfo* ConfigBinder::FindSection(std::string_view name) {
  for (auto& s : sections_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string ConfigBinder::Suggest(std::string_view section, std::string_view key) const {
  for (const auto& f : fields_) {
    if (f->section == section && IsClose(key, f->key)) {
      return " (did you mean " + Quoted(f->key) + "?)";
    }
  }
  for (const auto& f : fields_) {
    if (f->section != section && f->key == key) return " (did you mean " + f->path() + "?)";
  }
  return "";
}

std::string ConfigBinder::SuggestSection(std::string_view section) const {
  for (const auto& s : sections_) {
    if (IsClose(section, s.name)) return " (did you mean " + Quoted(s.name) + "?)";
  }
  return "";
}

Status ConfigBinder::AssignText(ConfigField* field, std::string_view text,
                                const std::string& origin) {
  const Status s = field->parse(text);
  if (!s.ok()) return Located(origin, field->path(), s.message());
  field->origin = origin;
  field->assigned = true;
  return Status::OK();
}

// ---- Stage 1: YAML -------------------------------------------------------------------------

Status ConfigBinder::LoadYamlFile(const std::string& path) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return Status::InvalidArgument(path + ": cannot read config file: " +
                                   std::strerror(text.status().subcode()));
  }
  return LoadYamlText(*text, path);
}

Status ConfigBinder::LoadYamlText(std::string_view text, std::string_view name) {
  YamlError error;
  Result<YamlNode> parsed = ParseYaml(text, &error);
  if (!parsed.ok()) {
    if (error.line < 0) {
      return Status::InvalidArgument(std::string(name) + ": cannot parse YAML: " + error.message);
    }
    return Status::InvalidArgument(YamlOrigin(name, error.line) + ": YAML syntax error: " +
                                   error.message + " (column " + std::to_string(error.column + 1) +
                                   ")");
  }
  const YamlNode& root = *parsed;
  if (root.IsNull()) return Status::OK();
  if (!root.IsMap()) {
    return Status::InvalidArgument(YamlOrigin(name, root.line) +
                                   ": expected a mapping of sections (e.g. \"broker:\") at "
                                   "the top level, got " +
                                   NodeKind(root));
  }
  std::map<std::string, std::string> seen_sections;
  for (const auto& [skey, svalue] : root.entries) {
    const std::string sorigin = YamlOrigin(name, skey.line);
    if (!skey.IsScalar()) {
      return Status::InvalidArgument(sorigin + ": section names must be plain strings");
    }
    const std::string& sname = skey.scalar;
    SectionInfo* section = FindSection(sname);
    if (section == nullptr) {
      return Status::InvalidArgument(sorigin + ": unknown section " + Quoted(sname) +
                                     SuggestSection(sname));
    }
    if (auto [it, inserted] = seen_sections.emplace(sname, sorigin); !inserted) {
      return Status::InvalidArgument(sorigin + ": " + sname + ": duplicate section (first at " +
                                     it->second + ")");
    }
    section->origin = sorigin;
    if (svalue.IsNull()) continue;
    if (!svalue.IsMap()) {
      return Status::InvalidArgument(sorigin + ": " + sname +
                                     ": expected a mapping of keys, got " + NodeKind(svalue));
    }
    BTRQ_RETURN_IF_ERROR(LoadYamlSection(svalue, sname, name));
  }
  return Status::OK();
}

bool ConfigBinder::HasNestedKeys(std::string_view path) const {
  for (const auto& f : fields_) {
    const std::string p = f->path();
    if (p.size() > path.size() && p.compare(0, path.size(), path) == 0 && p[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

Status ConfigBinder::LoadYamlSection(const YamlNode& keys, const std::string& sname,
                                     std::string_view name, const std::string& prefix) {
  std::map<std::string, std::string> seen_keys;
  for (const auto& [fkey, fvalue] : keys.entries) {
    const std::string forigin = YamlOrigin(name, fkey.line);
    if (!fkey.IsScalar()) {
      return Status::InvalidArgument(forigin + ": " + sname + ": keys must be plain strings");
    }
    const std::string key = prefix + fkey.scalar;
    const std::string path = sname + "." + key;
    ConfigField* field = FindMutable(path);
    // A mapping of nested keys ("exec:" holding "commands:"), one level deep.
    if (field == nullptr && prefix.empty() && fvalue.IsMap() && HasNestedKeys(path)) {
      BTRQ_RETURN_IF_ERROR(LoadYamlSection(fvalue, sname, name, key + "."));
      continue;
    }
    if (field == nullptr) {
      return Located(forigin, path, "unknown key" + Suggest(sname, key));
    }
    if (auto [it, inserted] = seen_keys.emplace(key, forigin); !inserted) {
      return Located(forigin, path, "duplicate key (first at " + it->second + ")");
    }
    if (fvalue.IsNull()) {
      return Located(forigin, path,
                     "missing value" + std::string(field->type == ConfigType::kString
                                                       ? " (write \"\" for an empty string)"
                                                       : ""));
    }
    if (fvalue.IsMap()) {
      return Located(forigin, path, "expected " + TypeDescription(*field) + ", got a mapping");
    }
    if (!fvalue.IsSequence()) {
      BTRQ_RETURN_IF_ERROR(AssignText(field, fvalue.scalar, forigin));
      continue;
    }
    if (field->type != ConfigType::kStringList) {
      return Located(forigin, path, "expected " + TypeDescription(*field) + ", got a list");
    }
    BTRQ_ASSIGN_OR_RETURN(std::vector<std::string> items, YamlStringList(fvalue, path, name));
    const Status s = field->parse_list(items);
    if (!s.ok()) return Located(forigin, path, s.message());
    field->origin = forigin;
    field->assigned = true;
  }
  return Status::OK();
}

// ---- Stage 2: environment ------------------------------------------------------------------

Status ConfigBinder::ApplyEnv(const Env& env, std::string_view prefix) {
  for (auto& f : fields_) {
    const std::string var = EnvVarName(prefix, *f);
    if (std::optional<std::string> value = env.Get(var)) {
      BTRQ_RETURN_IF_ERROR(AssignText(f.get(), *value, "environment variable " + var));
    }
  }
  const std::string head = Upper(prefix) + "_";
  for (const std::string& var : env.Names()) {
    if (var.compare(0, head.size(), head) != 0) continue;
    const std::string rest = var.substr(head.size());
    // BTRQ_BROKER, BTRQ_SINK (the CLI's addresses) name a section and no key: not ours.
    if (rest.find('_') == std::string::npos) continue;
    const std::string section = Lower(rest.substr(0, rest.find('_')));
    if (FindSection(section) == nullptr) continue;
    bool known = false;
    for (const auto& f : fields_) known = known || EnvVarName(prefix, *f) == var;
    if (known) continue;
    std::string hint;
    for (const auto& f : fields_) {
      const std::string candidate = EnvVarName(prefix, *f);
      if (f->section == section && IsClose(var, candidate)) {
        hint = " (did you mean " + candidate + "?)";
        break;
      }
    }
    return Status::InvalidArgument("environment variable " + var + ": no such option in section " +
                                   Quoted(section) + hint);
  }
  return Status::OK();
}

Status ConfigBinder::ApplyEnvAlias(const Env& env, const std::string& var, std::string_view path) {
  ConfigField* field = FindMutable(path);
  if (field == nullptr) {
    return Status::Internal("env alias " + var + " names undeclared key " + std::string(path));
  }
  if (std::optional<std::string> value = env.Get(var)) {
    return AssignText(field, *value, "environment variable " + var);
  }
  return Status::OK();
}

// ---- Stage 3: flags ------------------------------------------------------------------------

Status ConfigBinder::ApplyOverride(const ConfigOverride& o) {
  ConfigField* field = FindMutable(o.path);
  if (field == nullptr) {
    const size_t dot = o.path.find('.');
    const std::string section = o.path.substr(0, dot);
    const std::string key = dot == std::string::npos ? "" : o.path.substr(dot + 1);
    std::string hint = FindSection(section) == nullptr ? SuggestSection(section)
                                                       : Suggest(section, key);
    return Status::InvalidArgument(o.source + ": unknown key " + Quoted(o.path) + hint);
  }
  return AssignText(field, o.value, o.source);
}

// ---- Checks and output ----------------------------------------------------------------------

Status ConfigBinder::CheckRequired() const {
  for (const auto& f : fields_) {
    if (!f->required || f->assigned) continue;
    const std::string hint = " (set it in the config file, with BTRQ_" + Upper(f->section) +
                             "_" + Upper(f->key) + ", or with --set " + f->path() + "=...)";
    for (const auto& s : sections_) {
      if (s.name == f->section && !s.origin.empty()) {
        return Located(s.origin, f->path(), "required value missing" + hint);
      }
    }
    return Status::InvalidArgument(f->path() + ": required value missing" + hint);
  }
  return Status::OK();
}

Status ConfigBinder::FieldError(const void* member, std::string_view message) const {
  for (const auto& f : fields_) {
    if (f->member != member) continue;
    if (!f->assigned) return Status::InvalidArgument(f->path() + ": " + std::string(message));
    return Located(f->origin, f->path(), message);
  }
  return Status::Internal("FieldError: member is not bound: " + std::string(message));
}

std::string ConfigBinder::Render(const RenderOptions& options) const {
  std::string out;
  for (const auto& section : sections_) {
    if (!out.empty()) out += "\n";
    if (options.docs && !section.doc.empty()) out += "# " + section.doc + "\n";
    out += section.name + ":\n";
    for (const auto& f : fields_) {
      if (f->section != section.name) continue;
      if (options.docs) {
        out += "  # " + f->doc + " (" + std::string(ConfigTypeName(f->type));
        if (f->type == ConfigType::kEnum) {
          out += ": ";
          for (size_t i = 0; i < f->enum_names.size(); ++i) {
            out += (i == 0 ? "" : "|") + f->enum_names[i];
          }
        }
        if (f->secret) out += ", secret";
        if (f->required) out += ", required";
        out += "; default " + f->default_text + ")\n";
      }
      std::string value;
      if (f->secret) {
        value = Quote(RedactSecret(f->type == ConfigType::kString
                                       ? *static_cast<const std::string*>(f->member)
                                       : f->format()));
      } else {
        value = f->format();
      }
      out += "  " + f->key + ": " + value;
      if (options.origins && f->assigned) out += "  # from " + f->origin;
      out += "\n";
    }
  }
  return out;
}

}  // namespace btrq
