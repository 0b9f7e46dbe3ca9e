// Paths into a JSON message, as written in mapping files: dot-separated member names with
// array steps, relative to the message root (a leading "$." is allowed and ignored):
//
//   data.DeliveryDocument
//   data.to_DeliveryDocumentItem.results[0].ReferenceSDDocument
//   Charges[*]                (every element; only in a lines rule's "each")
//
// A member name is one or more characters other than '.', '[', ']' and control characters.
// Paths are compiled once when a mapping file is loaded; resolving one walks the JsonTree.
//
// Internal to waybill_ingest_mapping. Thread-safety: a JsonPath is immutable after Parse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/mapping/json_tree.h"
#include "schemas/result.h"

namespace waybill::ingest::mapping {

struct PathStep {
  enum class Kind : std::uint8_t { kMember, kIndex, kEach };
  Kind kind = Kind::kMember;
  std::string name;         // kMember
  std::uint32_t index = 0;  // kIndex
};

class JsonPath {
 public:
  // Compiles `text`. The error names the character position and the reason
  // (`"data..x": empty member name at position 5`).
  [[nodiscard]] static Result<JsonPath> Parse(std::string_view text);

  const std::string& text() const { return text_; }
  const std::vector<PathStep>& steps() const { return steps_; }
  // Number of [*] steps.
  std::size_t each_count() const { return each_count_; }

 private:
  std::string text_;
  std::vector<PathStep> steps_;
  std::size_t each_count_ = 0;
};

enum class Lookup : std::uint8_t {
  kFound,      // `node` is the value (possibly a JSON null)
  kMissing,    // a member or element on the way does not exist
  kWrongType,  // the value before `step` is not an object / array (its type in `got`)
  kDuplicate,  // the member at `step` occurs more than once in its object
};

struct LookupResult {
  Lookup outcome = Lookup::kMissing;
  std::uint32_t node = 0;
  std::size_t step = 0;  // the step that failed (kWrongType, kDuplicate, kMissing)
  JsonType got = JsonType::kNull;
};

// Walks steps [first, last) of `path` from tree node `from`. kEach steps must not be in range.
LookupResult Resolve(const JsonTree& tree, std::uint32_t from, const JsonPath& path,
                     std::size_t first, std::size_t last);
inline LookupResult Resolve(const JsonTree& tree, std::uint32_t from, const JsonPath& path) {
  return Resolve(tree, from, path, 0, path.steps().size());
}

// The input JSON path of the first `steps` steps of `path` below `base` ("$", "$[3]",
// "$.Charges[1]"): "$.data.DeliveryDocument".
std::string RenderPath(std::string_view base, const JsonPath& path, std::size_t steps);
inline std::string RenderPath(std::string_view base, const JsonPath& path) {
  return RenderPath(base, path, path.steps().size());
}

}  // namespace waybill::ingest::mapping
