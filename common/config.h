#pragma once

// Config binding: each option struct declares its fields once, through a ConfigBinder, and
// that one declaration drives every stage:
//
//   1. YAML file        section: {key: value}            (LoadYamlFile / LoadYamlText)
//   2. environment      BTRQ_<SECTION>_<KEY>=value       (ApplyEnv, ApplyEnvAlias)
//   3. flags            --set section.key=value          (ApplyOverride), dedicated flags
//   4. printing         Render(): YAML, secrets redacted, docs and origins as comments
//
// Later stages win. Every error is kInvalidArgument and names where the value came from
// and the key path, e.g. `config/local.yaml:7: broker.heartbeat_interval: bad duration "5x"`
// or `environment variable BTRQ_BROKER_LIVENESS: broker.liveness: expected ...`.
// The binder keeps pointers to the bound members: they must outlive it and not move.
// yaml-cpp is included only by config.cc.
//
// Example:
//   ConfigBinder binder(clock);
//   binder.Section("broker", "The broker process.")
//       .Duration("heartbeat_interval", &opts.heartbeat_interval, "Worker heartbeat period.")
//       .Uint32("liveness", &opts.liveness, "Missed heartbeats before a worker is dead.");

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"


namespace btrq {

struct YamlNode;

class Clock;

// Environment variables as a seam: tests pass a map, mains pass Process().
class Env {
 public:
  using LookupFn = std::function<std::optional<std::string>(const std::string& name)>;

  // Exactly `vars`; can list its names.
  static Env FromMap(std::map<std::string, std::string> vars);
  // Answers through `lookup`; cannot list names, so misspelt BTRQ_ variables go unnoticed.
  static Env FromFunction(LookupFn lookup);
  // The process environment (getenv / environ), read at each call.
  static Env Process();

  std::optional<std::string> Get(const std::string& name) const;
  // All variable names when the source can list them, otherwise empty.
  std::vector<std::string> Names() const;

 private:
  Env(LookupFn lookup, std::function<std::vector<std::string>()> names)
      : lookup_(std::move(lookup)), names_(std::move(names)) {}

  LookupFn lookup_;
  std::function<std::vector<std::string>()> names_;
};

enum class ConfigType {
  kString,
  kBool,        // true/false, yes/no, on/off, 1/0
  kInt64,
  kUint32,
  kDouble,
  kDuration,    // int64 nanoseconds, ParseDuration syntax
  kTimestamp,   // int64 nanoseconds since the epoch, ParseTimestamp syntax
  kStringList,  // a YAML sequence, or one comma-separated string
  kEnum,        // one of a list of names (case-insensitive)
};

std::string_view ConfigTypeName(ConfigType type);

// One declared field, as the binder sees it.
struct ConfigField {
  std::string section;
  std::string key;
  ConfigType type = ConfigType::kString;
  std::string doc;
  bool secret = false;    // Render() shows it redacted
  bool required = false;  // CheckRequired() fails unless some stage set it
  std::vector<std::string> enum_names;
  std::string default_text;  // the member's value when declared, formatted
  std::string origin = "default";  // "FILE:LINE", "environment variable X", "flag --set a.b"
  bool assigned = false;           // set by some stage (not merely defaulted)
  const void* member = nullptr;    // the bound member, for FieldError()

  // Type-erased access to the member. Parse errors name neither origin nor key.
  std::function<Status(std::string_view text)> parse;
  std::function<Status(const std::vector<std::string>& items)> parse_list;  // lists only
  std::function<std::string()> format;  // the current value as YAML text

  std::string path() const { return section + "." + key; }
};

// A value for one key from a flag: `--set broker.liveness=5` or a dedicated flag mapped
// onto a key (source "flag --threads").
struct ConfigOverride {
  std::string path;    // "section.key"
  std::string value;
  std::string source;  // names the flag in errors and in Render(); never holds the value
};

// Parses "section.key=value" (the argument of --set).
Result<ConfigOverride> ParseSetFlag(std::string_view assignment);

struct RenderOptions {
  bool docs = true;     // each field's doc line, type and default as comments
  bool origins = true;  // "# from ..." after values not left at their default
};

// Declares fields and applies the loading stages to them. Not thread-safe.
class ConfigBinder {
 public:
  // `clock` gives "now" for timestamp fields ("now-7d"); it must outlive the binder.
  explicit ConfigBinder(const Clock* clock);
  ConfigBinder(const ConfigBinder&) = delete;
  ConfigBinder& operator=(const ConfigBinder&) = delete;

