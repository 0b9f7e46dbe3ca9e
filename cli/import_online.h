// `waybill import --server URL`: the files go to POST /v1/ingest/{format}.
//
// canonical (NDJSON): each file is sent in order in chunks of whole lines, at most
// kChunkLines lines and kChunkBytes bytes (a longer single line goes alone); chunks of
// blank lines only are skipped. Other formats: one file per request. Every request carries
// Idempotency-Key "waybill-import-" + hex SHA-256 of (format, partner, body), so an import
// that is run again after a failure (or a request retried after a timeout) is answered
// from the server's record of the first one instead of being applied twice; events such a
// replay reports as accepted were accepted by the earlier run and are counted here as
// duplicates, as a repeated offline import would. 409 (the same chunk still in flight) and
// 503 are retried with a pause; 429 waits for Retry-After (ServerSession).
//
// Prints the same summary line as the offline import, the server's dead-letter ids in the
// rejects, with line numbers counted in the file (not the chunk). Exit codes as offline:
// 0, 3 when anything was rejected, 1 for an unreadable file, a refused request or a lost
// server (after printing the summary of what did land).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cli/online.h"

namespace waybill::cli {

inline constexpr std::size_t kChunkLines = 1000;
inline constexpr std::size_t kChunkBytes = 4u << 20;

struct ImportRequest {
  std::string format;
  std::string partner;             // "" when none; sent as Waybill-Partner
  std::vector<std::string> files;  // "-" is stdin; all already checked to be readable
};

int ImportOnline(const ImportRequest& request, const OnlineOptions& online,
                 const std::string& data_dir);

}  // namespace waybill::cli
