// Where the CLI finds partner profiles and mapping files: explicit flags, else the data
// dir's own `partners.json` and `mappings/` when they exist (docs/ingest.md).
#pragma once

#include <string>
#include <vector>

#include "ingest/adapter_registry.h"
#include "ingest/partner_profiles.h"

namespace waybill::cli {

struct IngestConfig {
  ingest::PartnerProfiles profiles;
  ingest::AdapterOptions adapters;
};

// `partners_file` empty: DATA_DIR/partners.json if present. `mapping_dirs` empty:
// DATA_DIR/mappings if present. Errors name the file and the problem.
[[nodiscard]] Result<IngestConfig> LoadIngestConfig(const std::string& data_dir,
                                                    const std::string& partners_file,
                                                    const std::vector<std::string>& mapping_dirs);

}  // namespace waybill::cli
