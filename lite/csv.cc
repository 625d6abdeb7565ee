#include "lite/csv.h"

#include <map>
#include <optional>

#include "common/number_format.h"

namespace btrq::lite {
namespace {

// Raw points: a merge of the streams' cursors by time.
void RawRows(const CsvQuery& query, const std::function<bool()>& cancelled,
             const std::function<bool(const std::vector<std::string>&)>& row) {
  const size_t n = query.columns.size();
  std::vector<std::unique_ptr<StreamData::Cursor>> cursors;
  std::vector<Point> heads(n);
  std::vector<bool> has(n);
  for (size_t i = 0; i < n; ++i) {
    const CsvColumn& c = query.columns[i];
    cursors.push_back(
        std::make_unique<StreamData::Cursor>(c.data, query.start, query.end, c.version));
    has[i] = cursors[i]->Next(&heads[i], 1) == 1;
  }
  std::vector<std::string> cells;
  for (;;) {
    int64_t t = 0;
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      if (has[i] && (!any || heads[i].time < t)) t = heads[i].time, any = true;
    }
    if (!any || cancelled()) break;
    cells.clear();
    cells.push_back(std::to_string(t));
    for (size_t i = 0; i < n; ++i) {
      if (has[i] && heads[i].time == t) {
        cells.push_back(FormatDouble(heads[i].value));
        has[i] = cursors[i]->Next(&heads[i], 1) == 1;
      } else {
        cells.emplace_back();
      }
    }
    if (!row(cells)) break;
  }
}

// Windows: every stream's windows gathered by start time, then one row per start.
void WindowRows(const CsvQuery& query, const std::function<bool()>& cancelled,
                const std::function<bool(const std::vector<std::string>&)>& row) {
  const bool aligned = query.kind == CsvKind::kAlignedWindows;
  int64_t start = query.start;
  uint64_t width, n;
  if (aligned) {
    const int pw = static_cast<int>(query.window_size);
    start = AlignDown(query.start, pw);
    width = uint64_t{1} << pw;
    n = static_cast<uint64_t>((static_cast<__int128>(AlignDown(query.end, pw)) - start) >> pw);
  } else {
    width = query.window_size;
    n = static_cast<uint64_t>(static_cast<__int128>(query.end) - start) / width;
  }
  const size_t streams = query.columns.size();
  std::map<int64_t, std::vector<std::optional<StatWindow>>> table;
  for (size_t i = 0; i < streams; ++i) {
    const CsvColumn& c = query.columns[i];
    c.data->Windows(start, width, n, !aligned, c.version, [&](const StatWindow& w) {
      auto& cells = table[w.time];
      cells.resize(streams);
      cells[i] = w;
      return !cancelled();
    });
  }
  std::vector<std::string> cells;
  for (const auto& [t, windows] : table) {
    cells.clear();
    cells.push_back(std::to_string(t));
    for (const auto& w : windows) {
      if (w) {
        for (std::string v : {FormatDouble(w->min), FormatDouble(w->mean), FormatDouble(w->max),
                              std::to_string(w->count), FormatDouble(w->stddev)}) {
          cells.push_back(std::move(v));
        }
      } else {
        cells.resize(cells.size() + 5);
      }
    }
    if (!row(cells)) break;
  }
}

}  // namespace

std::vector<std::string> CsvHeader(const CsvQuery& query) {
  std::vector<std::string> header = {"timestamp"};
  for (const CsvColumn& c : query.columns) {
    if (query.kind == CsvKind::kRaw) {
      header.push_back(c.label);
    } else {
      for (const char* suffix : {"_min", "_mean", "_max", "_count", "_stddev"}) {
        header.push_back(c.label + suffix);
      }
    }
  }
  return header;
}

void CsvRows(const CsvQuery& query, const std::function<bool()>& cancelled,
             const std::function<bool(const std::vector<std::string>&)>& row) {
  if (query.kind == CsvKind::kRaw) {
    RawRows(query, cancelled, row);
  } else {
    WindowRows(query, cancelled, row);
  }
}

}  // namespace btrq::lite
