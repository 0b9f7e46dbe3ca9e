// The mapping adapter: document -> messages (object, array elements or NDJSON lines) ->
// MessageMapper; plus the registry of mapping files embedded in the binary.
//
// Input decisions:
//  - A UTF-8 byte order mark at the start of the document is skipped (Windows tools emit one).
//  - "auto": a document starting with '[' is an array; a document with several non-blank lines
//    whose first line is a complete JSON value on its own, or looks like one object ("{...}",
//    so a broken first line is rejected alone), is NDJSON; anything else is one object (a
//    pretty-printed object spans lines but its first line is "{" or ends in ',').
//  - An array is checked whole before any element is mapped: a syntax error anywhere rejects
//    the whole document as one message (position "$"), since JSON cannot resynchronise and a
//    dead letter must hold something that can be retried. "[]" yields no message.
//  - An NDJSON line is its own message: a broken line is rejected alone ("line 3"), blank lines
//    are skipped. A document without any message (empty, only whitespace) is rejected.
#include "ingest/mapping/mapping_adapter.h"

#include <simdjson.h>

#include <exception>

#include "ingest/mapping/json_tree.h"
#include "ingest/mapping/mapping_file.h"
#include "ingest/mapping/message_mapper.h"
#include "schemas/embedded_data.h"

namespace waybill::ingest {
namespace {

using mapping::CompiledMapping;
using mapping::InputShape;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

class MappingAdapter final : public Adapter {
 public:
  explicit MappingAdapter(std::shared_ptr<const CompiledMapping> mapping)
      : mapping_(std::move(mapping)), mapper_(*mapping_) {}

  std::string_view format() const override { return mapping_->format; }

  void Map(std::string_view document, const AdapterContext& ctx, const MessageSink& sink) override {
    try {
      MapDocument(document, ctx, sink);
    } catch (const std::exception& e) {
      Reject(document, "$", std::string("$: internal error: ") + e.what(), sink);
    }
  }

 private:
  static void Reject(std::string_view unit, std::string position, std::string error,
                     const MessageSink& sink) {
    MappedMessage m;
    m.position = std::move(position);
    m.unit = unit;
    m.errors.push_back(std::move(error));
    sink(std::move(m));
  }

  InputShape Detect(std::string_view doc) {
    std::string_view rest = Trim(doc);
    if (rest.empty()) return InputShape::kObject;
    if (rest.front() == '[') return InputShape::kArray;
    const std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos || Trim(rest.substr(nl)).empty()) return InputShape::kObject;
    // A first line that is a whole object: "{...}" (even a broken one) or any complete value.
    // A pretty-printed object's first line is "{" or ends in ',' / '['.
    const std::string_view first = Trim(rest.substr(0, nl));
    if (first.size() >= 2 && first.front() == '{' && first.back() == '}')
      return InputShape::kNdjson;
    return parser_.ParseOne(first, &tree_).ok() ? InputShape::kNdjson : InputShape::kObject;
  }

  // One message: parse, map, hand over.
  void MapMessage(std::string_view unit, std::string position, std::string_view error_prefix,
                  const AdapterContext& ctx, const MessageSink& sink) {
    MappedMessage m;
    m.position = std::move(position);
    m.unit = unit;
    Status st = parser_.ParseOne(unit, &tree_);
    if (!st.ok()) {
      m.errors.push_back(std::string(error_prefix) + "$: " + st.message());
    } else {
      mapper_.Map(tree_, "$", error_prefix, ctx, &m);
    }
    sink(std::move(m));
  }

