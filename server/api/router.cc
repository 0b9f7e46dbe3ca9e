#include "server/api/router.h"

namespace waybill::server::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 1;  // skip the leading '/'
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Matches one route's template; fills `params` with decoded captures.
bool MatchTemplate(std::string_view templ, const std::vector<std::string_view>& parts,
                   std::vector<std::string>* params) {
  const auto pattern = Split(templ);
  if (pattern.size() != parts.size()) return false;
  std::vector<std::string> captured;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (!pattern[i].empty() && pattern[i].front() == '{') {
      auto decoded = PercentDecode(parts[i], false);
      if (!decoded || decoded->empty()) return false;
      captured.push_back(std::move(*decoded));
    } else if (pattern[i] != parts[i]) {
      return false;
    }
  }
  *params = std::move(captured);
  return true;
}

}  // namespace

std::optional<std::string_view> QueryParams::Get(std::string_view name) const {
  for (const auto& [k, v] : items) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<ParsedTarget> ParseTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  ParsedTarget out;
  const std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.query.items.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

RouteMatch MatchRoute(std::string_view method, std::string_view encoded_path) {
  RouteMatch match;
  // A trailing slash is not a different resource ("/v1/shipments/" is the list).
  if (encoded_path.size() > 1 && encoded_path.back() == '/') encoded_path.remove_suffix(1);
  const auto parts = Split(encoded_path);
  for (const RouteSpec& route : kRoutes) {
    std::vector<std::string> params;
    if (!MatchTemplate(route.path, parts, &params)) continue;
    if (route.method == method) {
      if (match.route == nullptr) {
        match.route = &route;
        match.params = std::move(params);
      }
    } else {
      if (match.allow.find(route.method) == std::string::npos) {
        if (!match.allow.empty()) match.allow += ", ";
        match.allow += route.method;
      }
    }
  }
  if (match.route != nullptr) match.allow.clear();
  return match;
}

}  // namespace waybill::server::api
