#pragma once

// A small SQL subset over the stream metadata table, enough for the Python client's
// conn.query() helpers (list_unique_names/units/annotations) and simple lookups:
//
//   SELECT [DISTINCT] item [, item ...] FROM streams
//     [WHERE cond [AND cond ...]] [ORDER BY column] [LIMIT n]
//   item:   * | column | DISTINCT(column) | skeys(annotations) | item AS alias
//   cond:   column (= | != | ~ | LIKE) value      value: $N or 'literal'
//   column: uuid, collection, name, unit, ingress, distiller, property_version,
//           annotations, or annotations->'key'
//
// `~` is a regular-expression search (ECMAScript syntax), LIKE supports % and _.
// Each result row is one JSON object. Anything else answers 501 (NotImplemented);
// a bad parameter reference answers 441 (BadSQLValue).

#include <string>
#include <string_view>
#include <vector>

#include "lite/database.h"
#include "common/status.h"

namespace btrq::lite {

// SQL LIKE: '%' any run, '_' any one byte, the rest literal. O(|s| * |pattern|).
bool LikeMatch(std::string_view s, std::string_view pattern);

Result<std::vector<std::string>> RunSqlQuery(const Database& db, const std::string& query,
                                             const std::vector<std::string>& params);

}  // namespace btrq::lite
