#include "common/yaml.h"

#include <yaml-cpp/yaml.h>

namespace btrq {
namespace {

// Thrown only inside this file, caught by ParseYaml.
struct TooDeep {
  YAML::Mark mark;
};

YamlNode Convert(const YAML::Node& node, int depth) {
  if (depth > kMaxYamlDepth) throw TooDeep{node.Mark()};
  YamlNode out;
  const YAML::Mark mark = node.Mark();
  if (!mark.is_null()) {
    out.line = mark.line;
    out.column = mark.column;
  }
  out.tag = node.Tag();
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      out.kind = YamlNode::Kind::kScalar;
      out.scalar = node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      out.kind = YamlNode::Kind::kSequence;
      out.items.reserve(node.size());
      for (const YAML::Node& item : node) out.items.push_back(Convert(item, depth + 1));
      break;
    case YAML::NodeType::Map:
      out.kind = YamlNode::Kind::kMapping;
      for (auto it = node.begin(); it != node.end(); ++it) {
        out.entries.push_back(YamlEntry{Convert(it->first, depth + 1), Convert(it->second, depth + 1)});
      }
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return out;
}

Status Fail(YamlError* error, std::string message, const YAML::Mark& mark) {
  if (error != nullptr) {
    error->message = message;
    error->line = mark.is_null() ? -1 : mark.line;
    error->column = mark.is_null() ? -1 : mark.column;
  }
  return Status::InvalidArgument(std::move(message));
}

}  // namespace

std::string_view YamlNode::KindName() const {
  switch (kind) {
    case Kind::kNull: return "nothing";
    case Kind::kScalar: return "a scalar";
    case Kind::kSequence: return "a list";
    case Kind::kMapping: return "a mapping";
  }
  return "a node";
}

const YamlNode* YamlNode::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.IsScalar() && k.scalar == key) return &v;
  }
  return nullptr;
}

Result<YamlNode> ParseYaml(std::string_view text, YamlError* error) {
  try {
    return Convert(YAML::Load(std::string(text)), 0);
  } catch (const YAML::Exception& e) {
    return Fail(error, e.msg, e.mark);
  } catch (const TooDeep& e) {
    return Fail(error, "nested more than " + std::to_string(kMaxYamlDepth) + " levels deep",
                e.mark);
  }
}

}  // namespace btrq
