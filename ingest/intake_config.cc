#include "ingest/intake_config.h"

#include <filesystem>

namespace waybill::ingest {

Result<IntakeConfig> LoadIntakeConfig(const std::string& data_dir, const std::string& partners_file,
                                      const std::vector<std::string>& mapping_dirs) {
  namespace fs = std::filesystem;
  IntakeConfig config;
  std::string partners = partners_file;
  std::error_code ec;
  if (partners.empty() && fs::exists(fs::path(data_dir) / "partners.json", ec)) {
    partners = (fs::path(data_dir) / "partners.json").string();
  }
  if (!partners.empty()) {
    auto loaded = PartnerProfiles::Load(partners);
    if (!loaded.ok()) return loaded.status();
    config.profiles = std::move(loaded).value();
  }
  config.adapters.mapping_dirs = mapping_dirs;
  if (mapping_dirs.empty() && fs::is_directory(fs::path(data_dir) / "mappings", ec)) {
    config.adapters.mapping_dirs.push_back((fs::path(data_dir) / "mappings").string());
  }
  return config;
}

}  // namespace waybill::ingest
