// `waybill import --format canonical`: NDJSON canonical events, one JSON object a line.
//
// Each line is one event. The file is kept for audit as raw messages of whole lines (one per
// batch, byte for byte); a line that does not parse or validate is stored as a dead letter
// with its line number and reason. A bad line never stops the lines after it. Blank lines
// are skipped. The ledger assigns seq, recorded_at and the hashes; any
// such fields in the input are ignored (or refused, see refuse_ledger_fields). The principal
// is the caller's, never the input's. A whole ledger export is restored by chain_restore.h.
#pragma once

#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/append_pipeline.h"

namespace waybill::ingest {

// Messages longer than this are rejected (and kept whole as dead letters).
inline constexpr std::size_t kMaxCanonicalLineBytes = 1 << 20;

struct ImportContext {
  std::string origin;                  // reported as "file" in rejects
  std::optional<std::string> partner;  // recorded on dead letters
  std::string principal;               // the authenticated principal appending
  std::size_t batch_events = 1000;     // lines per AppendBatch
  // Offline CLI import of a file whose first line is plain: a later line that carries
  // ledger fields (a piece of a ledger export) is dead-lettered instead of being re-chained
  // silently (chain_restore.h restores whole exports). HTTP and NATS leave this off: their
  // contract is that the ledger assigns ledger fields, ignoring any in the input.
  bool refuse_ledger_fields = false;
};

// Reads every line of `in` and submits it through `pipeline`. IoError when reading fails;
// rejections are not errors (they are counted by the pipeline's summary).
[[nodiscard]] Status ImportCanonicalStream(std::istream& in, const ImportContext& ctx,
                                           AppendPipeline& pipeline);

// The same over a buffer already in memory (NATS and HTTP bodies, inbox files, tests). A
// buffer that is exactly one JSON object spread over several lines (pretty-printed) is one
// event, kept byte for byte as its raw message.
[[nodiscard]] Status ImportCanonicalBuffer(std::string_view data, const ImportContext& ctx,
                                           AppendPipeline& pipeline);

}  // namespace waybill::ingest
