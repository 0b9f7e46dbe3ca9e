#include "ingest/adapter_registry.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ingest/canonical_adapter.h"
#include "ingest/dcsa/dcsa_adapter.h"
#include "ingest/epcis/epcis_adapter.h"
#include "ingest/mapping/mapping_adapter.h"
#include "ingest/x12/x12_adapter.h"

namespace waybill::ingest {
namespace {

struct BuiltIn {
  const char* format;
  std::unique_ptr<Adapter> (*make)();
};

constexpr BuiltIn kBuiltIns[] = {
    {"canonical", MakeCanonicalAdapter},
    {"x12", MakeX12Adapter},
    {"dcsa-tnt", MakeDcsaTntAdapter},
    {"epcis", MakeEpcisAdapter},
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Mapping files in the configured directories: (path, adapter) for each that loads. Files
// that are not mapping files (no "kind":"mapping") are skipped silently; broken mapping
// files are reported by MakeAdapter when their format is asked for.
std::vector<std::pair<std::filesystem::path, std::string>> MappingFilesIn(
    const AdapterOptions& options) {
  std::vector<std::pair<std::filesystem::path, std::string>> out;
  for (const auto& dir : options.mapping_dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      std::string json = ReadFile(entry.path());
      if (json.find("\"mapping\"") == std::string::npos) continue;
      out.emplace_back(entry.path(), std::move(json));
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> KnownFormats(const AdapterOptions& options) {
  std::vector<std::string> formats;
  for (const auto& b : kBuiltIns) formats.emplace_back(b.format);
  for (auto& f : EmbeddedMappingFormats()) formats.push_back(f);
  for (const auto& [path, json] : MappingFilesIn(options)) {
    if (auto adapter = MakeMappingAdapter(json); adapter.ok()) {
      formats.emplace_back((*adapter)->format());
    }
  }
  std::sort(formats.begin(), formats.end());
  formats.erase(std::unique(formats.begin(), formats.end()), formats.end());
  return formats;
}

Result<std::unique_ptr<Adapter>> MakeAdapter(std::string_view format,
                                             const AdapterOptions& options) {
  for (const auto& b : kBuiltIns) {
    if (format == b.format) return b.make();
  }
  // A deployment's own mapping files win over the compiled-in ones.
  for (const auto& [path, json] : MappingFilesIn(options)) {
    auto adapter = MakeMappingAdapter(json);
    if (!adapter.ok()) {
      if (json.find("\"" + std::string(format) + "\"") != std::string::npos) {
        return Status::Invalid("mapping file " + path.string() + ": " + adapter.status().message());
      }
      continue;
    }
    if ((*adapter)->format() == format) return std::move(adapter).value();
  }
  for (const auto& f : EmbeddedMappingFormats()) {
    if (f == format) return MakeEmbeddedMappingAdapter(format);
  }
  std::string known;
  for (const auto& f : KnownFormats(options)) known += (known.empty() ? "" : ", ") + f;
  return Status::NotFound("unknown format \"" + std::string(format) + "\"; known: " + known);
}

}  // namespace waybill::ingest
