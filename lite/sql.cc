#include "lite/sql.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <utility>

#include "common/json_writer.h"
#include "lite/linear_regex.h"

namespace btrq::lite {
namespace {

struct Token {
  enum Kind { kWord, kString, kParam, kSymbol, kNumber } kind;
  std::string text;
};

Status Unsupported(const std::string& why) {
  return BtrdbError(kNotImplemented, "btrdb-lite SQL subset: " + why);
}

Result<std::vector<Token>> Tokenize(const std::string& q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    const char c = q[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < q.size() && (std::isalnum(static_cast<unsigned char>(q[j])) || q[j] == '_')) ++j;
      std::string w = q.substr(i, j - i);
      std::transform(w.begin(), w.end(), w.begin(), ::tolower);
      out.push_back({Token::kWord, w});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < q.size() && std::isdigit(static_cast<unsigned char>(q[j]))) ++j;
      out.push_back({Token::kNumber, q.substr(i, j - i)});
      i = j;
    } else if (c == '$') {
      size_t j = i + 1;
      while (j < q.size() && std::isdigit(static_cast<unsigned char>(q[j]))) ++j;
      out.push_back({Token::kParam, q.substr(i + 1, j - i - 1)});
      i = j;
    } else if (c == '\'') {
      std::string s;
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= q.size()) return Unsupported("unterminated string");
        if (q[j] == '\'') {
          if (j + 1 < q.size() && q[j + 1] == '\'') {
            s.push_back('\'');
            ++j;
            continue;
          }
          break;
        }
        s.push_back(q[j]);
      }
      out.push_back({Token::kString, s});
      i = j + 1;
    } else if (q.compare(i, 2, "->") == 0 || q.compare(i, 2, "!=") == 0 || q.compare(i, 2, "<>") == 0) {
      out.push_back({Token::kSymbol, q.substr(i, 2) == "<>" ? "!=" : q.substr(i, 2)});
      i += 2;
    } else if (std::string_view("(),*=~;").find(c) != std::string_view::npos) {
      out.push_back({Token::kSymbol, std::string(1, c)});
      ++i;
    } else {
      return Unsupported(std::string("unexpected character '") + c + "'");
    }
  }
  return out;
}

// A column reference; `key` set for annotations->'key'.
struct Column {
  std::string name;
  std::optional<std::string> key;
};

struct Item {
  enum Kind { kStar, kColumn, kAnnotationKeys } kind;
  Column column;
  std::string alias;
};

struct Cond {
  Column column;
  std::string op;
  std::string value;
};

const std::set<std::string> kColumns = {"uuid",     "collection",       "name",       "unit",
                                        "ingress",  "distiller",        "property_version",
                                        "annotations"};

