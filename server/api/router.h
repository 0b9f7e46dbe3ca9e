// Matching a request target against the route table: percent-decoding of path segments and
// query values, {param} capture, and the 404/405 distinction.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api/route_table.h"

namespace waybill::server::api {

struct QueryParams {
  std::vector<std::pair<std::string, std::string>> items;  // decoded, in order
  // The value of the first `name`; nullopt when absent.
  std::optional<std::string_view> Get(std::string_view name) const;
};

struct RouteMatch {
  const RouteSpec* route = nullptr;  // null: no route for this path and method
  std::vector<std::string> params;   // path {param} values, decoded, in path order
  std::string allow;                 // when the path exists with other methods: "GET, POST"
};

// Splits "/v1/shipments/S%201?limit=5" into a matched route and query. Invalid percent
// escapes or a path that is not absolute give nullopt (400). Query keys and values are
// decoded with '+' as space (application/x-www-form-urlencoded).
struct ParsedTarget {
  std::string path;  // as sent (still encoded)
  QueryParams query;
};
std::optional<ParsedTarget> ParseTarget(std::string_view target);

RouteMatch MatchRoute(std::string_view method, std::string_view encoded_path);

// Percent-decoding; nullopt on a bad escape. `plus_is_space` for query strings.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace waybill::server::api
