// A JSON message materialised as a flat, read-only tree for the mapping engine's path
// look-ups. Strings are unescaped; numbers keep their exact source token, because money must
// never pass through a double ("125.10" stays "125.10").
//
// Internal to waybill_ingest_mapping. Thread-safety: a JsonTreeParser is used by one thread at
// a time (it owns simdjson buffers); a JsonTree is plain data whose views stay valid until its
// parser parses again.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/result.h"

namespace waybill::ingest::mapping {

enum class JsonType : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

// "null", "boolean", "number", "string", "array", "object".
std::string_view JsonTypeName(JsonType type);

struct JsonNode {
  JsonType type = JsonType::kNull;
  std::uint32_t end = 0;   // index one past this node's subtree, i.e. its next sibling
  std::uint32_t size = 0;  // number of members (object) or elements (array)
  std::string_view key;    // member name when the parent is an object
  std::string_view text;   // string value (unescaped), number token, "true" / "false"
};

// Nodes in document order: nodes[0] is the root, a container's first child directly follows
// it, and a child's `end` is its next sibling.
struct JsonTree {
  std::vector<JsonNode> nodes;

  const JsonNode& operator[](std::uint32_t i) const { return nodes[i]; }
};

// Containers nested deeper than this (the root being level 1) are rejected.
inline constexpr int kMaxJsonDepth = 64;

class JsonTreeParser {
 public:
  // Parses `text`, which must hold exactly one JSON value, into `tree`. Errors read
  // "malformed JSON at byte N: <reason>" (N counted from the start of `text`).
  [[nodiscard]] Status ParseOne(std::string_view text, JsonTree* tree);

  // For a document that is one JSON array: first checks the whole document (a malformed
  // document returns the error and calls `fn` for nothing, so nothing of it is half-applied),
  // then calls `fn(index, unit, tree)` for every element in order, where `unit` is the
  // element's text (a view into `text`) and `tree` the element's tree. A document that is not
  // an array returns an error naming the type found.
  using ElementFn =
      std::function<void(std::size_t index, std::string_view unit, const JsonTree& tree)>;
  [[nodiscard]] Status ForEachElement(std::string_view text, const ElementFn& fn);

 private:
  // Copies `text` into buffer_ followed by SIMDJSON_PADDING spaces.
  simdjson::padded_string_view Pad(std::string_view text);

  simdjson::ondemand::parser parser_;
  std::string buffer_;
  JsonTree scratch_;
};

}  // namespace waybill::ingest::mapping
