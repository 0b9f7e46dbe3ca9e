// Where intake finds partner profiles and mapping files: explicit settings, else the data
// dir's own `partners.json` and `mappings/` when they exist (docs/ingest.md). Shared by
// `waybill import`, `waybill serve` (NATS, HTTP) and the folder inbox.
#pragma once

#include <string>
#include <vector>

#include "ingest/adapter_registry.h"
#include "ingest/partner_profiles.h"

namespace waybill::ingest {

// Reference data every intake channel maps with. A plain value: load once, then share it
// read-only between threads.
struct IntakeConfig {
  PartnerProfiles profiles;
  AdapterOptions adapters;
};

// `partners_file` empty: DATA_DIR/partners.json if present. `mapping_dirs` empty:
// DATA_DIR/mappings if present. Errors name the file and the problem. Safe from any thread.
[[nodiscard]] Result<IntakeConfig> LoadIntakeConfig(const std::string& data_dir,
                                                    const std::string& partners_file,
                                                    const std::vector<std::string>& mapping_dirs);

}  // namespace waybill::ingest
