// Applies a compiled mapping's event templates to one parsed message (one JSON object).
//
// Every template whose "when" holds yields one canonical event. Every problem is collected
// (not just the first), each naming the input JSON path and the reason
// (`$.data.DeliveryDocument: required, missing`); a message with any problem keeps no event.
// A message that no template applies to is rejected too, so nothing is silently dropped.
//
// Internal to waybill_ingest_mapping. Thread-safety: a MessageMapper only reads its
// CompiledMapping and keeps no state between calls; use one per thread all the same.
#pragma once

#include <string_view>

#include "ingest/adapter.h"
#include "ingest/mapping/json_tree.h"
#include "ingest/mapping/mapping_file.h"

namespace waybill::ingest::mapping {

class MessageMapper {
 public:
  // `mapping` must outlive the mapper.
  explicit MessageMapper(const CompiledMapping& mapping) : mapping_(mapping) {}

  // Maps the message in `tree` (node 0 is its root), whose input JSON path is `base` ("$",
  // "$[3]"), appending to out->events or out->errors; `error_prefix` goes before every error
  // ("line 3: " for NDJSON, else empty).
  void Map(const JsonTree& tree, std::string_view base, std::string_view error_prefix,
           const AdapterContext& ctx, MappedMessage* out) const;

 private:
  const CompiledMapping& mapping_;
};

}  // namespace waybill::ingest::mapping
