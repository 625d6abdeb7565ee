#include "common/json_reader.h"

#include <cstdint>

namespace btrq {
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

}  // namespace

void JsonCursor::SkipSpace() {
  while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                 text_[pos_] == '\n' || text_[pos_] == '\r')) {
    ++pos_;
  }
}

bool JsonCursor::Consume(char c) {
  if (pos_ < text_.size() && text_[pos_] == c) {
    ++pos_;
    return true;
  }
  return false;
}

bool JsonCursor::ConsumeWord(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) return false;
  pos_ += word.size();
  return true;
}

Status JsonCursor::Error(std::string_view what) const {
  return Status::InvalidArgument("JSON at byte " + std::to_string(pos_) + ": " +
                                 std::string(what));
}

Result<uint32_t> JsonCursor::Hex4() {
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

Result<std::string> JsonCursor::String() {
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

bool JsonCursor::Digits() {
  const size_t start = pos_;
  while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
  return pos_ > start;
}

Result<std::string_view> JsonCursor::Number() {
  const size_t start = pos_;
  Consume('-');
  if (!Consume('0') && !Digits()) {
    pos_ = start;
    return Error("expected a number");
  }
  if (Consume('.') && !Digits()) return Error("expected a digit after '.'");
  if (Consume('e') || Consume('E')) {
    if (!Consume('+')) Consume('-');
    if (!Digits()) return Error("expected an exponent");
  }
  return text_.substr(start, pos_ - start);
}

}  // namespace btrq
