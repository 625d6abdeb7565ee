#include "lite/linear_regex.h"

#include <string>
#include <utility>

namespace btrq::lite {
namespace {

struct Node {
  enum Kind : uint8_t { kEmpty, kByte, kClass, kBol, kEol, kCat, kAlt, kRepeat };
  Kind kind = kEmpty;
  uint8_t byte = 0;
  uint32_t cls = 0;
  int min = 0;
  int max = 0;  // -1: unbounded
  std::vector<Node> kids;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

// Parses a pattern into a tree (recursive descent, nesting bounded), then emits the
// program from it.
class RegexCompiler {
 public:
  RegexCompiler(std::string_view pattern, LinearRegex* out) : p_(pattern), out_(out) {}

  Status Run() {
    Node root;
    BTRQ_RETURN_IF_ERROR(ParseAlt(&root, 0));
    if (i_ < p_.size()) return Error("unmatched ')'");
    BTRQ_RETURN_IF_ERROR(Emit(root));
    return Push({LinearRegex::Op::kMatch, 0, 0, 0}).status();
  }

 private:
  using Op = LinearRegex::Op;

  Status Error(const std::string& what) const {
    return Status::InvalidArgument("regular expression: " + what + " at offset " +
                                   std::to_string(i_));
  }
  bool More() const { return i_ < p_.size(); }
  char Peek() const { return p_[i_]; }

  Status ParseAlt(Node* out, int depth) {
    if (depth > LinearRegex::kMaxNesting) return Error("groups nested too deep");
    Node first;
    BTRQ_RETURN_IF_ERROR(ParseCat(&first, depth));
    if (!More() || Peek() != '|') {
      *out = std::move(first);
      return Status::OK();
    }
    out->kind = Node::kAlt;
    out->kids.push_back(std::move(first));
    while (More() && Peek() == '|') {
      ++i_;
      BTRQ_RETURN_IF_ERROR(ParseCat(&out->kids.emplace_back(), depth));
    }
    return Status::OK();
  }

  Status ParseCat(Node* out, int depth) {
    out->kind = Node::kCat;
    while (More() && Peek() != '|' && Peek() != ')') {
      Node atom;
      BTRQ_RETURN_IF_ERROR(ParseAtom(&atom, depth));
      BTRQ_RETURN_IF_ERROR(ParseQuantifier(&atom));
      out->kids.push_back(std::move(atom));
    }
    return Status::OK();
  }

  // Reads "{m}", "{m,}" or "{m,n}" at i_ into *min/*max; false (i_ unchanged) when what
  // follows is not one, and then `{` is a literal.
  bool ParseBraces(int* min, int* max) {
    size_t j = i_ + 1;
    auto number = [&](int* v) {
      if (j >= p_.size() || !IsDigit(p_[j])) return false;
      int64_t n = 0;
      while (j < p_.size() && IsDigit(p_[j])) n = std::min<int64_t>(n * 10 + (p_[j++] - '0'), 1 << 30);
      *v = static_cast<int>(n);
      return true;
    };
    if (!number(min)) return false;
    *max = *min;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (!number(max)) *max = -1;
    }
    if (j >= p_.size() || p_[j] != '}') return false;
    i_ = j + 1;
    return true;
  }

  Status ParseQuantifier(Node* atom) {
    if (!More()) return Status::OK();
    int min = 0;
    int max = 0;
    const char c = Peek();
    if (c == '*' || c == '+' || c == '?') {
      ++i_;
      min = c == '+' ? 1 : 0;
      max = c == '?' ? 1 : -1;
    } else if (c != '{' || !ParseBraces(&min, &max)) {
      return Status::OK();
    }
    if (min > LinearRegex::kMaxRepeat || max > LinearRegex::kMaxRepeat) {
      return Error("repetition over " + std::to_string(LinearRegex::kMaxRepeat));
    }
    if (max != -1 && max < min) return Error("repetition {m,n} with n < m");
    if (More() && Peek() == '?') ++i_;  // lazy: the same set of matches
    if (More() && (Peek() == '*' || Peek() == '+' || Peek() == '?' || Peek() == '{')) {
      int a = 0;
      int b = 0;
      const size_t at = i_;
      if (Peek() != '{' || ParseBraces(&a, &b)) return Error("nothing to repeat");
      i_ = at;
    }
    Node rep;
    rep.kind = Node::kRepeat;
    rep.min = min;
    rep.max = max;
    rep.kids.push_back(std::move(*atom));
    *atom = std::move(rep);
    return Status::OK();
  }

