// libFuzzer target for the declarative mapping adapter (ingest/mapping/mapping_adapter.h).
//
// The first byte picks what the rest is: 0 an SAP S/4HANA delivery document, 1 a Dynamics 365
// sales-order document (both through the embedded mapping files), 2 a mapping file, which is
// compiled and, when it loads, run on a fixed message. Every emitted event must pass
// ValidateEvent, a rejected message must carry no event, and every unit must lie inside the
// document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "ingest/mapping/mapping_adapter.h"
#include "schemas/event_validate.h"

namespace {

using waybill::ingest::Adapter;
using waybill::ingest::AdapterContext;
using waybill::ingest::MappedMessage;

void Run(Adapter& adapter, std::string_view doc) {
  static const waybill::ingest::PartnerProfiles kProfiles;
  AdapterContext ctx;
  ctx.profiles = &kProfiles;
  ctx.partner = "FUZZ";
  adapter.Map(doc, ctx, [&](MappedMessage&& m) {
    if (m.rejected() && !m.events.empty()) std::abort();
    if (m.unit.data() < doc.data() || m.unit.data() + m.unit.size() > doc.data() + doc.size()) {
      std::abort();
    }
    for (const waybill::Event& e : m.events) {
      if (!waybill::ValidateEvent(e).ok()) std::abort();
    }
  });
}

constexpr std::string_view kMessage =
    R"({"id":"1","t":"2025-03-03T14:30:00Z","ms":"/Date(1741012200000+0100)/","s":"S1",)"
    R"("a":[{"c":"FRT","v":12.5,"k":"USD"},{"c":"FUEL","v":"1","k":"EUR"}],"n":null})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static std::unique_ptr<Adapter> sap =
      std::move(waybill::ingest::MakeEmbeddedMappingAdapter("sap-s4-delivery")).value();
  static std::unique_ptr<Adapter> d365 =
      std::move(waybill::ingest::MakeEmbeddedMappingAdapter("d365-sales-order")).value();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      Run(*sap, rest);
      break;
    case 1:
      Run(*d365, rest);
      break;
    default: {
      auto adapter = waybill::ingest::MakeMappingAdapter(rest);
      if (adapter.ok()) Run(**adapter, kMessage);
      break;
    }
  }
  return 0;
}
