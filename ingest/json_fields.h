// Helpers shared by the JSON adapters (dcsa-tnt, epcis) and their mapping tables: reading
// fields of a simdjson DOM object with errors that name the JSON path, and loading the
// embedded mapping tables. Thread-safety: pure functions; a Problems is used by one thread.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/adapter.h"
#include "schemas/embedded_data.h"
#include "schemas/event.h"
#include "schemas/event_validate.h"
#include "schemas/result.h"

namespace waybill::ingest {

// ---------------------------------------------------------------------------------------------
// Error text.

// `s` as it goes into a problem message: in double quotes, control bytes (< 0x20, 0x7f)
// replaced by '?', only the first 80 bytes shown ("..." added before the closing quote when
// cut). Nothing is escaped otherwise.
std::string QuoteJsonValue(std::string_view s);

// The type of a DOM element with its article, for "expected ..., got <this>": "an array",
// "an object", "a string", "a boolean", "null", or "a number" (any numeric type).
const char* DomTypeName(simdjson::dom::element_type t);

// `s` without leading and trailing JSON white space (space, tab, line feed, carriage return).
std::string_view TrimJsonSpace(std::string_view s);

// `parent` + "." + `key`.
std::string JoinPath(std::string_view parent, std::string_view key);

// `parent` + "[" + `i` + "]".
std::string IndexPath(std::string_view parent, std::size_t i);

// The errors of one message, each "<path>: <reason>", appended to a vector the caller owns
// (which must outlive this object).
class Problems {
 public:
  explicit Problems(std::vector<std::string>* out) : out_(out) {}
  void Add(std::string_view path, std::string_view reason) {
    std::string m(path);
    m += ": ";
    m += reason;
    out_->push_back(std::move(m));
  }
  // Whether the vector holds any error (including ones that were there before).
  bool any() const { return !out_->empty(); }

 private:
  std::vector<std::string>* out_;
};

// The reason `v` is not a usable identifier of at most `max` bytes ("is N bytes long, at most
// M are allowed", "must not contain control characters"), or empty when it is. An empty `v`
// is not a problem here.
std::string IdProblem(std::string_view v, std::size_t max = kMaxIdLength);

// ---------------------------------------------------------------------------------------------
// Field readers. Errors go to `p` at path `parent`.`key`.

// A string field: nullopt when absent, null or ""; a value of another type adds "expected a
// string, got <type>" and gives nullopt.
std::optional<std::string_view> ReadString(simdjson::dom::object o, std::string_view key,
                                           std::string_view parent, Problems* p);

// ReadString, and the value must also pass IdProblem(value, max); when it does not, the
// problem is added and nullopt returned.
std::optional<std::string_view> ReadId(simdjson::dom::object o, std::string_view key,
                                       std::string_view parent, Problems* p,
                                       std::size_t max = kMaxIdLength);

// Appends {type, value} to `refs` unless an equal reference is already there.
void AddReference(std::vector<Reference>* refs, std::string_view type, std::string_view value);

// ---------------------------------------------------------------------------------------------
// Documents.

// Copies `document` into `*buf`, growing it to at least document.size() + SIMDJSON_PADDING
// bytes, and zeroes the padding after it: the form both simdjson parsers read in place.
void CopyPadded(std::string_view document, std::vector<char>* buf);

// Appends to `*spans` the original text of each element of `arr`, trimmed of JSON white space,
// as views into `document`. `arr` comes from an On-Demand iteration over `padded`, a padded
// copy of `document` (same offsets). Returns false on the first On-Demand error; `*spans`
// then holds the elements read so far.
bool AppendElementSpans(simdjson::ondemand::array& arr, std::string_view document,
                        const char* padded, std::vector<std::string_view>* spans);

// Sends one rejected message for the whole document: position "$", unit `document`, and
// `reason` as its only error.
void RejectDocument(std::string_view document, std::string reason, const MessageSink& sink);

// ---------------------------------------------------------------------------------------------
// Mapping tables (schemas/mappings/*.json).

// The error "<file>: <path>: <reason>" (invalid argument) for a mapping table.
Status MappingTableError(std::string_view file, std::string_view path, std::string_view reason);

// Parses `json`, the mapping table `file`, with `parser` and returns its root object, with its
// "version" (a positive integer that fits in 32 bits) in `*version`. Errors, via
// MappingTableError: "$: not valid JSON: ...", "$: expected an object", "$.version: required
// positive integer". The object is valid as long as `parser` is not reused.
Result<simdjson::dom::object> ParseMappingTableRoot(simdjson::dom::parser& parser,
                                                    std::string_view json, std::string_view file,
                                                    std::uint32_t* version);

// The embedded mapping table `file` parsed with `parse`, or NotFound "<file> is not embedded
// in this build".
template <typename T>
Result<T> ParseEmbeddedMappingTable(std::string_view file, Result<T> (*parse)(std::string_view)) {
  auto text = EmbeddedFile(file);
  if (!text) return Status::NotFound(std::string(file) + " is not embedded in this build");
  return parse(*text);
}

}  // namespace waybill::ingest
