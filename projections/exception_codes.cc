#include "projections/exception_codes.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "schemas/embedded_data.h"

namespace waybill::projections {
namespace {

constexpr std::string_view kX12StatusFile = "mappings/x12-214-status.json";

// The "exception" codes of the embedded X12 214 table, sorted. The table ships inside the
// binary and is tested, so a table that does not parse is a build defect: fail loudly
// rather than silently listing no exceptions.
std::vector<std::string> LoadX12ExceptionCodes() {
  std::vector<std::string> codes;
  const std::optional<std::string_view> json = EmbeddedFile(kX12StatusFile);
  simdjson::dom::parser parser;
  simdjson::dom::object table;
  if (!json || parser.parse(json->data(), json->size()).get_object()["codes"].get(table)) {
    std::fprintf(stderr, "waybill: embedded %s is missing or has no \"codes\" object\n",
                 std::string(kX12StatusFile).c_str());
    std::abort();
  }
  for (auto field : table) {
    std::string_view cls;
    if (!field.value["class"].get(cls) && cls == "exception") {
      codes.emplace_back(field.key);
    }
  }
  std::sort(codes.begin(), codes.end());
  return codes;
}

}  // namespace

bool IsX12ExceptionCode(std::string_view code) {
  static const std::vector<std::string> codes = LoadX12ExceptionCodes();
  return std::binary_search(codes.begin(), codes.end(), code,
                            [](std::string_view a, std::string_view b) { return a < b; });
}

bool IsExceptionEvent(const Event& e) {
  if (e.kind != EventKind::kMilestone || e.status) return false;
  if (e.reason_code) return true;
  return e.source_code && e.source.format == "x12" && IsX12ExceptionCode(*e.source_code);
}

}  // namespace waybill::projections
