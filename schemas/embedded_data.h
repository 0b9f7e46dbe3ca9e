// Data files from schemas/ compiled into the binary: mapping tables (mappings/*.json) and
// declarative ERP/TMS mapping files. The binary therefore works from any directory; a
// deployment can add or override mapping files at run time (see docs/ingest.md).
// Thread-safety: immutable data.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace waybill {

// The contents of schemas/<name> as built (e.g. "mappings/x12-214-status.json"), or nullopt.
std::optional<std::string_view> EmbeddedFile(std::string_view name);

// Every embedded file's name, in build order.
std::vector<std::string_view> EmbeddedFileNames();

}  // namespace waybill
