// JSON text -> JsonTree with simdjson On-Demand: one pass over every value (so every syntax
// error surfaces), recording unescaped strings and raw number tokens.
#include "ingest/mapping/json_tree.h"

#include <cstring>
#include <limits>

namespace waybill::ingest::mapping {
namespace {

namespace od = simdjson::ondemand;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view t) {
  std::size_t i = 0;
  const std::size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (IsDigit(t[i])) {
    while (i < n && IsDigit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    const std::size_t f = ++i;
    while (i < n && IsDigit(t[i])) ++i;
    if (i == f) return false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    const std::size_t e = i;
    while (i < n && IsDigit(t[i])) ++i;
    if (i == e) return false;
  }
  return i == n;
}

// End (exclusive) of the JSON value starting at text[pos]; `text` is known to be valid JSON.
std::size_t ValueEnd(std::string_view text, std::size_t pos) {
  const std::size_t n = text.size();
  if (pos >= n) return n;
  const char first = text[pos];
  if (first == '"') {
    for (std::size_t i = pos + 1; i < n; ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        return i + 1;
      }
    }
    return n;
  }
  if (first == '{' || first == '[') {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = pos; i < n; ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return n;
  }
  std::size_t i = pos;
  while (i < n && !IsSpace(text[i]) && text[i] != ',' && text[i] != ']' && text[i] != '}') ++i;
  return i;
}

// Per-parse state: where the padded copy starts, for byte offsets in messages.
struct Ctx {
  const char* base = nullptr;
  std::size_t size = 0;
  od::document* doc = nullptr;
  std::vector<JsonNode>* nodes = nullptr;

  Status Malformed(std::string_view reason, const char* at) const {
    std::string m = "malformed JSON";
    if (at == nullptr && doc != nullptr) {
      const char* loc = nullptr;
      if (doc->current_location().get(loc) == simdjson::SUCCESS) at = loc;
    }
    if (at != nullptr && at >= base && at <= base + size) {
      m += " at byte ";
      m += std::to_string(at - base);
    }
    m += ": ";
    m += reason;
    return Status::Invalid(std::move(m));
  }
  Status Malformed(simdjson::error_code e, const char* at) const {
    return Malformed(simdjson::error_message(e), at);
  }
};

Status BuildValue(Ctx& c, od::value& v, std::string_view key, int depth) {
  const char* at = v.raw_json_token().data();
  od::json_type type;
  if (auto e = v.type().get(type)) return c.Malformed(e, at);
  std::vector<JsonNode>& nodes = *c.nodes;
  if (nodes.size() >= std::numeric_limits<std::uint32_t>::max() - 1) {
    return c.Malformed("too many values in one message", at);
  }
  const auto index = static_cast<std::uint32_t>(nodes.size());
  nodes.push_back(JsonNode{});
  nodes[index].key = key;
  switch (type) {
    case od::json_type::object: {
      nodes[index].type = JsonType::kObject;
      if (depth > kMaxJsonDepth) {
        return c.Malformed("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", at);
      }
      od::object object;
      if (auto e = v.get_object().get(object)) return c.Malformed(e, at);
      std::uint32_t count = 0;
      for (auto member : object) {
        od::field field;
        if (auto e = std::move(member).get(field)) return c.Malformed(e, nullptr);
        std::string_view name;
        if (auto e = field.unescaped_key().get(name)) return c.Malformed(e, nullptr);
        od::value child = field.value();
        WAYBILL_RETURN_IF_ERROR(BuildValue(c, child, name, depth + 1));
        ++count;
      }
      nodes[index].size = count;
      break;
    }
    case od::json_type::array: {
      nodes[index].type = JsonType::kArray;
      if (depth > kMaxJsonDepth) {
        return c.Malformed("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", at);
      }
      od::array array;
      if (auto e = v.get_array().get(array)) return c.Malformed(e, at);
      std::uint32_t count = 0;
      for (auto element : array) {
        od::value child;
        if (auto e = std::move(element).get(child)) return c.Malformed(e, nullptr);
        WAYBILL_RETURN_IF_ERROR(BuildValue(c, child, {}, depth + 1));
        ++count;
      }
      nodes[index].size = count;
      break;
    }
    case od::json_type::string: {
      nodes[index].type = JsonType::kString;
      std::string_view s;
      if (auto e = v.get_string().get(s)) return c.Malformed(e, at);
      nodes[index].text = s;
      break;
    }
    case od::json_type::number: {
      nodes[index].type = JsonType::kNumber;
      std::string_view token = TrimTrailingSpace(v.raw_json_token());
      if (!IsJsonNumber(token)) return c.Malformed("invalid number", at);
      nodes[index].text = token;
      break;
    }
    case od::json_type::boolean: {
      nodes[index].type = JsonType::kBool;
      bool b = false;
      if (auto e = v.get_bool().get(b)) return c.Malformed(e, at);
      nodes[index].text = b ? "true" : "false";
      break;
    }
    case od::json_type::null: {
      nodes[index].type = JsonType::kNull;
      bool is_null = false;
      if (v.is_null().get(is_null) != simdjson::SUCCESS || !is_null) {
        return c.Malformed("invalid literal", at);
      }
      break;
    }
  }
  nodes[index].end = static_cast<std::uint32_t>(nodes.size());
  return Status::Ok();
}

// A scalar at the root of a document (On-Demand reads those through the document itself).
Status BuildRootScalar(Ctx& c, od::document& doc, od::json_type type) {
  const char* at = nullptr;
  std::string_view token;
  if (doc.raw_json_token().get(token) == simdjson::SUCCESS) at = token.data();
  JsonNode node;
  node.end = 1;
  switch (type) {
    case od::json_type::string: {
      node.type = JsonType::kString;
      if (auto e = doc.get_string().get(node.text)) return c.Malformed(e, at);
      break;
    }
    case od::json_type::number: {
      node.type = JsonType::kNumber;
      node.text = TrimTrailingSpace(token);
      if (!IsJsonNumber(node.text)) return c.Malformed("invalid number", at);
      break;
    }
    case od::json_type::boolean: {
      node.type = JsonType::kBool;
      bool b = false;
      if (auto e = doc.get_bool().get(b)) return c.Malformed(e, at);
      node.text = b ? "true" : "false";
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (doc.is_null().get(is_null) != simdjson::SUCCESS || !is_null) {
        return c.Malformed("invalid literal", at);
      }
      break;
    }
    case od::json_type::object:
    case od::json_type::array:
      return c.Malformed("internal: container passed as scalar", at);
  }
  c.nodes->push_back(node);
  return Status::Ok();
}

// Anything after the root value ({"a":1}} or two concatenated objects) is an error; at the end,
// current_location() reports OUT_OF_BOUNDS.
Status CheckAtEnd(Ctx& c, od::document& doc) {
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::SUCCESS) return Status::Ok();
  return c.Malformed("unexpected content after the JSON value", rest);
}

}  // namespace

