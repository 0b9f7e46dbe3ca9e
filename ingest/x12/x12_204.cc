// 204 Motor Carrier Load Tender.
//
//   B2   02 SCAC (carrier), 04 shipment id (required here)
//   B2A  01 set purpose: "01" (cancellation) -> a CANCELLED milestone instead of a tender
//   L11  references (heading and stop level)
//   S5   stop loops: 01 stop sequence, 02 stop reason (x12-204-stops.json: load/unload), with
//        N1/N3/N4 parties and G62 date/times
//   L1   charge lines: 04 charge (N2), 08 special charge code, 12 description
//   L3   05 total charge (N2)
// Event time: the GS date/time (envelope zone). Emits a kind "order" TENDERED event (ship_to
// and promised window from the last unloading stop) and, when L305 or L1 charges are given,
// a kind "charges" event with basis "quoted" in the partner's default currency (else USD).
#include <cstddef>
#include <string>
#include <vector>

#include "ingest/x12/x12_sets.h"
#include "schemas/money.h"

namespace waybill::ingest::x12 {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

struct Party {
  std::size_t n1 = kNone;
  std::size_t n3 = kNone;
  std::size_t n4 = kNone;
};

struct Stop {
  std::size_t s5 = kNone;
  std::vector<Party> parties;
  std::vector<std::size_t> g62s;
};

std::optional<Location> ReadParty(SetReader& r, const Party& p) {
  Location loc;
  const std::string_view name = r.Text(p.n1, 2, 1, 60, false, "name");
  if (!name.empty()) loc.name = std::string(name);
  if (p.n4 != kNone) {
    const std::string_view city = r.Text(p.n4, 1, 2, 30, false, "city name");
    const std::string_view state = r.Text(p.n4, 2, 2, 2, false, "state or province code");
    std::string country = CountryAlpha2(r, p.n4, 4);
    if (!city.empty()) loc.city = std::string(city);
    if (!state.empty()) loc.region = std::string(state);
    if (!country.empty()) loc.country = std::move(country);
  }
  if (loc == Location{}) return std::nullopt;
  return loc;
}

// The delivery window of a stop from its G62 segments (roles in x12-204-stops.json). The
// first G62 of each role wins; "at" fills whichever bound is still open.
std::optional<Promise> ReadWindow(const SetEnv& env, SetReader& r, const Stop& stop) {
  Promise p;
  for (std::size_t g : stop.g62s) {
    const std::string_view date_q = r.Text(g, 1, 2, 2, false, "date qualifier");
    const std::string_view time_q = r.Text(g, 3, 1, 2, false, "time qualifier");
    std::optional<WindowRole> role;
    if (auto it = env.tables->time_qualifiers.find(time_q);
        !time_q.empty() && it != env.tables->time_qualifiers.end()) {
      role = it->second;
    } else if (auto it2 = env.tables->date_qualifiers.find(date_q);
               !date_q.empty() && it2 != env.tables->date_qualifiers.end()) {
      role = it2->second;
    }
    if (!role) continue;
    const auto date = r.Date(g, 2, true, "date of a delivery window");
    const auto time = r.Time(g, 4, false, "time");
    const std::string_view code = r.Text(g, 5, 2, 2, false, "time code");
    if (!date) continue;
    if (!time) {
      if (!r.Get(g, 4).empty()) continue;  // invalid time, already reported
      // A date alone: the whole day, or the promised calendar date.
      if (*role == WindowRole::kAt) {
        if (!p.date) p.date = FormatDate(*date);
        continue;
      }
      const ClockTime bound =
          *role == WindowRole::kStart ? ClockTime{0, 0, 0, 0} : ClockTime{23, 59, 59, 0};
      const auto t = ResolveTime(env, r, g, 2, 5, *date, bound, code);
      if (!t) continue;
      auto& slot = *role == WindowRole::kStart ? p.window_start : p.window_end;
      if (!slot) slot = t->utc;
      continue;
    }
    const auto t = ResolveTime(env, r, g, 2, 5, *date, *time, code);
    if (!t) continue;
    if (*role == WindowRole::kStart || *role == WindowRole::kAt) {
      if (!p.window_start) p.window_start = t->utc;
    }
    if (*role == WindowRole::kEnd || *role == WindowRole::kAt) {
      if (!p.window_end) p.window_end = t->utc;
    }
  }
  if (p == Promise{}) return std::nullopt;
  return p;
}

}  // namespace

