// Checks schemas/openapi.yaml against the route table (server/api/route_table.h), so the
// description cannot drift from the server:
//   - the (method, path) pairs under `paths:` are exactly those of kRoutes;
//   - each operation's `x-required-scope` is the route's scope; open routes (scope "") say
//     `x-required-scope: ""` and `security: []`, the others `security: [bearerAuth]` and
//     document 401 and 403;
//   - every operation has responses, and declares each `{param}` of its path as a path
//     parameter (and no other);
//   - every `$ref: '#/components/<section>/<name>'` names something defined there;
//   - the file is block-style YAML with 2-space indents and no tabs.
//
// There is no YAML library in the project, so a small line-based reader extracts just that
// structure. It understands what this file uses: `key: value` lines, `- ` sequence items,
// quoted keys and values, comments, and block scalars (`|`, `>`, with chomping indicators),
// whose content lines it skips. It does not understand multi-line flow collections or
// multi-line plain scalars; the file does not use them (a test below pins that down).
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api/route_table.h"

namespace waybill::server::api {
namespace {

// One structural line of the file: not blank, not a comment, not block-scalar content.
struct YamlLine {
  int number = 0;     // 1-based line number in the file
  int indent = 0;     // spaces before the first character
  bool item = false;  // starts with "- "
  std::string key;    // the mapping key on this line (after "- " for items), unquoted
  std::string value;  // the value after "key:", trimmed and unquoted; "" if none
  std::string raw;    // the line without indentation and trailing comment
};

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(' ');
  return std::string(s.substr(b, e - b + 1));
}

// 'text' or "text" -> text (YAML escapes are not needed by the values checked here).
std::string Unquote(const std::string& s) {
  if (s.size() >= 2 &&
      ((s.front() == '\'' && s.back() == '\'') || (s.front() == '"' && s.back() == '"'))) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

// Removes a trailing " # comment" that is outside quotes.
std::string StripComment(const std::string& s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ')) {
      return Trim(s.substr(0, i));
    }
  }
  return s;
}

// Splits "key: value" / "key:" (key possibly quoted) into key and value. nullopt when the
// text is not a mapping entry (a plain sequence scalar such as "- get").
std::optional<std::pair<std::string, std::string>> SplitKey(const std::string& text) {
  size_t colon = std::string::npos;
  if (!text.empty() && (text.front() == '\'' || text.front() == '"')) {
    const size_t close = text.find(text.front(), 1);
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    colon = close + 1;
  } else {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ':' && (i + 1 == text.size() || text[i + 1] == ' ')) {
        colon = i;
        break;
      }
    }
    if (colon == std::string::npos) return std::nullopt;
  }
  return std::make_pair(Unquote(Trim(text.substr(0, colon))),
                        Unquote(Trim(text.substr(colon + 1))));
}

bool IsBlockScalarIndicator(const std::string& value) {
  if (value.empty() || (value[0] != '|' && value[0] != '>')) return false;
  return std::all_of(value.begin() + 1, value.end(),
                     [](char c) { return c == '-' || c == '+' || (c >= '1' && c <= '9'); });
}

struct YamlFile {
  std::vector<YamlLine> lines;
  std::vector<std::string> problems;  // tabs, odd indentation: "line N: ..."
};

YamlFile ReadYaml(const std::string& text) {
  YamlFile out;
  std::stringstream in(text);
  std::string line;
  int number = 0;
  int block_indent = -1;  // while >= 0: inside a block scalar opened on a line at this indent
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find('\t') != std::string::npos) {
      out.problems.push_back("line " + std::to_string(number) + ": tab character");
    }
    const size_t first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;  // blank (also inside block scalars)
    const int indent = static_cast<int>(first);
    if (block_indent >= 0) {
      if (indent > block_indent) continue;  // block scalar content
      block_indent = -1;
    }
    if (line[first] == '#') continue;
    if (indent % 2 != 0) {
      out.problems.push_back("line " + std::to_string(number) + ": indentation of " +
                             std::to_string(indent) + " spaces is not a multiple of 2");
    }
    YamlLine y;
    y.number = number;
    y.indent = indent;
    y.raw = StripComment(line.substr(first));
    std::string rest = y.raw;
    if (rest == "-" || rest.starts_with("- ")) {
      y.item = true;
      rest = rest == "-" ? "" : Trim(rest.substr(2));
    }
    if (auto kv = SplitKey(rest)) {
      y.key = kv->first;
      y.value = kv->second;
    } else {
      y.value = Unquote(rest);
    }
    if (IsBlockScalarIndicator(y.value)) block_indent = indent;
    out.lines.push_back(std::move(y));
  }
  return out;
}

constexpr std::string_view kHttpMethods[] = {"get",     "put",  "post",  "delete",
                                             "options", "head", "patch", "trace"};