  Status ParseAtom(Node* out, int depth) {
    const char c = Peek();
    ++i_;
    switch (c) {
      case '(':
        if (More() && Peek() == '?') {
          if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
            i_ += 2;
          } else {
            return Error("lookaround and named groups are not supported");
          }
        }
        BTRQ_RETURN_IF_ERROR(ParseAlt(out, depth + 1));
        if (!More() || Peek() != ')') return Error("missing ')'");
        ++i_;
        return Status::OK();
      case '[':
        return ParseClass(out);
      case '.': {
        std::bitset<256> any;
        any.set();
        any.reset('\n');
        any.reset('\r');
        return AddClass(any, out);
      }
      case '^':
        out->kind = Node::kBol;
        return Status::OK();
      case '$':
        out->kind = Node::kEol;
        return Status::OK();
      case '*': case '+': case '?':
        return Error("nothing to repeat");
      case '\\': {
        std::bitset<256> set;
        BTRQ_RETURN_IF_ERROR(ParseEscape(&set));
        if (set.count() == 1) {
          out->kind = Node::kByte;
          for (size_t b = 0; b < 256; ++b) {
            if (set[b]) out->byte = static_cast<uint8_t>(b);
          }
          return Status::OK();
        }
        return AddClass(set, out);
      }
      default:
        out->kind = Node::kByte;
        out->byte = static_cast<uint8_t>(c);
        return Status::OK();
    }
  }

  // After a backslash: the bytes the escape stands for.
  Status ParseEscape(std::bitset<256>* set) {
    if (!More()) return Error("trailing '\\'");
    const char c = p_[i_++];
    auto range = [set](int lo, int hi) {
      for (int b = lo; b <= hi; ++b) set->set(static_cast<size_t>(b));
    };
    switch (c) {
      case 'd': case 'D':
        range('0', '9');
        break;
      case 'w': case 'W':
        range('0', '9'), range('a', 'z'), range('A', 'Z'), set->set('_');
        break;
      case 's': case 'S':
        for (char s : {' ', '\t', '\n', '\r', '\f', '\v'}) set->set(static_cast<uint8_t>(s));
        break;
      case 'n': set->set('\n'); return Status::OK();
      case 'r': set->set('\r'); return Status::OK();
      case 't': set->set('\t'); return Status::OK();
      case 'f': set->set('\f'); return Status::OK();
      case 'v': set->set('\v'); return Status::OK();
      case '0': set->set(0); return Status::OK();
      case 'x': {
        auto hex = [](char h) {
          if (IsDigit(h)) return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        if (i_ + 2 > p_.size() || hex(p_[i_]) < 0 || hex(p_[i_ + 1]) < 0) return Error("bad \\x escape");
        set->set(static_cast<size_t>(hex(p_[i_]) * 16 + hex(p_[i_ + 1])));
        i_ += 2;
        return Status::OK();
      }
      default:
        if (IsDigit(c)) return Error("backreferences are not supported");
        if (IsAlnum(c)) return Error(std::string("unsupported escape \\") + c);
        set->set(static_cast<uint8_t>(c));  // an escaped punctuation mark is itself
        return Status::OK();
    }
    if (c == 'D' || c == 'W' || c == 'S') set->flip();
    return Status::OK();
  }

  Status ParseClass(Node* out) {
    std::bitset<256> set;
    const bool negate = More() && Peek() == '^';
    if (negate) ++i_;
    bool first = true;
    while (More() && (Peek() != ']' || first)) {
      first = false;
      std::bitset<256> item;
      BTRQ_RETURN_IF_ERROR(ParseClassItem(&item));
      if (item.count() == 1 && i_ + 1 < p_.size() && Peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;
        std::bitset<256> hi;
        BTRQ_RETURN_IF_ERROR(ParseClassItem(&hi));
        if (hi.count() != 1) return Error("bad range in a class");
        size_t lo_b = 0;
        size_t hi_b = 0;
        for (size_t b = 0; b < 256; ++b) {
          if (item[b]) lo_b = b;
          if (hi[b]) hi_b = b;
        }
        if (hi_b < lo_b) return Error("range out of order in a class");
        for (size_t b = lo_b; b <= hi_b; ++b) item.set(b);
      }
      set |= item;
    }
    if (!More()) return Error("missing ']'");
    ++i_;
    if (negate) set.flip();
    return AddClass(set, out);
  }

  Status ParseClassItem(std::bitset<256>* item) {
    const char c = p_[i_++];
    if (c == '\\') return ParseEscape(item);
    item->set(static_cast<uint8_t>(c));
    return Status::OK();
  }

  Status AddClass(const std::bitset<256>& set, Node* out) {
    out->kind = Node::kClass;
    out->cls = static_cast<uint32_t>(out_->classes_.size());
    out_->classes_.push_back(set);
    return Status::OK();
  }

  Result<uint32_t> Push(LinearRegex::Inst inst) {
    if (out_->program_.size() >= LinearRegex::kMaxProgram) {
      return Status::InvalidArgument("regular expression: over " +
                                     std::to_string(LinearRegex::kMaxProgram) +
                                     " instructions once its repetitions are unrolled");
    }
    out_->program_.push_back(inst);
    return static_cast<uint32_t>(out_->program_.size() - 1);
  }
  uint32_t Here() const { return static_cast<uint32_t>(out_->program_.size()); }

  Status Emit(const Node& n) {
    switch (n.kind) {
      case Node::kEmpty:
        return Status::OK();
      case Node::kByte:
        return Push({Op::kByte, n.byte, 0, 0}).status();
      case Node::kClass:
        return Push({Op::kClass, 0, n.cls, 0}).status();
      case Node::kBol:
        return Push({Op::kBol, 0, 0, 0}).status();
      case Node::kEol:
        return Push({Op::kEol, 0, 0, 0}).status();
      case Node::kCat:
        for (const Node& k : n.kids) BTRQ_RETURN_IF_ERROR(Emit(k));
        return Status::OK();
      case Node::kAlt:
        return EmitAlt(n);
      case Node::kRepeat:
        return EmitRepeat(n);
    }
    return Status::Internal("regular expression: unknown node");
  }

  // split a, next; a: kid 0; jump end; next: split b, ... ; last kid; end:
  Status EmitAlt(const Node& n) {
    std::vector<uint32_t> jumps;
    for (size_t k = 0; k < n.kids.size(); ++k) {
      const bool last = k + 1 == n.kids.size();
      uint32_t split = 0;
      if (!last) {
        BTRQ_ASSIGN_OR_RETURN(split, Push({Op::kSplit, 0, 0, 0}));
        out_->program_[split].x = Here();
      }
      BTRQ_RETURN_IF_ERROR(Emit(n.kids[k]));
      if (!last) {
        BTRQ_ASSIGN_OR_RETURN(const uint32_t jump, Push({Op::kJump, 0, 0, 0}));
        jumps.push_back(jump);
        out_->program_[split].y = Here();
      }
    }
    for (uint32_t j : jumps) out_->program_[j].x = Here();
    return Status::OK();
  }

  // kid{min}, then kid* (loop: split body, out; body; jump loop) or (max - min) optional
  // copies, each able to skip to the end.
  Status EmitRepeat(const Node& n) {
    const Node& kid = n.kids[0];
    for (int k = 0; k < n.min; ++k) BTRQ_RETURN_IF_ERROR(Emit(kid));
    if (n.max == -1) {
      BTRQ_ASSIGN_OR_RETURN(const uint32_t loop, Push({Op::kSplit, 0, 0, 0}));
      out_->program_[loop].x = Here();
      BTRQ_RETURN_IF_ERROR(Emit(kid));
      BTRQ_RETURN_IF_ERROR(Push({Op::kJump, 0, loop, 0}).status());
      out_->program_[loop].y = Here();
      return Status::OK();
    }
    std::vector<uint32_t> skips;
    for (int k = n.min; k < n.max; ++k) {
      BTRQ_ASSIGN_OR_RETURN(const uint32_t split, Push({Op::kSplit, 0, 0, 0}));
      out_->program_[split].x = Here();
      skips.push_back(split);
      BTRQ_RETURN_IF_ERROR(Emit(kid));
    }
    for (uint32_t s : skips) out_->program_[s].y = Here();
    return Status::OK();
  }

  std::string_view p_;
  LinearRegex* out_;
  size_t i_ = 0;
};

Result<LinearRegex> LinearRegex::Compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return Status::InvalidArgument("regular expression: " + std::to_string(pattern.size()) +
                                   " bytes; the limit is " + std::to_string(kMaxPatternBytes));
  }
  LinearRegex re;
  BTRQ_RETURN_IF_ERROR(RegexCompiler(pattern, &re).Run());
  return re;
}

