// Imports one document (a file's contents, an HTTP body, a NATS message) through an Adapter:
// keeps each message's unit as a raw message, stamps the events with its hash and the
// principal, appends them, and stores every rejected message as a dead letter with all its
// reasons. Nothing is dropped and nothing of a rejected message is applied.
//
// Thread-safety: one call per thread; the adapter and pipeline belong to the caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ingest/adapter.h"
#include "ingest/append_pipeline.h"

namespace waybill::ingest {

struct DocumentContext {
  std::string origin;                         // "file.x12", "http", "nats": reported as "file"
  std::optional<std::string> partner;         // as the channel states it
  std::string principal;                      // the authenticated principal appending
  const PartnerProfiles* profiles = nullptr;  // may be null: no profiles
  std::size_t batch_events = 1000;            // events per AppendBatch
};

// Maps `document` with `adapter` and submits the outcome through `pipeline`. Rejections are
// not errors: they are counted in the pipeline's summary, with their positions.
void ImportDocument(Adapter& adapter, std::string_view document, const DocumentContext& ctx,
                    AppendPipeline& pipeline);

}  // namespace waybill::ingest
