// 210 Motor Carrier Freight Details and Invoice.
//
//   B3   02 invoice number (charges.document), 03 shipment id (required here), 06 invoice
//        date, 07 net amount due (N2), 11 SCAC (carrier)
//   C3   01 currency (else the partner's default currency, else USD)
//   L1   charge lines: 04 charge (N2), 08 special charge code (absent: "400", Freight),
//        12 description; an L1 without a charge (rate only) is not a line
//   L3   05 total charge (N2)
//   N9 / L11  references
// B307 and L305 must both equal the sum of the L1 charges (or each other when there are no
// lines); otherwise the set is rejected naming both. Amounts are N2 (implied two decimals)
// converted exactly to the currency's minor units.
// Event time: the invoice date B306 at 00:00 in the envelope zone, so that an invoice re-sent
// in a later interchange keeps its event id (the GS time would change it).
#include <cstddef>
#include <string>
#include <vector>

#include "ingest/x12/x12_sets.h"
#include "schemas/money.h"

namespace waybill::ingest::x12 {

void Map210(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out) {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t b3 = kNone;
  std::size_t c3 = kNone;
  std::size_t l3 = kNone;
  std::vector<std::size_t> l1s;
  std::vector<Reference> refs;
  for (std::size_t i = r.begin(); i < r.end(); ++i) {
    const std::string_view id = r.Id(i);
    if (id == "B3") {
      if (b3 != kNone) {
        r.Error(i, 0, "B3 appears more than once");
      } else {
        b3 = i;
      }
    } else if (id == "C3") {
      if (c3 == kNone) c3 = i;
    } else if (id == "L1") {
      l1s.push_back(i);
    } else if (id == "L3") {
      l3 = i;
    } else if (id == "N9") {
      ReadN9(r, i, &refs);
    } else if (id == "L11") {
      ReadL11(r, i, &refs);
    }
  }
  if (b3 == kNone) {
    r.MissingSegment("B3", "beginning segment for carrier's invoice");
    return;
  }
  const std::string_view invoice = r.Text(b3, 2, 1, 22, true, "invoice number");
  const std::string_view shipment = r.Text(b3, 3, 1, 30, true, "shipment identification number");
  const auto date = r.Date(b3, 6, true, "invoice date");
  const auto net = r.N2(b3, 7, true, "net amount due");
  const std::string_view scac = r.Text(b3, 11, 2, 4, false, "SCAC");

  std::string currency = DefaultCurrency(env);
  if (c3 != kNone) {
    const std::string_view c301 = r.Text(c3, 1, 3, 3, true, "currency code");
    if (!c301.empty()) {
      if (!CurrencyExponent(c301)) {
        r.Error(c3, 1, Quote(c301) + " is not an ISO 4217 currency code");
        return;
      }
      currency = std::string(c301);
    }
  }

  Charges charges;
  charges.basis = ChargeBasis::kInvoiced;
  charges.currency = currency;
  if (!invoice.empty()) charges.document = std::string(invoice);
  std::int64_t sum = 0;
  for (std::size_t l1 : l1s) {
    const auto amount = r.N2(l1, 4, false, "charge");
    const std::string_view code = r.Text(l1, 8, 3, 3, false, "special charge code");
    const std::string_view desc = r.Text(l1, 12, 2, 25, false, "special charge description");
    if (!amount) continue;
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
  if (net) total = N2ToMinor(r, b3, 7, *net, currency);
  std::optional<std::int64_t> l305;
  if (l3 != kNone) {
    if (const auto v = r.N2(l3, 5, false, "total charge")) l305 = N2ToMinor(r, l3, 5, *v, currency);
  }
  auto money = [&](std::int64_t v) { return FormatMoney(v, currency) + " " + currency; };
  if (total && !charges.lines.empty() && *total != sum) {
    r.Error(b3, 7,
            "net amount due " + money(*total) + " does not equal the sum of the L1 charges " +
                money(sum) + (l305 ? " (L305 total charge: " + money(*l305) + ")" : ""));
  }
  if (l305) {
    const std::int64_t expected = charges.lines.empty() ? total.value_or(*l305) : sum;
    if (*l305 != expected) {
      r.Error(
          l3, 5,
          "total charge " + money(*l305) + " does not equal " +
              (charges.lines.empty() ? "the B307 net amount due " : "the sum of the L1 charges ") +
              money(expected) + (total ? " (B307 net amount due: " + money(*total) + ")" : ""));
    }
  }
  if (!date || !total) return;
  const auto when = ResolveTime(env, r, b3, 6, 0, *date, ClockTime{}, {});
  if (!when) return;
  charges.total = *total;

  Event e = NewEvent(env, EventKind::kCharges, SourceSystem::kCarrier);
  e.shipment_id = std::string(shipment);
  if (!scac.empty()) e.carrier = std::string(scac);
  e.references = std::move(refs);
  e.occurred_at = when->utc;
  e.occurred_offset_minutes = when->offset_minutes;
  e.charges = std::move(charges);
  out->push_back(MappedEvent{std::move(e), b3});
}

}  // namespace waybill::ingest::x12
