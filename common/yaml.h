#pragma once

// YAML documents as plain values. yaml-cpp (which throws, and hands out nodes that alias
// each other) is included only by yaml.cc: the config layer, job files and the BTrDB
// credentials file read the tree below.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace btrq {

struct YamlEntry;

// One node of a parsed document: null, a scalar, a sequence or a mapping.
struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMapping };

  Kind kind = Kind::kNull;
  std::string scalar;  // kScalar: the text, as written
  // The node's tag: "!" for a quoted scalar (a string whatever it looks like), "?" for a
  // plain one, or an explicit tag as written.
  std::string tag;
  int line = -1;  // where the node starts, 0-based; -1 when unknown
  int column = -1;
  std::vector<YamlNode> items;                         // kSequence
  // kMapping, in document order. (A struct rather than std::pair: a pair of the enclosing
  // incomplete type does not compile with clang and libstdc++.)
  std::vector<YamlEntry> entries;

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsMap() const { return kind == Kind::kMapping; }
  // "a scalar", "a list", "a mapping" or "nothing", for error messages.
  std::string_view KindName() const;
  // In a mapping, the value of the first entry whose key is the scalar `key`; nullptr when
  // there is none or this is not a mapping.
  const YamlNode* Find(std::string_view key) const;
};

struct YamlEntry {
  YamlNode key;
  YamlNode value;
};

// Where and why a document did not parse (line and column 0-based, -1 when unknown).
struct YamlError {
  std::string message;
  int line = -1;
  int column = -1;
};

// Nesting deeper than this is refused rather than converted (a hostile file could
// otherwise exhaust the stack).
inline constexpr int kMaxYamlDepth = 64;

// Parses one YAML document; an empty one is a null node. On failure returns
// InvalidArgument with the parser's message and, when `error` is given, fills it. Never
// throws.
Result<YamlNode> ParseYaml(std::string_view text, YamlError* error = nullptr);

}  // namespace btrq