// The column's value as text (nullopt = SQL NULL) and as a JSON value.
std::optional<std::string> ValueOf(const Column& c, const Uuid& id, const StreamMeta& m) {
  if (c.name == "uuid") return id.ToString();
  if (c.name == "collection") return m.collection;
  if (c.name == "property_version") return std::to_string(m.property_version);
  if (c.name == "annotations") {
    if (!c.key) return std::nullopt;
    auto it = m.annotations.find(*c.key);
    return it == m.annotations.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  auto it = m.tags.find(c.name);
  return it == m.tags.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::string JsonOf(const Column& c, const Uuid& id, const StreamMeta& m) {
  if (c.name == "property_version") return std::to_string(m.property_version);
  if (c.name == "annotations" && !c.key) {
    std::string out = "{";
    for (const auto& [k, v] : m.annotations) {
      if (out.size() > 1) out += ",";
      out += JsonQuote(k) + ":" + JsonQuote(v);
    }
    return out + "}";
  }
  const auto v = ValueOf(c, id, m);
  return v ? JsonQuote(*v) : "null";
}

}  // namespace

bool LikeMatch(std::string_view s, std::string_view p) {
  // Greedy with one backtrack point, the last '%' seen: each '%' only ever moves forward
  // through `s`, so O(|s| * |p|) whatever the pattern (the recursive form was exponential
  // in the number of '%').
  size_t si = 0, pi = 0;
  size_t star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star = pi++;
      mark = si;
    } else if (pi < p.size() && (p[pi] == '_' || p[pi] == s[si])) {
      ++si;
      ++pi;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

namespace {

// A LIMIT or $N: digits only, below 2^64; otherwise the in-band BadSQLValue (stoull threw,
// which gRPC answered as UNKNOWN).
Result<uint64_t> ParseSqlNumber(std::string_view text, std::string_view what) {
  uint64_t n = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
    return BtrdbError(kBadSqlValue, std::string(what) + " '" + std::string(text) +
                                        "' is not a number below 2^64");
  }
  return n;
}


class Parser {
 public:
  Parser(std::vector<Token> toks, const std::vector<std::string>& params) : t_(std::move(toks)), params_(params) {}

  bool AtWord(const char* w) const { return i_ < t_.size() && t_[i_].kind == Token::kWord && t_[i_].text == w; }
  bool AtSym(const char* s) const { return i_ < t_.size() && t_[i_].kind == Token::kSymbol && t_[i_].text == s; }
  bool Eat(const char* w) {
    if (AtWord(w) || AtSym(w)) {
      ++i_;
      return true;
    }
    return false;
  }
  bool done() const { return i_ >= t_.size() || (AtSym(";") && i_ + 1 == t_.size()); }

  Result<Column> ParseColumn() {
    if (i_ >= t_.size() || t_[i_].kind != Token::kWord || kColumns.count(t_[i_].text) == 0) {
      return Unsupported("unknown column" + (i_ < t_.size() ? " '" + t_[i_].text + "'" : std::string()));
    }
    Column c{t_[i_++].text, std::nullopt};
    if (c.name == "annotations" && Eat("->")) {
      BTRQ_ASSIGN_OR_RETURN(std::string key, ParseValue());
      c.key = key;
    }
    return c;
  }

  Result<std::string> ParseValue() {
    if (i_ >= t_.size()) return Unsupported("value expected");
    const Token& tok = t_[i_++];
    if (tok.kind == Token::kString || tok.kind == Token::kNumber) return tok.text;
    if (tok.kind == Token::kParam) {
      uint64_t n = 0;
      if (!tok.text.empty()) {
        BTRQ_ASSIGN_OR_RETURN(n, ParseSqlNumber(tok.text, "parameter $"));
      }
      if (n == 0 || n > params_.size()) return BtrdbError(kBadSqlValue, "no value for parameter $" + tok.text);
      return params_[n - 1];
    }
    return Unsupported("value expected");
  }

  Result<Item> ParseItem() {
    Item item{Item::kColumn, {}, ""};
    if (Eat("*")) {
      item.kind = Item::kStar;
      return item;
    }
    if (Eat("distinct")) distinct = true;
    bool paren = false;
    if (Eat("(")) paren = true;
    if (Eat("skeys")) {
      if (!Eat("(") || !Eat("annotations") || !Eat(")")) return Unsupported("skeys(annotations) expected");
      item.kind = Item::kAnnotationKeys;
      item.alias = "skeys";
    } else {
      BTRQ_ASSIGN_OR_RETURN(item.column, ParseColumn());
      item.alias = item.column.key ? *item.column.key : item.column.name;
    }
    if (paren && !Eat(")")) return Unsupported("')' expected");
    if (Eat("as")) {
      if (i_ >= t_.size() || t_[i_].kind != Token::kWord) return Unsupported("alias expected");
      item.alias = t_[i_++].text;
    }
    return item;
  }

  Status Parse() {
    if (!Eat("select")) return Unsupported("only SELECT is supported");
    if (Eat("distinct")) distinct = true;
    do {
      BTRQ_ASSIGN_OR_RETURN(Item it, ParseItem());
      items.push_back(std::move(it));
    } while (Eat(","));
    if (!Eat("from") || !Eat("streams")) return Unsupported("only FROM streams is supported");
    if (Eat("where")) {
      do {
        Cond c;
        BTRQ_ASSIGN_OR_RETURN(c.column, ParseColumn());
        if (Eat("=")) {
          c.op = "=";
        } else if (Eat("!=")) {
          c.op = "!=";
        } else if (Eat("~")) {
          c.op = "~";
        } else if (Eat("like")) {
          c.op = "like";
        } else {
          return Unsupported("operator =, !=, ~ or LIKE expected");
        }
        BTRQ_ASSIGN_OR_RETURN(c.value, ParseValue());
        conds.push_back(std::move(c));
      } while (Eat("and"));
    }
    if (Eat("order")) {
      if (!Eat("by")) return Unsupported("BY expected");
      BTRQ_ASSIGN_OR_RETURN(Column c, ParseColumn());
      order = c;
      Eat("asc");
    }
    if (Eat("limit")) {
      if (i_ >= t_.size() || t_[i_].kind != Token::kNumber) return Unsupported("LIMIT needs a number");
      BTRQ_ASSIGN_OR_RETURN(limit, ParseSqlNumber(t_[i_++].text, "LIMIT"));
    }
    if (!done()) return Unsupported("unexpected '" + t_[i_].text + "'");
    return Status::OK();
  }

  bool distinct = false;
  std::vector<Item> items;
  std::vector<Cond> conds;
  std::optional<Column> order;
  std::optional<uint64_t> limit;

 private:
  std::vector<Token> t_;
  const std::vector<std::string>& params_;
  size_t i_ = 0;
};

}  // namespace

Result<std::vector<std::string>> RunSqlQuery(const Database& db, const std::string& query,
                                             const std::vector<std::string>& params) {
  BTRQ_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(query));
  Parser p(std::move(toks), params);
  BTRQ_RETURN_IF_ERROR(p.Parse());
  // Matched in linear time (lite/linear_regex.h): std::regex backtracks exponentially.
  std::vector<std::optional<LinearRegex>> regexes(p.conds.size());
  for (size_t i = 0; i < p.conds.size(); ++i) {
    if (p.conds[i].op != "~") continue;
    Result<LinearRegex> re = LinearRegex::Compile(p.conds[i].value);
    if (!re.ok()) return BtrdbError(kBadSqlValue, "bad " + re.status().message());
    regexes[i] = std::move(*re);
  }
  auto streams = db.Lookup("", true, {}, {});
  if (p.order) {
    const Column oc = *p.order;
    std::stable_sort(streams.begin(), streams.end(), [&](const auto& a, const auto& b) {
      return ValueOf(oc, a.first, *a.second).value_or("") < ValueOf(oc, b.first, *b.second).value_or("");
    });
  }
  std::vector<std::string> rows;
  std::set<std::string> seen;
  auto emit = [&](std::string row) {
    if (p.distinct && !seen.insert(row).second) return;
    rows.push_back(std::move(row));
  };
  for (const auto& [id, meta] : streams) {
    bool ok = true;
    for (size_t i = 0; i < p.conds.size() && ok; ++i) {
      const Cond& c = p.conds[i];
      const auto v = ValueOf(c.column, id, *meta);
      if (c.op == "=") ok = v && *v == c.value;
      if (c.op == "!=") ok = v && *v != c.value;
      if (c.op == "~") ok = v && regexes[i]->Search(*v);
      if (c.op == "like") ok = v && LikeMatch(*v, c.value);
    }
    if (!ok) continue;
    // skeys(annotations) yields one row per annotation key.
    const Item* keys_item = nullptr;
    for (const Item& it : p.items) {
      if (it.kind == Item::kAnnotationKeys) keys_item = &it;
    }
    // Init-captures: clang 14 cannot capture structured bindings directly.
    auto render = [&, &id = id, &meta = meta](const std::string* annotation_key) {
      std::string row = "{";
      for (const Item& it : p.items) {
        if (it.kind == Item::kStar) {
          for (const char* col : {"uuid", "collection", "name", "unit", "ingress", "property_version", "annotations"}) {
            if (row.size() > 1) row += ",";
            row += JsonQuote(col) + ":" + JsonOf(Column{col, std::nullopt}, id, *meta);
          }
          continue;
        }
        if (row.size() > 1) row += ",";
        row += JsonQuote(it.alias) + ":";
        row += it.kind == Item::kAnnotationKeys ? JsonQuote(*annotation_key) : JsonOf(it.column, id, *meta);
      }
      return row + "}";
    };
    if (keys_item) {
      for (const auto& kv : meta->annotations) emit(render(&kv.first));
    } else {
      emit(render(nullptr));
    }
    if (p.limit && rows.size() >= *p.limit) break;
  }
  if (p.limit && rows.size() > *p.limit) rows.resize(*p.limit);
  return rows;
}

}  // namespace btrq::lite
