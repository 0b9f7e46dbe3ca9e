// Log output of `waybill serve`: spdlog, as text lines or JSON lines.
//
// Text:  2026-11-27T10:00:00.123+0000 info appended event e-1 order=SO-1 shipment=SHP-1 at seq 41
// JSON:  {"ts":"2026-11-27T10:00:00.123Z","level":"info","msg":"appended event e-1 ...",
//         "order":"SO-1","shipment":"SHP-1"}
// Lines about a shipment carry its correlation tag (schemas/correlation.h); in JSON the tag's
// order and shipment also become fields, so log pipelines can index them.
// Thread-safety: call ConfigureLogging once at start, before other threads log.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string_view>

#include "schemas/result.h"

namespace waybill::server {

// `format`: "text" or "json"; `level`: trace, debug, info, warn, error. InvalidArgument
// naming the value otherwise.
[[nodiscard]] Status ConfigureLogging(std::string_view format, std::string_view level);

// The JSON-lines formatter (exposed for tests).
std::unique_ptr<spdlog::formatter> MakeJsonFormatter();

}  // namespace waybill::server
