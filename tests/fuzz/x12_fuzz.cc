// libFuzzer target for the x12 adapter: any bytes must map without crashing, every message
// must be either rejected (errors, no events) or accepted with events that pass
// ValidateEvent, and every unit must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/partner_profiles.h"
#include "ingest/x12/x12_adapter.h"
#include "schemas/event_validate.h"

namespace {

const waybill::ingest::PartnerProfiles& Profiles() {
  static const waybill::ingest::PartnerProfiles* profiles = [] {
    auto* p = new waybill::ingest::PartnerProfiles();
    waybill::ingest::PartnerProfile acme;
    acme.id = "ACMEFREIGHT";
    acme.time_zone = "America/Chicago";
    acme.default_currency = "JPY";
    acme.envelope_time_zone = "America/New_York";
    p->Add(acme);
    return p;
  }();
  return *profiles;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto adapter = waybill::ingest::MakeX12Adapter();
  const std::string_view doc(reinterpret_cast<const char*>(data), size);
  waybill::ingest::AdapterContext ctx;
  ctx.profiles = &Profiles();
  adapter->Map(doc, ctx, [&](waybill::ingest::MappedMessage&& m) {
    if (m.unit.data() < doc.data() || m.unit.data() + m.unit.size() > doc.data() + doc.size()) {
      std::abort();  // a unit outside the input
    }
    if (m.rejected() && !m.events.empty()) std::abort();
    if (!m.rejected() && m.events.empty()) std::abort();  // an accepted message says something
    for (const waybill::Event& e : m.events) {
      if (!waybill::ValidateEvent(e).ok()) std::abort();
      if (e.event_id != waybill::DeriveEventId(e)) std::abort();
    }
  });
  return 0;
}
