#include "ingest/x12/x12_sets.h"
#include "schemas/money.h"

namespace waybill::ingest::x12 {

Event NewEvent(const SetEnv& env, EventKind kind, SourceSystem system) {
  Event e;
  e.kind = kind;
  e.source.system = system;
  e.source.format = std::string(kFormat);
  e.source.partner = env.partner;
  return e;
}

void AddReference(std::vector<Reference>* refs, std::string_view type, std::string_view value) {
  for (const Reference& r : *refs) {
    if (r.type == type && r.value == value) return;
  }
  refs->push_back(Reference{std::string(type), std::string(value)});
}

namespace {

void ReadPair(SetReader& r, std::size_t seg, std::size_t value_pos, std::size_t type_pos,
              std::vector<Reference>* refs) {
  const bool has_value = !r.Get(seg, value_pos).empty();
  const bool has_type = !r.Get(seg, type_pos).empty();
  if (!has_value && !has_type) return;  // a segment with only a description
  const std::string_view value = r.Text(seg, value_pos, 1, 30, true, "reference identification");
  const std::string_view type = r.Text(seg, type_pos, 2, 3, true, "reference qualifier");
  if (!value.empty() && !type.empty()) AddReference(refs, type, value);
}

}  // namespace

void ReadL11(SetReader& r, std::size_t seg, std::vector<Reference>* refs) {
  ReadPair(r, seg, 1, 2, refs);
}

void ReadN9(SetReader& r, std::size_t seg, std::vector<Reference>* refs) {
  ReadPair(r, seg, 2, 1, refs);
}

std::string CountryAlpha2(SetReader& r, std::size_t seg, std::size_t pos) {
  const std::string_view v = r.Text(seg, pos, 2, 3, false, "country code");
  if (v.empty()) return {};
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (v.size() == 2 && upper(v[0]) && upper(v[1])) return std::string(v);
  // X12 element 26 allows 3 characters; the ISO alpha-3 codes of the NAFTA countries are the
  // ones seen in practice. Anything else is rejected rather than guessed.
  if (v == "USA") return "US";
  if (v == "CAN") return "CA";
  if (v == "MEX") return "MX";
  r.Error(seg, pos, Quote(v) + " is not an ISO 3166-1 alpha-2 country code (or USA, CAN, MEX)");
  return {};
}

std::optional<std::int64_t> N2ToMinor(SetReader& r, std::size_t seg, std::size_t pos,
                                      std::int64_t hundredths, std::string_view currency) {
  const auto exponent = CurrencyExponent(currency);
  if (!exponent) {
    r.Error(seg, pos, "amount in unknown currency " + Quote(currency));
    return std::nullopt;
  }
  std::int64_t v = hundredths;
  if (*exponent >= 2) {
    for (int i = 2; i < *exponent; ++i) v *= 10;  // N2 has at most 12 digits: no overflow
    return v;
  }
  std::int64_t div = 1;
  for (int i = *exponent; i < 2; ++i) div *= 10;
  if (v % div != 0) {
    r.Error(seg, pos,
            "N2 amount " + FormatMoney(hundredths, "USD") + " has a fraction that " +
                std::string(currency) + " (" + std::to_string(*exponent) +
                " decimals) cannot hold");
    return std::nullopt;
  }
  return v / div;
}

std::string DefaultCurrency(const SetEnv& env) {
  if (env.clock.profile != nullptr && env.clock.profile->default_currency) {
    return *env.clock.profile->default_currency;
  }
  return "USD";
}

std::optional<ParsedTime> ResolveTime(const SetEnv& env, SetReader& r, std::size_t seg,
                                      std::size_t date_pos, std::size_t code_pos,
                                      const CivilDate& date, const ClockTime& time,
                                      std::string_view code) {
  auto rule = RuleForCode(*env.tables, code, env.clock);
  if (!rule.ok()) {
    r.Error(seg, code_pos, rule.status().message());
    return std::nullopt;
  }
  auto t = ApplyRule(*rule, date, time);
  if (!t.ok()) {
    r.Error(seg, date_pos, t.status().message());
    return std::nullopt;
  }
  return *t;
}

}  // namespace waybill::ingest::x12