std::string_view JsonTypeName(JsonType type) {
  switch (type) {
    case JsonType::kNull:
      return "null";
    case JsonType::kBool:
      return "boolean";
    case JsonType::kNumber:
      return "number";
    case JsonType::kString:
      return "string";
    case JsonType::kArray:
      return "array";
    case JsonType::kObject:
      return "object";
  }
  return "unknown";
}

simdjson::padded_string_view JsonTreeParser::Pad(std::string_view text) {
  buffer_.clear();
  buffer_.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  buffer_.append(text);
  buffer_.append(simdjson::SIMDJSON_PADDING, ' ');
  return simdjson::padded_string_view(buffer_.data(), text.size(), buffer_.size());
}

Status JsonTreeParser::ParseOne(std::string_view text, JsonTree* tree) {
  tree->nodes.clear();
  simdjson::padded_string_view padded = Pad(text);
  od::document doc;
  Ctx c{buffer_.data(), text.size(), nullptr, &tree->nodes};
  if (auto e = parser_.iterate(padded).get(doc)) return c.Malformed(e, nullptr);
  c.doc = &doc;
  od::json_type type;
  if (auto e = doc.type().get(type)) return c.Malformed(e, nullptr);
  if (type == od::json_type::object || type == od::json_type::array) {
    od::value root;
    if (auto e = doc.get_value().get(root)) return c.Malformed(e, nullptr);
    WAYBILL_RETURN_IF_ERROR(BuildValue(c, root, {}, 1));
  } else {
    WAYBILL_RETURN_IF_ERROR(BuildRootScalar(c, doc, type));
  }
  return CheckAtEnd(c, doc);
}

Status JsonTreeParser::ForEachElement(std::string_view text, const ElementFn& fn) {
  simdjson::padded_string_view padded = Pad(text);
  od::document doc;
  Ctx c{buffer_.data(), text.size(), nullptr, &scratch_.nodes};
  if (auto e = parser_.iterate(padded).get(doc)) return c.Malformed(e, nullptr);
  c.doc = &doc;
  od::json_type type;
  if (auto e = doc.type().get(type)) return c.Malformed(e, nullptr);
  if (type != od::json_type::array) {
    return Status::Invalid("expected a JSON array, got " +
                           std::string(type == od::json_type::object ? "object" : "a scalar"));
  }
  // Pass 0 checks the whole document; pass 1 hands out the elements.
  for (int pass = 0; pass < 2; ++pass) {
    od::array array;
    if (auto e = doc.get_array().get(array)) return c.Malformed(e, nullptr);
    std::size_t index = 0;
    for (auto element : array) {
      od::value value;
      if (auto e = std::move(element).get(value)) {
        Status st = c.Malformed(e, nullptr);
        return Status::Invalid("$[" + std::to_string(index) + "]: " + st.message());
      }
      const char* start = value.raw_json_token().data();
      scratch_.nodes.clear();
      Status st = BuildValue(c, value, {}, 2);
      if (!st.ok()) return Status::Invalid("$[" + std::to_string(index) + "]: " + st.message());
      if (pass == 1) {
        const auto offset = static_cast<std::size_t>(start - buffer_.data());
        const std::size_t end = ValueEnd(text, offset);
        fn(index, text.substr(offset, end - offset), scratch_);
      }
      ++index;
    }
    if (pass == 0) {
      WAYBILL_RETURN_IF_ERROR(CheckAtEnd(c, doc));
      doc.rewind();
    }
  }
  return Status::Ok();
}

}  // namespace waybill::ingest::mapping
