// ERP and TMS JSON through declarative mapping files: a new source needs a mapping file in
// schemas/mappings/, not code. The language is described in docs/mapping-files.md and
// schemas/mapping.schema.json; the shipped files are sap-s4-delivery.json (SAP S/4HANA
// outbound delivery CloudEvents) and d365-sales-order.json (Dynamics 365 business events).
//
// A mapping adapter splits the document into messages as the file's "input" says (one object,
// an array of objects, or NDJSON lines), and for every message applies each event template
// whose condition holds. Message positions are "$" (one object), "$[2]" (array element) and
// "line 3" (NDJSON); errors name the input JSON path (`$.data.DeliveryDocument: required,
// missing`, `$[2].EventTime: ...`, `line 3: $.EventId: ...`).
//
// Thread-safety: the factory functions are safe to call from any thread; each adapter they
// return is used by one thread at a time (see ingest/adapter.h). Compiled mapping files are
// immutable and shared between the adapters made from them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/adapter.h"
#include "schemas/result.h"

namespace waybill::ingest {

// Compiles a mapping file's contents into an adapter whose format() is the file's "format".
// Errors name the mapping file's JSON path and the reason (`$.events[0].occurred_at.time:
// unknown time format "iso" (expected one of rfc3339, ms-date, epoch-ms, date)`); a newer
// language version is kUnsupported.
[[nodiscard]] Result<std::unique_ptr<Adapter>> MakeMappingAdapter(
    std::string_view mapping_file_json);

// Format names of the mapping files compiled into the binary: every embedded
// "mappings/*.json" whose top-level "kind" is "mapping" (other files there are code tables of
// other adapters), in file name order.
std::vector<std::string> EmbeddedMappingFormats();

// An adapter for the embedded mapping file whose "format" is `format`; kNotFound when there
// is none. Each embedded file is compiled once per process.
[[nodiscard]] Result<std::unique_ptr<Adapter>> MakeEmbeddedMappingAdapter(std::string_view format);

}  // namespace waybill::ingest
