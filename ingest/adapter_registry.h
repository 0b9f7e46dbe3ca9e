// Adapters by format name: the built-in formats (canonical, x12, dcsa-tnt, epcis) and every
// declarative mapping file (the ones compiled in from schemas/mappings/, then any in the
// configured mapping directories, which override compiled-in ones of the same format).
// Thread-safety: the functions are safe to call from any thread; each returns a new adapter.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/adapter.h"
#include "schemas/result.h"

namespace waybill::ingest {

struct AdapterOptions {
  // Directories searched for mapping files (*.json with "kind": "mapping"), in order.
  std::vector<std::string> mapping_dirs;
};

// Every format name MakeAdapter accepts, sorted.
std::vector<std::string> KnownFormats(const AdapterOptions& options = {});

// A new adapter for `format`. NotFound lists the known formats; Invalid when a mapping file
// for that format fails to load (the message names the file and the JSON path).
[[nodiscard]] Result<std::unique_ptr<Adapter>> MakeAdapter(std::string_view format,
                                                           const AdapterOptions& options = {});

}  // namespace waybill::ingest