bool IsHttpMethod(const std::string& key) {
  return std::find(std::begin(kHttpMethods), std::end(kHttpMethods), key) != std::end(kHttpMethods);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One operation under `paths:`.
struct Operation {
  std::string method;  // "GET"
  std::string path;    // "/v1/shipments/{id}"
  int line = 0;
  std::optional<std::string> scope;     // x-required-scope
  bool security_open = false;           // security: []
  bool security_bearer = false;         // security: - bearerAuth: []
  std::set<std::string> responses;      // status codes ("200", "default")
  std::set<std::string> path_params;    // inline `in: path` parameters
  std::vector<std::string> param_refs;  // "#/components/parameters/X"
};

struct Description {
  std::string openapi_version;
  std::vector<Operation> operations;
  std::vector<std::pair<std::string, std::set<std::string>>> path_level_params;  // path -> names
  std::map<std::string, std::set<std::string>> components;   // section -> defined names
  std::map<std::string, std::string> path_param_components;  // parameter name -> `name:`
  std::vector<std::pair<int, std::string>> refs;             // (line, target)
  std::vector<std::string> problems;                         // duplicates and structure errors
};

// Reads the parameters list that starts after lines[i] (a "parameters:" key at `indent`):
// items at indent+2. Adds inline path parameter names to *names, $refs to *refs. Returns the
// index of the first line after the list.
size_t ReadParameters(const std::vector<YamlLine>& lines, size_t i, int indent,
                      std::set<std::string>* names, std::vector<std::string>* refs) {
  size_t j = i + 1;
  while (j < lines.size() && lines[j].indent > indent) {
    if (lines[j].indent == indent + 2 && lines[j].item) {
      // One item: its first key is on the dash line, the others at indent+4.
      std::string name;
      std::string in;
      std::string ref;
      size_t k = j;
      do {
        const YamlLine& l = lines[k];
        if (k == j || l.indent == indent + 4) {
          if (l.key == "name") name = l.value;
          if (l.key == "in") in = l.value;
          if (l.key == "$ref") ref = l.value;
        }
        ++k;
      } while (k < lines.size() && lines[k].indent > indent + 2);
      if (!ref.empty()) refs->push_back(ref);
      if (in == "path") names->insert(name);
      j = k;
    } else {
      ++j;
    }
  }
  return j;
}

Description Describe(const YamlFile& file) {
  Description d;
  const auto& lines = file.lines;
  std::set<std::pair<std::string, std::string>> seen_ops;
  std::set<std::string> seen_paths;
  std::string top;      // current top-level key
  std::string section;  // current components section
  std::string path;     // current path under paths:
  Operation* op = nullptr;
  for (const YamlLine& l : lines) {
    if (l.key == "$ref") d.refs.emplace_back(l.number, l.value);
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const YamlLine& l = lines[i];
    if (l.indent == 0) {
      top = l.key;
      op = nullptr;
      if (top == "openapi") d.openapi_version = l.value;
      continue;
    }
    if (top == "paths") {
      if (l.indent == 2) {
        path = l.key;
        op = nullptr;
        if (!seen_paths.insert(path).second) {
          d.problems.push_back("line " + std::to_string(l.number) + ": path " + path +
                               " appears twice");
        }
      } else if (l.indent == 4) {
        op = nullptr;
        if (IsHttpMethod(l.key)) {
          Operation o;
          o.method = Upper(l.key);
          o.path = path;
          o.line = l.number;
          if (!seen_ops.emplace(o.method, o.path).second) {
            d.problems.push_back("line " + std::to_string(l.number) + ": " + o.method + " " + path +
                                 " appears twice");
          }
          d.operations.push_back(std::move(o));
          op = &d.operations.back();
        } else if (l.key == "parameters") {
          std::set<std::string> names;
          std::vector<std::string> refs;  // resolved through path_param_components below
          const size_t next = ReadParameters(lines, i, 4, &names, &refs);
          for (const std::string& r : refs) names.insert("$ref:" + r);
          d.path_level_params.emplace_back(path, std::move(names));
          i = next - 1;  // the loop's ++i lands on the first line after the list
        }
      } else if (op != nullptr && l.indent == 6) {
        if (l.key == "x-required-scope") {
          op->scope = l.value;
        } else if (l.key == "security") {
          if (l.value == "[]") {
            op->security_open = true;
          } else {
            for (size_t j = i + 1; j < lines.size() && lines[j].indent > 6; ++j) {
              if (lines[j].item && lines[j].key == "bearerAuth") op->security_bearer = true;
            }
          }
        } else if (l.key == "responses") {
          for (size_t j = i + 1; j < lines.size() && lines[j].indent > 6; ++j) {
            if (lines[j].indent == 8 && !lines[j].item) op->responses.insert(lines[j].key);
          }
        } else if (l.key == "parameters") {
          const size_t next = ReadParameters(lines, i, 6, &op->path_params, &op->param_refs);
          i = next - 1;
        }
      }
    } else if (top == "components") {
      if (l.indent == 2) {
        section = l.key;
      } else if (l.indent == 4) {
        if (!d.components[section].insert(l.key).second) {
          d.problems.push_back("line " + std::to_string(l.number) + ": components/" + section +
                               "/" + l.key + " is defined twice");
        }
        if (section == "parameters") {
          std::string name;
          std::string in;
          for (size_t j = i + 1; j < lines.size() && lines[j].indent > 4; ++j) {
            if (lines[j].indent != 6) continue;
            if (lines[j].key == "name") name = lines[j].value;
            if (lines[j].key == "in") in = lines[j].value;
          }
          if (in == "path") d.path_param_components[l.key] = name;
        }
      }
    }
  }
  return d;
}

// "{id}" names in a path template.
std::set<std::string> TemplateParams(const std::string& path) {
  std::set<std::string> out;
  size_t pos = 0;
  while ((pos = path.find('{', pos)) != std::string::npos) {
    const size_t close = path.find('}', pos);
    if (close == std::string::npos) break;
    out.insert(path.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  return out;
}

// Path parameter names an operation declares, inline or through components/parameters.
std::set<std::string> DeclaredPathParams(const Description& d, const Operation& op) {
  std::set<std::string> out = op.path_params;
  std::vector<std::string> refs = op.param_refs;
  for (const auto& [path, names] : d.path_level_params) {
    if (path != op.path) continue;
    for (const std::string& n : names) {
      if (n.starts_with("$ref:")) {
        refs.push_back(n.substr(5));
      } else {
        out.insert(n);
      }
    }
  }
  constexpr std::string_view kPrefix = "#/components/parameters/";
  for (const std::string& r : refs) {
    if (!r.starts_with(kPrefix)) continue;
    const auto it = d.path_param_components.find(r.substr(kPrefix.size()));
    if (it != d.path_param_components.end()) out.insert(it->second);
  }
  return out;
}

std::string Joined(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "(none)" : out;
}

std::string OpenApiPath() {
  const char* src = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE_MESSAGE((src != nullptr && *src != '\0'),
                  "WAYBILL_SOURCE_DIR is not set (ctest sets it; by hand: "
                  "WAYBILL_SOURCE_DIR=/path/to/source ./openapi_test)");
  return std::string(src) + "/schemas/openapi.yaml";
}

std::string ReadOpenApi() {
  const std::string path = OpenApiPath();
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RouteName(std::string_view method, std::string_view path) {
  return std::string(method) + " " + std::string(path);
}

TEST_CASE("the reader skips block scalars and comments and sees the structure") {
  const YamlFile f = ReadYaml(
      "openapi: 3.0.3\n"
      "# paths:\n"
      "paths:\n"
      "  /a/{x}:  # a comment\n"
      "    get:\n"
      "      description: |\n"
      "        Not a path:\n"
      "          /fake:\n"
      "            post:\n"
      "\n"
      "        x-required-scope: nope\n"
      "      x-required-scope: \"\"\n"
      "      security: []\n"
      "      parameters:\n"
      "        - name: x\n"
      "          in: path\n"
      "        - $ref: '#/components/parameters/Y'\n"
      "      responses:\n"
      "        '200':\n"
      "          description: ok\n"
      "components:\n"
      "  parameters:\n"
      "    Y:\n"
      "      name: y\n"
      "      in: path\n");
  CHECK(f.problems.empty());
  const Description d = Describe(f);
  CHECK(d.openapi_version == "3.0.3");
  REQUIRE(d.operations.size() == 1);
  const Operation& op = d.operations[0];
  CHECK(op.method == "GET");
  CHECK(op.path == "/a/{x}");
  REQUIRE(op.scope.has_value());
  CHECK(*op.scope == "");
  CHECK(op.security_open);
  CHECK(op.responses == std::set<std::string>{"200"});
  CHECK(DeclaredPathParams(d, op) == std::set<std::string>{"x", "y"});
  CHECK(d.refs.size() == 1);

  const YamlFile bad = ReadYaml("a:\n\tb: 1\n   c: 2\n");
  CHECK(bad.problems.size() == 2);
}

TEST_CASE("schemas/openapi.yaml is block-style YAML with 2-space indents and no tabs") {
  const std::string text = ReadOpenApi();
  const YamlFile file = ReadYaml(text);
  for (const std::string& p : file.problems) CHECK_MESSAGE(false, OpenApiPath(), ": ", p);
  const Description d = Describe(file);
  for (const std::string& p : d.problems) CHECK_MESSAGE(false, OpenApiPath(), ": ", p);
  CHECK_MESSAGE(d.openapi_version == "3.0.3", "openapi: is '", d.openapi_version, "'");
  // A multi-line flow collection or plain scalar would fool the reader: keep them out.
  for (const YamlLine& l : file.lines) {
    const bool opens_flow = (l.value.starts_with("{") && !l.value.ends_with("}")) ||
                            (l.value.starts_with("[") && !l.value.ends_with("]"));
    CHECK_MESSAGE(!opens_flow, "line ", l.number, ": multi-line flow collection: ", l.raw);
  }
}

TEST_CASE("schemas/openapi.yaml has exactly the routes of route_table.h, with their scopes") {
  const Description d = Describe(ReadYaml(ReadOpenApi()));
  REQUIRE_MESSAGE(!d.operations.empty(), "no operations found under `paths:` in ", OpenApiPath());

  std::map<std::string, const Operation*> in_yaml;
  for (const Operation& op : d.operations) in_yaml[RouteName(op.method, op.path)] = &op;
  std::set<std::string> in_table;
  for (const RouteSpec& r : kRoutes) in_table.insert(RouteName(r.method, r.path));

  std::set<std::string> missing;
  for (const std::string& r : in_table) {
    if (!in_yaml.count(r)) missing.insert(r);
  }
  std::set<std::string> extra;
  for (const auto& [r, op] : in_yaml) {
    if (!in_table.count(r)) extra.insert(r);
  }
  CHECK_MESSAGE(missing.empty(),
                "routes of route_table.h missing from openapi.yaml: ", Joined(missing));
  CHECK_MESSAGE(extra.empty(),
                "operations in openapi.yaml that route_table.h does not have: ", Joined(extra));

  for (const RouteSpec& r : kRoutes) {
    const std::string name = RouteName(r.method, r.path);
    const auto it = in_yaml.find(name);
    if (it == in_yaml.end()) continue;  // reported above
    const Operation& op = *it->second;
    CAPTURE(name);
    CAPTURE(op.line);
    if (!op.scope) {
      CHECK_MESSAGE(false, name, " (line ", op.line, ") has no x-required-scope; expected \"",
                    r.scope, "\"");
    } else {
      CHECK_MESSAGE(*op.scope == r.scope, name, " (line ", op.line, "): x-required-scope \"",
                    *op.scope, "\" but route_table.h says \"", r.scope, "\"");
    }
    if (r.scope.empty()) {
      CHECK_MESSAGE(op.security_open, name, " (line ", op.line,
                    ") is open in route_table.h: it must say `security: []`");
    } else {
      CHECK_MESSAGE(op.security_bearer, name, " (line ", op.line,
                    ") needs a token: it must say `security: [bearerAuth: []]`");
      CHECK_MESSAGE(!op.security_open, name, " (line ", op.line,
                    ") needs a token but says `security: []`");
      for (const std::string code : {"401", "403"}) {
        CHECK_MESSAGE(op.responses.count(code), name, " (line ", op.line,
                      ") needs a token but does not document ", code);
      }
    }
    CHECK_MESSAGE(!op.responses.empty(), name, " (line ", op.line, ") has no responses");

    const std::set<std::string> want = TemplateParams(op.path);
    const std::set<std::string> have = DeclaredPathParams(d, op);
    CHECK_MESSAGE(want == have, name, " (line ", op.line, "): path parameters declared {",
                  Joined(have), "}, the template has {", Joined(want), "}");
  }
}

TEST_CASE("every $ref of schemas/openapi.yaml resolves") {
  const Description d = Describe(ReadYaml(ReadOpenApi()));
  CHECK_MESSAGE(d.components.count("schemas"), "no components/schemas in ", OpenApiPath());
  CHECK_MESSAGE(!d.refs.empty(), "no $ref found: the reader is probably broken");
  constexpr std::string_view kPrefix = "#/components/";
  for (const auto& [line, target] : d.refs) {
    CAPTURE(line);
    if (!target.starts_with(kPrefix)) {
      CHECK_MESSAGE(false, "line ", line, ": $ref '", target,
                    "' is not a local '#/components/...' reference");
      continue;
    }
    const std::string rest = target.substr(kPrefix.size());
    const size_t slash = rest.find('/');
    const std::string section = rest.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : rest.substr(slash + 1);
    const auto it = d.components.find(section);
    const bool defined = it != d.components.end() && it->second.count(name) > 0;
    CHECK_MESSAGE(defined, "line ", line, ": $ref '", target, "' is not defined under components/",
                  section);
  }
}

}  // namespace
}  // namespace waybill::server::api
