// The `canonical` format as an Adapter: NDJSON canonical events (one JSON object a line) in
// one document, for HTTP bodies, NATS messages and dead-letter retries. Each non-blank line
// is a message at position "line N" whose unit is the line itself. (File imports use the
// streaming reader in canonical_import.h, which never holds a whole file in memory.)
#pragma once

#include <memory>

#include "ingest/adapter.h"

namespace waybill::ingest {

std::unique_ptr<Adapter> MakeCanonicalAdapter();

}  // namespace waybill::ingest
