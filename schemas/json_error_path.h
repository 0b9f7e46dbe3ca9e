// Pieces of the error messages of the event JSON reader and of ValidateEvent, which start with
// a JSON path (`references[3].value: must not be empty`). Internal to schemas/.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace waybill::internal {

// A JSON path prefix: `base` ("", "location", "charges.lines") and, for array elements, an
// index (-1 for none). Paths are only turned into strings when there is an error to report.
struct JsonErrorPath {
  std::string_view base;
  std::ptrdiff_t index = -1;

  // The path of `field` below this prefix: base, then "[index]" when index >= 0, then
  // ".field" ("field" alone when nothing precedes it). An empty `field` gives the prefix
  // itself.
  std::string Field(std::string_view field) const {
    std::string s(base);
    if (index >= 0) {
      s += '[';
      s += std::to_string(index);
      s += ']';
    }
    if (!field.empty()) {
      if (!s.empty()) s += '.';
      s += field;
    }
    return s;
  }
};

// `s` in double quotes, as is: nothing escaped, nothing cut.
inline std::string QuoteVerbatim(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  q += s;
  q += '"';
  return q;
}

}  // namespace waybill::internal
