#include "ingest/partner_profiles.h"

#include <date/tz.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "schemas/money.h"

namespace waybill::ingest {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool IsKnownZone(const std::string& zone) {
  try {
    return date::locate_zone(zone) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

void PartnerProfiles::Add(PartnerProfile profile) {
  const std::size_t index = profiles_.size();
  by_id_[profile.id] = index;
  for (const auto& alias : profile.aliases) by_id_[alias] = index;
  profiles_.push_back(std::move(profile));
}

const PartnerProfile* PartnerProfiles::Find(std::string_view id) const {
  auto it = by_id_.find(std::string(Trim(id)));
  return it == by_id_.end() ? nullptr : &profiles_[it->second];
}

Result<PartnerProfiles> PartnerProfiles::Parse(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err) {
    return Status::Invalid(std::string("partner profiles: not valid JSON: ") +
                           simdjson::error_message(err));
  }
  simdjson::dom::array partners;
  if (root["partners"].get(partners)) {
    return Status::Invalid("partner profiles: $.partners: expected an array of partners");
  }
  PartnerProfiles out;
  std::size_t i = 0;
  for (simdjson::dom::element p : partners) {
    const std::string path = "partner profiles: $.partners[" + std::to_string(i++) + "]";
    PartnerProfile profile;
    std::string_view s;
    if (p["id"].get(s) || Trim(s).empty()) return Status::Invalid(path + ".id: required string");
    profile.id = std::string(Trim(s));
    simdjson::dom::array aliases;
    if (!p["aliases"].get(aliases)) {
      for (simdjson::dom::element a : aliases) {
        if (a.get(s)) return Status::Invalid(path + ".aliases: expected strings");
        profile.aliases.emplace_back(Trim(s));
      }
    }
    if (!p["name"].get(s)) profile.name = std::string(s);
    if (!p["time_zone"].get(s)) {
      profile.time_zone = std::string(s);
      if (!IsKnownZone(*profile.time_zone)) {
        return Status::Invalid(path + ".time_zone: unknown IANA time zone \"" + *profile.time_zone +
                               "\"");
      }
    }
    if (!p["envelope_time_zone"].get(s)) {
      profile.envelope_time_zone = std::string(s);
      if (!IsKnownZone(profile.envelope_time_zone)) {
        return Status::Invalid(path + ".envelope_time_zone: unknown IANA time zone \"" +
                               profile.envelope_time_zone + "\"");
      }
    }
    if (!p["default_currency"].get(s)) {
      if (!CurrencyExponent(s)) {
        return Status::Invalid(path + ".default_currency: unknown ISO 4217 currency \"" +
                               std::string(s) + "\"");
      }
      profile.default_currency = std::string(s);
    }
    for (const std::string& key : [&] {
           std::vector<std::string> keys{profile.id};
           keys.insert(keys.end(), profile.aliases.begin(), profile.aliases.end());
           return keys;
         }()) {
      if (out.Find(key) != nullptr) {
        return Status::Invalid(path + ": id or alias \"" + key + "\" is already used");
      }
    }
    out.Add(std::move(profile));
  }
  return out;
}

Result<PartnerProfiles> PartnerProfiles::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read partner profiles " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto parsed = Parse(ss.str());
  if (!parsed.ok()) return Status::Invalid(path + ": " + parsed.status().message());
  return parsed;
}

}  // namespace waybill::ingest