  // Declares the fields of one section. Each call binds a member and records its current
  // value as the default; Secret() and Required() modify the field declared just before.
  class SectionBuilder {
   public:
    SectionBuilder& String(std::string key, std::string* value, std::string doc);
    SectionBuilder& Bool(std::string key, bool* value, std::string doc);
    SectionBuilder& Int64(std::string key, int64_t* value, std::string doc);
    SectionBuilder& Uint32(std::string key, uint32_t* value, std::string doc);
    SectionBuilder& Double(std::string key, double* value, std::string doc);
    SectionBuilder& Duration(std::string key, int64_t* nanos, std::string doc);
    SectionBuilder& Timestamp(std::string key, int64_t* nanos, std::string doc);
    SectionBuilder& StringList(std::string key, std::vector<std::string>* value,
                               std::string doc);
    template <typename E>
    SectionBuilder& Enum(std::string key, E* value,
                         std::vector<std::pair<std::string, E>> names, std::string doc);
    SectionBuilder& Secret();
    SectionBuilder& Required();

   private:
    friend class ConfigBinder;
    SectionBuilder(ConfigBinder* binder, std::string section)
        : binder_(binder), section_(std::move(section)) {}
    SectionBuilder& Add(std::unique_ptr<ConfigField> field);
    SectionBuilder& AddEnum(std::string key, const void* member, std::vector<std::string> names,
                            std::function<void(size_t)> set, std::function<size_t()> get,
                            std::string doc);

    ConfigBinder* binder_;
    std::string section_;
  };

  // REQUIRES: `name` is lower_snake_case without underscores in a section name (env
  // variable names split on the first '_' after the prefix).
  SectionBuilder Section(std::string name, std::string doc);

  // Stage 1. Reads `path`; errors name `path` and a 1-based line: unreadable file, YAML
  // syntax, unknown section or key (with "did you mean"), duplicate key, missing value,
  // wrong type, bad value.
  Status LoadYamlFile(const std::string& path);
  // As LoadYamlFile, for text already in memory; `name` stands for the file in errors.
  Status LoadYamlText(std::string_view text, std::string_view name);

  // Stage 2. For each field, PREFIX_SECTION_KEY (upper case) if set. When `env` can list
  // names, a PREFIX_SECTION_... variable of a known section that matches no field is an
  // error (with "did you mean"); other variables are ignored.
  Status ApplyEnv(const Env& env, std::string_view prefix);
  // Stage 2, one alias: `var`, if set, assigns the field at `path` (e.g. BTRDB_ENDPOINTS).
  Status ApplyEnvAlias(const Env& env, const std::string& var, std::string_view path);

  // Stage 3. Unknown paths and bad values name the override's source.
  Status ApplyOverride(const ConfigOverride& override_value);

  // Fails for the first Required() field no stage assigned.
  Status CheckRequired() const;

  // An error about the field bound to `member`, for validation rules that run after
  // loading: "ORIGIN: section.key: message" (origin "default" when never assigned).
  Status FieldError(const void* member, std::string_view message) const;

  // The effective values as YAML, secrets redacted.
  std::string Render(const RenderOptions& options = RenderOptions()) const;

  // nullptr when no field has `path` ("section.key").
  const ConfigField* Find(std::string_view path) const;
  std::vector<const ConfigField*> fields() const;

 private:
  struct SectionInfo {
    std::string name;
    std::string doc;
    std::string origin;  // where a file declared the section, for CheckRequired()
  };

  ConfigField* FindMutable(std::string_view path);
  SectionInfo* FindSection(std::string_view name);
  std::string Suggest(std::string_view section, std::string_view key) const;
  std::string SuggestSection(std::string_view section) const;
  Status AssignText(ConfigField* field, std::string_view text, const std::string& origin);
  // Stage 1 for the keys of section `sname` (a YAML mapping) of the file `name`.
  // `prefix` ("exec.") names the mapping of a nested key (worker.exec.commands).
  Status LoadYamlSection(const YamlNode& keys, const std::string& sname, std::string_view name,
                         const std::string& prefix = "");
  bool HasNestedKeys(std::string_view path) const;

  const Clock* clock_;
  std::vector<SectionInfo> sections_;
  std::vector<std::unique_ptr<ConfigField>> fields_;
};

template <typename E>
ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Enum(
    std::string key, E* value, std::vector<std::pair<std::string, E>> names, std::string doc) {
  std::vector<std::string> labels;
  for (const auto& entry : names) labels.push_back(entry.first);
  auto table = std::make_shared<std::vector<std::pair<std::string, E>>>(std::move(names));
  return AddEnum(
      std::move(key), value, std::move(labels),
      [value, table](size_t i) { *value = (*table)[i].second; },
      [value, table]() -> size_t {
        for (size_t i = 0; i < table->size(); ++i) {
          if ((*table)[i].second == *value) return i;
        }
        return table->size();
      },
      std::move(doc));
}

}  // namespace btrq