bool LinearRegex::Search(std::string_view subject) const {
  const size_t n = program_.size();
  std::vector<uint32_t> cur;
  std::vector<uint32_t> next;
  std::vector<uint32_t> stack;
  cur.reserve(n);
  next.reserve(n);
  // mark[pc] == gen: pc is already in the list being built for the current position.
  std::vector<uint64_t> mark(n, 0);
  uint64_t gen = 1;
  // Follows the jumps, splits and anchors from `start` at position `pos`; adds the
  // byte-consuming instructions reached to `list`. True when the match is reached.
  auto add = [&](std::vector<uint32_t>* list, uint32_t start, size_t pos) {
    stack.assign(1, start);
    while (!stack.empty()) {
      const uint32_t pc = stack.back();
      stack.pop_back();
      if (mark[pc] == gen) continue;
      mark[pc] = gen;
      const Inst& in = program_[pc];
      switch (in.op) {
        case Op::kMatch: return true;
        case Op::kJump: stack.push_back(in.x); break;
        case Op::kSplit: stack.push_back(in.y), stack.push_back(in.x); break;
        case Op::kBol: if (pos == 0) stack.push_back(pc + 1); break;
        case Op::kEol: if (pos == subject.size()) stack.push_back(pc + 1); break;
        default: list->push_back(pc); break;
      }
    }
    return false;
  };
  for (size_t pos = 0;; ++pos) {
    if (add(&cur, 0, pos)) return true;  // a match may start at any position
    if (pos == subject.size()) return false;
    ++gen;
    const auto c = static_cast<uint8_t>(subject[pos]);
    for (const uint32_t pc : cur) {
      const Inst& in = program_[pc];
      const bool takes = in.op == Op::kByte ? in.byte == c : in.op == Op::kClass && classes_[in.x][c];
      if (takes && add(&next, pc + 1, pos + 1)) return true;
    }
    cur.swap(next);
    next.clear();
  }
}

}  // namespace btrq::lite
