// Helpers for the X12 adapter tests: fixture loading, running the adapter, building small
// interchanges with correct counts and control numbers.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/adapter.h"
#include "ingest/partner_profiles.h"
#include "ingest/x12/x12_adapter.h"

namespace waybill::ingest::x12_test {

inline std::string Fixture(const std::string& name) {
  const char* dir = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "WAYBILL_SOURCE_DIR is not set (run through ctest)");
  const std::string path = std::string(dir) + "/tests/fixtures/x12/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline PartnerProfiles AcmeProfiles() {
  PartnerProfiles p;
  PartnerProfile acme;
  acme.id = "ACME";
  acme.aliases = {"ACMEFREIGHT"};
  acme.name = "Acme Freight";
  acme.time_zone = "America/Chicago";
  acme.default_currency = "USD";
  p.Add(acme);
  return p;
}

// Runs the adapter over `doc` (which must outlive the returned units).
inline std::vector<MappedMessage> MapX12(std::string_view doc, const PartnerProfiles& profiles,
                                         std::optional<std::string> partner = std::nullopt) {
  auto adapter = MakeX12Adapter();
  AdapterContext ctx;
  ctx.partner = std::move(partner);
  ctx.profiles = &profiles;
  std::vector<MappedMessage> out;
  adapter->Map(doc, ctx, [&](MappedMessage&& m) { out.push_back(std::move(m)); });
  return out;
}

inline std::vector<MappedMessage> MapX12(std::string_view doc) {
  static const PartnerProfiles kNone;
  return MapX12(doc, kNone);
}

inline bool HasError(const MappedMessage& m, const std::string& text) {
  for (const std::string& e : m.errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

inline std::string Errors(const MappedMessage& m) {
  std::string s;
  for (const std::string& e : m.errors) s += e + "\n";
  return s;
}

// Builds "ISA..IEA" with '*' '~' and a newline after each segment. `sets` are transaction
// sets given as their body segments (without ST/SE), each with its ST01.
struct SetSpec {
  std::string st01;
  std::vector<std::string> body;  // "B10*PRO*SHIP*ACME"
};

inline std::string Isa(const std::string& sender, const std::string& ctrl) {
  std::string s = sender;
  s.resize(15, ' ');
  return "ISA*00*          *00*          *ZZ*" + s + "*ZZ*WAYBILL        *250310*1500*U*00401*" +
         ctrl + "*0*P*>~\n";
}

inline std::string Interchange(const std::vector<SetSpec>& sets,
                               const std::string& sender = "ACMEFREIGHT",
                               const std::string& ctrl = "000000001",
                               const std::string& gs_date = "20250310",
                               const std::string& gs_time = "1500") {
  std::string out = Isa(sender, ctrl);
  out += "GS*QM*" + sender + "*WAYBILL*" + gs_date + "*" + gs_time + "*1*X*004010~\n";
  int n = 0;
  for (const SetSpec& s : sets) {
    ++n;
    std::string num = std::to_string(n);
    while (num.size() < 4) num.insert(num.begin(), '0');
    out += "ST*" + s.st01 + "*" + num + "~\n";
    for (const std::string& seg : s.body) out += seg + "~\n";
    out += "SE*" + std::to_string(s.body.size() + 2) + "*" + num + "~\n";
  }
  out += "GE*" + std::to_string(sets.size()) + "*1~\n";
  out += "IEA*1*" + ctrl + "~\n";
  return out;
}

}  // namespace waybill::ingest::x12_test
