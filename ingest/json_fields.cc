#include "ingest/json_fields.h"

#include <cstring>
#include <utility>

namespace waybill::ingest {

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;

std::string QuoteJsonValue(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  // Keep messages printable and short: the offending value may be anything.
  for (std::size_t i = 0; i < s.size() && i < 80; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    q += (c < 0x20 || c == 0x7f) ? '?' : s[i];
  }
  if (s.size() > 80) q += "...";
  q += '"';
  return q;
}

const char* DomTypeName(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

std::string_view TrimJsonSpace(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  std::string p(parent);
  p += '.';
  p += key;
  return p;
}

std::string IndexPath(std::string_view parent, std::size_t i) {
  std::string p(parent);
  p += '[';
  p += std::to_string(i);
  p += ']';
  return p;
}

std::string IdProblem(std::string_view v, std::size_t max) {
  if (v.size() > max) {
    return "is " + std::to_string(v.size()) + " bytes long, at most " + std::to_string(max) +
           " are allowed";
  }
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  return {};
}

std::optional<std::string_view> ReadString(dom::object o, std::string_view key,
                                           std::string_view parent, Problems* p) {
  dom::element e;
  if (o[key].get(e)) return std::nullopt;
  std::string_view s;
  if (!e.get(s)) {
    if (s.empty()) return std::nullopt;
    return s;
  }
  if (!e.is_null()) {
    p->Add(JoinPath(parent, key), std::string("expected a string, got ") + DomTypeName(e.type()));
  }
  return std::nullopt;
}

std::optional<std::string_view> ReadId(dom::object o, std::string_view key, std::string_view parent,
                                       Problems* p, std::size_t max) {
  auto s = ReadString(o, key, parent, p);
  if (s) {
    std::string problem = IdProblem(*s, max);
    if (!problem.empty()) {
      p->Add(JoinPath(parent, key), problem);
      return std::nullopt;
    }
  }
  return s;
}

void AddReference(std::vector<Reference>* refs, std::string_view type, std::string_view value) {
  for (const auto& r : *refs) {
    if (r.type == type && r.value == value) return;
  }
  refs->push_back(Reference{std::string(type), std::string(value)});
}

void CopyPadded(std::string_view document, std::vector<char>* buf) {
  if (buf->size() < document.size() + simdjson::SIMDJSON_PADDING) {
    buf->resize(document.size() + simdjson::SIMDJSON_PADDING);
  }
  if (!document.empty()) std::memcpy(buf->data(), document.data(), document.size());
  std::memset(buf->data() + document.size(), 0, simdjson::SIMDJSON_PADDING);
}

bool AppendElementSpans(od::array& arr, std::string_view document, const char* padded,
                        std::vector<std::string_view>* spans) {
  for (auto item : arr) {
    od::value v;
    if (item.get(v)) return false;
    od::json_type type;
    if (v.type().get(type)) return false;
    std::string_view raw;
    if (type == od::json_type::object) {
      od::object obj;
      if (v.get_object().get(obj) || obj.raw_json().get(raw)) return false;
    } else if (type == od::json_type::array) {
      od::array inner;
      if (v.get_array().get(inner) || inner.raw_json().get(raw)) return false;
    } else {
      raw = v.raw_json_token();
    }
    raw = TrimJsonSpace(raw);
    spans->push_back(document.substr(static_cast<std::size_t>(raw.data() - padded), raw.size()));
  }
  return true;
}

void RejectDocument(std::string_view document, std::string reason, const MessageSink& sink) {
  MappedMessage msg;
  msg.position = "$";
  msg.unit = document;
  msg.errors.push_back(std::move(reason));
  sink(std::move(msg));
}

Status MappingTableError(std::string_view file, std::string_view path, std::string_view reason) {
  return Status::Invalid(std::string(file) + ": " + std::string(path) + ": " + std::string(reason));
}

Result<dom::object> ParseMappingTableRoot(dom::parser& parser, std::string_view json,
                                          std::string_view file, std::uint32_t* version) {
  dom::element root_el;
  if (auto err = parser.parse(json.data(), json.size()).get(root_el); err) {
    return MappingTableError(file, "$",
                             std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  dom::object root;
  if (root_el.get(root)) return MappingTableError(file, "$", "expected an object");
  std::uint64_t v = 0;
  if (root["version"].get(v) || v == 0 || v > 0xffffffffu) {
    return MappingTableError(file, "$.version", "required positive integer");
  }
  *version = static_cast<std::uint32_t>(v);
  return root;
}

}  // namespace waybill::ingest