void Map204(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out) {
  std::size_t b2 = kNone;
  std::size_t b2a = kNone;
  std::size_t l3 = kNone;
  std::vector<std::size_t> l1s;
  std::vector<Reference> refs;
  std::vector<Stop> stops;
  for (std::size_t i = r.begin(); i < r.end(); ++i) {
    const std::string_view id = r.Id(i);
    if (id == "B2") {
      if (b2 != kNone) {
        r.Error(i, 0, "B2 appears more than once");
      } else {
        b2 = i;
      }
    } else if (id == "B2A") {
      if (b2a == kNone) b2a = i;
    } else if (id == "L11") {
      ReadL11(r, i, &refs);
    } else if (id == "S5") {
      stops.push_back(Stop{i, {}, {}});
    } else if (id == "N1") {
      if (!stops.empty()) stops.back().parties.push_back(Party{i});
    } else if (id == "N3" || id == "N4") {
      if (!stops.empty() && !stops.back().parties.empty()) {
        Party& p = stops.back().parties.back();
        (id == "N3" ? p.n3 : p.n4) = i;
      }
    } else if (id == "G62") {
      if (!stops.empty()) stops.back().g62s.push_back(i);
    } else if (id == "L1") {
      l1s.push_back(i);
    } else if (id == "L3") {
      l3 = i;
    }
  }
  if (b2 == kNone) {
    r.MissingSegment("B2", "beginning segment for shipment information");
    return;
  }
  const std::string_view scac = r.Text(b2, 2, 2, 4, false, "SCAC");
  const std::string_view shipment = r.Text(b2, 4, 1, 30, true, "shipment identification number");
  const std::string_view purpose =
      b2a != kNone ? r.Text(b2a, 1, 2, 2, true, "set purpose code") : std::string_view{};

  // Stops: each needs its sequence number and reason; the ship-to is the last unloading one.
  const Stop* unload = nullptr;
  for (const Stop& stop : stops) {
    const std::string_view seq = r.Text(stop.s5, 1, 1, 3, true, "stop sequence number");
    const std::string_view reason = r.Text(stop.s5, 2, 2, 2, true, "stop reason code");
    (void)seq;
    if (auto it = env.tables->stop_reasons.find(reason); !reason.empty() &&
                                                         it != env.tables->stop_reasons.end() &&
                                                         it->second == StopKind::kUnload) {
      unload = &stop;
    }
  }

  auto base = [&](EventKind kind) {
    Event e = NewEvent(env, kind, SourceSystem::kTms);
    e.shipment_id = std::string(shipment);
    if (!scac.empty()) e.carrier = std::string(scac);
    e.references = refs;
    e.occurred_at = env.gs_time.utc;
    e.occurred_offset_minutes = env.gs_time.offset_minutes;
    return e;
  };

  if (purpose == "01") {  // cancellation of an earlier tender
    Event e = base(EventKind::kMilestone);
    e.status = ShipmentStatus::kCancelled;
    e.source_code = "B2A01:01";
    out->push_back(MappedEvent{std::move(e), b2a});
    return;
  }

  Event order = base(EventKind::kOrder);
  order.status = ShipmentStatus::kTendered;
  if (unload != nullptr) {
    OrderBody body;
    const Party* party = nullptr;
    for (const Party& p : unload->parties) {
      const std::string_view who = r.Get(p.n1, 1);
      if (who == "ST" || who == "CN") {
        party = &p;
        break;
      }
    }
    if (party == nullptr && !unload->parties.empty()) party = &unload->parties.front();
    if (party != nullptr) body.ship_to = ReadParty(r, *party);
    body.promised = ReadWindow(env, r, *unload);
    if (body.ship_to || body.promised) order.order = std::move(body);
  }
  out->push_back(MappedEvent{std::move(order), b2});

  // Quoted charges: L1 lines (if any) and the L305 total, which must agree.
  const std::string currency = DefaultCurrency(env);
  Charges charges;
  charges.basis = ChargeBasis::kQuoted;
  charges.currency = currency;
  std::int64_t sum = 0;
  for (std::size_t l1 : l1s) {
    const auto amount = r.N2(l1, 4, false, "charge");
    if (!amount) continue;  // a rate-only line carries no charge
    const std::string_view code = r.Text(l1, 8, 3, 3, false, "special charge code");
    const std::string_view desc = r.Text(l1, 12, 2, 25, false, "special charge description");
    const auto minor = N2ToMinor(r, l1, 4, *amount, currency);
    if (!minor) continue;
    ChargeLine line;
    line.code = code.empty() ? "400" : std::string(code);  // 400 = Freight (element 150)
    if (!desc.empty()) line.description = std::string(desc);
    line.amount = *minor;
    line.currency = currency;
    if (__builtin_add_overflow(sum, *minor, &sum)) {
      r.Error(l1, 4, "the sum of the L1 charges overflows");
      return;
    }
    charges.lines.push_back(std::move(line));
  }
  std::optional<std::int64_t> total;
  if (l3 != kNone) {
    if (const auto l305 = r.N2(l3, 5, false, "total charge")) {
      total = N2ToMinor(r, l3, 5, *l305, currency);
      if (total && !charges.lines.empty() && *total != sum) {
        r.Error(l3, 5,
                "total charge " + FormatMoney(*total, currency) + " " + currency +
                    " does not equal the sum of the L1 charges " + FormatMoney(sum, currency) +
                    " " + currency);
      }
    }
  }
  if (!total && charges.lines.empty()) return;
  charges.total = total ? *total : sum;
  Event quoted = base(EventKind::kCharges);
  quoted.charges = std::move(charges);
  out->push_back(MappedEvent{std::move(quoted), l3 != kNone ? l3 : l1s.front()});
}

}  // namespace waybill::ingest::x12