  void MapDocument(std::string_view document, const AdapterContext& ctx, const MessageSink& sink) {
    std::string_view doc = document;
    if (doc.substr(0, 3) == "\xEF\xBB\xBF") doc.remove_prefix(3);
    InputShape shape = mapping_->input;
    if (shape == InputShape::kAuto) shape = Detect(doc);
    if (Trim(doc).empty()) {
      Reject(document, "$", "$: empty document", sink);
      return;
    }
    switch (shape) {
      case InputShape::kObject:
      case InputShape::kAuto:
        MapMessage(doc, "$", "", ctx, sink);
        return;
      case InputShape::kArray: {
        Status st = parser_.ForEachElement(
            doc, [&](std::size_t index, std::string_view unit, const mapping::JsonTree& tree) {
              MappedMessage m;
              m.position = "$[" + std::to_string(index) + "]";
              m.unit = unit;
              mapper_.Map(tree, m.position, "", ctx, &m);
              sink(std::move(m));
            });
        if (!st.ok()) {
          const bool has_path = !st.message().empty() && st.message()[0] == '$';
          Reject(document, "$", has_path ? st.message() : "$: " + st.message(), sink);
        }
        return;
      }
      case InputShape::kNdjson: {
        std::size_t line_no = 0;
        std::size_t pos = 0;
        while (pos <= doc.size()) {
          std::size_t nl = doc.find('\n', pos);
          if (nl == std::string_view::npos) nl = doc.size();
          ++line_no;
          std::string_view line = Trim(doc.substr(pos, nl - pos));
          pos = nl + 1;
          if (line.empty()) continue;
          const std::string where = "line " + std::to_string(line_no);
          MapMessage(line, where, where + ": ", ctx, sink);
        }
        return;
      }
    }
  }

  std::shared_ptr<const CompiledMapping> mapping_;
  mapping::MessageMapper mapper_;
  mapping::JsonTreeParser parser_;
  mapping::JsonTree tree_;
};

struct EmbeddedMapping {
  std::string format;
  std::string file;  // "mappings/sap-s4-delivery.json"
  Status status;     // the compile error, if any
  std::shared_ptr<const CompiledMapping> compiled;
};

// Every embedded mapping file, compiled once (thread-safe static initialisation).
const std::vector<EmbeddedMapping>& EmbeddedMappings() {
  static const std::vector<EmbeddedMapping> mappings = [] {
    std::vector<EmbeddedMapping> out;
    simdjson::dom::parser parser;
    for (std::string_view name : EmbeddedFileNames()) {
      if (name.substr(0, 9) != "mappings/") continue;
      std::optional<std::string_view> data = EmbeddedFile(name);
      if (!data) continue;
      simdjson::dom::element root;
      std::string_view kind, format;
      if (parser.parse(data->data(), data->size()).get(root) || root["kind"].get(kind) ||
          kind != "mapping" || root["format"].get(format)) {
        continue;  // a code table of another adapter
      }
      EmbeddedMapping m;
      m.format = std::string(format);
      m.file = std::string(name);
      auto compiled = mapping::CompileMapping(*data);
      if (compiled.ok()) {
        m.compiled = *compiled;
      } else {
        m.status = Status(compiled.status().code(), m.file + ": " + compiled.status().message());
      }
      out.push_back(std::move(m));
    }
    return out;
  }();
  return mappings;
}

}  // namespace

Result<std::unique_ptr<Adapter>> MakeMappingAdapter(std::string_view mapping_file_json) {
  auto compiled = mapping::CompileMapping(mapping_file_json);
  if (!compiled.ok()) return compiled.status();
  return std::unique_ptr<Adapter>(std::make_unique<MappingAdapter>(*compiled));
}

std::vector<std::string> EmbeddedMappingFormats() {
  std::vector<std::string> formats;
  for (const EmbeddedMapping& m : EmbeddedMappings()) formats.push_back(m.format);
  return formats;
}

Result<std::unique_ptr<Adapter>> MakeEmbeddedMappingAdapter(std::string_view format) {
  std::string known;
  for (const EmbeddedMapping& m : EmbeddedMappings()) {
    if (m.format == format) {
      if (!m.status.ok()) return m.status;
      return std::unique_ptr<Adapter>(std::make_unique<MappingAdapter>(m.compiled));
    }
    known += (known.empty() ? "" : ", ") + m.format;
  }
  return Status::NotFound("no embedded mapping file for format \"" + std::string(format) +
                          "\" (embedded: " + (known.empty() ? "none" : known) + ")");
}

}  // namespace waybill::ingest
