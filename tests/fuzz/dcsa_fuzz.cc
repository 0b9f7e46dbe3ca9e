// libFuzzer target for the DCSA Track & Trace adapter: any bytes are mapped, and every event
// that comes out must pass ValidateEvent; a message is either rejected or has events, never
// both, and its unit lies inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/dcsa/dcsa_adapter.h"
#include "schemas/event_validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto adapter = waybill::ingest::MakeDcsaTntAdapter();
  static waybill::ingest::PartnerProfiles profiles;
  waybill::ingest::AdapterContext ctx;
  ctx.profiles = &profiles;
  ctx.partner = "FUZZ";
  const std::string_view doc(reinterpret_cast<const char*>(data), size);
  adapter->Map(doc, ctx, [&](waybill::ingest::MappedMessage&& m) {
    if (m.rejected() && !m.events.empty()) std::abort();
    if (!m.unit.empty() &&
        (m.unit.data() < doc.data() || m.unit.data() + m.unit.size() > doc.data() + doc.size())) {
      std::abort();
    }
    for (const auto& e : m.events) {
      if (!waybill::ValidateEvent(e).ok()) std::abort();
    }
  });
  return 0;
}
