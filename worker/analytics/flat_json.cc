#include "worker/analytics/flat_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace btrq::analytics {
namespace {

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A recursive-descent reader over the subset we accept.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Fields> Object() {
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    Fields fields;
    SkipSpace();
    if (!Consume('}')) {
      while (true) {
        SkipSpace();
        BTRQ_ASSIGN_OR_RETURN(std::string name, String());
        for (const auto& f : fields) {
          if (f.first == name) return Error("duplicate name \"" + name + "\"");
        }
        SkipSpace();
        if (!Consume(':')) return Error("expected ':'");
        SkipSpace();
        BTRQ_ASSIGN_OR_RETURN(FieldValue value, Value());
        fields.emplace_back(std::move(name), std::move(value));
        SkipSpace();
        if (Consume(',')) continue;
        if (Consume('}')) break;
        return Error("expected ',' or '}'");
      }
    }
    BTRQ_RETURN_IF_ERROR(End());
    return fields;
  }

  Result<std::vector<std::string>> StringArray() {
    SkipSpace();
    if (!Consume('[')) return Error("expected '['");
    std::vector<std::string> items;
    SkipSpace();
    if (!Consume(']')) {
      while (true) {
        SkipSpace();
        BTRQ_ASSIGN_OR_RETURN(std::string item, String());
        items.push_back(std::move(item));
        SkipSpace();
        if (Consume(',')) continue;
        if (Consume(']')) break;
        return Error("expected ',' or ']'");
      }
    }
    BTRQ_RETURN_IF_ERROR(End());
    return items;
  }

 private:
  Status End() {
    SkipSpace();
    if (pos_ != text_.size()) return Error("trailing characters");
    return Status::OK();
  }

  Status Error(std::string_view what) const {
    return Status::InvalidArgument("JSON at byte " + std::to_string(pos_) + ": " +
                                   std::string(what));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  Result<FieldValue> Value() {
    if (pos_ >= text_.size()) return Error("expected a value");
    const char c = text_[pos_];
    if (c == '"') {
      BTRQ_ASSIGN_OR_RETURN(std::string s, String());
      return FieldValue(std::move(s));
    }
    if (ConsumeWord("NaN")) return FieldValue(std::numeric_limits<double>::quiet_NaN());
    if (ConsumeWord("Infinity")) return FieldValue(std::numeric_limits<double>::infinity());
    if (ConsumeWord("-Infinity")) return FieldValue(-std::numeric_limits<double>::infinity());
    if (c == '-' || (c >= '0' && c <= '9')) return Number();
    return Error("expected a number or a string");
  }

  // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Result<FieldValue> Number() {
    const size_t start = pos_;
    Consume('-');
    if (Consume('0')) {
    } else if (!Digits()) {
      return Error("bad number");
    }
    bool integral = true;
    if (Consume('.')) {
      integral = false;
      if (!Digits()) return Error("bad number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      integral = false;
      if (!Consume('+')) Consume('-');
      if (!Digits()) return Error("bad number");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      int64_t i = 0;
      const auto [ptr, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && ptr == last) return FieldValue(i);
      // Out of int64 range: fall through to a double.
    }
    double d = 0;
    const auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec != std::errc() || ptr != last) return Error("number out of range");
    return FieldValue(d);
  }

  bool Digits() {
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  Result<uint32_t> Hex4() {
    if (pos_ + 4 > text_.size()) return Error("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("bad \\u escape");
      }
    }
    return v;
  }

  Result<std::string> String() {
    if (!Consume('"')) return Error("expected a string");
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) return Error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return Error("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          BTRQ_ASSIGN_OR_RETURN(uint32_t cp, Hex4());
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!ConsumeWord("\\u")) return Error("lone surrogate");
            BTRQ_ASSIGN_OR_RETURN(uint32_t low, Hex4());
            if (low < 0xDC00 || low >= 0xE000) return Error("lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return Error("lone surrogate");
          }
          AppendUtf8(&out, cp);
          break;
        }
        default:
          return Error("bad escape");
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xF]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonValue(std::string* out, const FieldValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    out->append(std::to_string(*i));
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (std::isnan(*d)) {
      out->append("NaN");
    } else if (std::isinf(*d)) {
      out->append(*d > 0 ? "Infinity" : "-Infinity");
    } else {
      char buf[32];
      const auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), *d);
      out->append(buf, ptr);
      // Keep a double a double for the reader: 2.0 prints as "2".
      const std::string_view text(buf, static_cast<size_t>(ptr - buf));
      if (text.find_first_of(".eE") == std::string_view::npos) out->append(".0");
    }
  } else {
    AppendJsonString(out, std::get<std::string>(value));
  }
}

void AppendJsonObject(std::string* out, const Fields& fields) {
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, name);
    out->push_back(':');
    AppendJsonValue(out, value);
  }
  out->push_back('}');
}

Result<Fields> ParseFlatJsonObject(std::string_view text) { return Parser(text).Object(); }

Result<std::vector<std::string>> ParseJsonStringArray(std::string_view text) {
  return Parser(text).StringArray();
}

}  // namespace btrq::analytics
