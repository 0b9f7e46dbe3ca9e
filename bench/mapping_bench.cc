// Throughput of the mapping adapter alone (no ledger): generates NDJSON documents of SAP
// S/4HANA delivery CloudEvents and Dynamics 365 sales-order events (~500 bytes a message)
// and maps them on one thread. Usage: mapping_bench [messages per format, default 1000000].
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ingest/mapping/mapping_adapter.h"

namespace {

std::string SapLine(long i) {
  char buf[1024];
  std::snprintf(
      buf, sizeof(buf),
      R"({"specversion":"1.0","type":"sap.s4.beh.outbounddelivery.v1.OutboundDelivery.Created.v1",)"
      R"("source":"/default/sap.s4.beh/0M4Q6KL","id":"6f2d1c9e-4b1a-1eef-%012ld",)"
      R"("time":"2025-03-03T14:30:%02ld+01:00","datacontenttype":"application/json","data":{)"
      R"("DeliveryDocument":"8%07ld","SoldToParty":"17100001","ShipToParty":"17100002",)"
      R"("ShippingPoint":"1710","DeliveryDate":"/Date(1741564800000)/",)"
      R"("CreationDate":"/Date(1740960000000)/","CreationTime":"PT09:30:00",)"
      R"("to_DeliveryDocumentItem":{"results":[{"DeliveryDocumentItem":"000010",)"
      R"("ReferenceSDDocument":"45%05ld","Material":"TG11"}]}}})",
      i, i % 60, i % 10000000, i % 100000);
  return buf;
}

std::string D365Line(long i) {
  char buf[1024];
  std::snprintf(
      buf, sizeof(buf),
      R"({"BusinessEventId":"SalesOrderReleasedToWarehouseBusinessEvent",)"
      R"("BusinessEventLegalEntity":"USMF","ControlNumber":%ld,)"
      R"("EventId":"0C2D9A6B-3F1E-4B7A-9E21-%012ld","EventTime":"\/Date(17410122%05ld)\/",)"
      R"("MajorVersion":0,"MinorVersion":0,"SalesOrderNumber":"SO-%06ld",)"
      R"("OrderingCustomerAccountNumber":"US-004","ShipmentId":"SH-%06ld","LoadId":"LD-%06ld",)"
      R"("Charges":%s})",
      5637144577L + i, i, i % 100000, i % 1000000, i % 1000000, i % 1000000,
      i % 2 == 0 ? R"([{"MarkupCode":"FREIGHT","CalculatedAmount":125.50,"CurrencyCode":"USD"},)"
                   R"({"MarkupCode":"FUEL","CalculatedAmount":"18.35","CurrencyCode":"USD"}])"
                 : "[]");
  return buf;
}

void Measure(const char* format, std::string (*line)(long), long n) {
  std::string doc;
  doc.reserve(static_cast<std::size_t>(n) * 520);
  for (long i = 0; i < n; ++i) {
    doc += line(i);
    doc += '\n';
  }
  auto adapter = waybill::ingest::MakeEmbeddedMappingAdapter(format);
  if (!adapter.ok()) {
    std::fprintf(stderr, "%s\n", adapter.status().ToString().c_str());
    std::exit(1);
  }
  static const waybill::ingest::PartnerProfiles kProfiles;
  waybill::ingest::AdapterContext ctx;
  ctx.profiles = &kProfiles;
  long events = 0, rejected = 0;
  const auto start = std::chrono::steady_clock::now();
  (*adapter)->Map(doc, ctx, [&](waybill::ingest::MappedMessage&& m) {
    events += static_cast<long>(m.events.size());
    rejected += m.rejected() ? 1 : 0;
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%-18s %ld messages (%.0f bytes avg), %ld events, %ld rejected: %.3f s, "
      "%.0f messages/s, %.0f events/s, %.1f MB/s\n",
      format, n, static_cast<double>(doc.size()) / static_cast<double>(n), events, rejected, s,
      static_cast<double>(n) / s, static_cast<double>(events) / s,
      static_cast<double>(doc.size()) / s / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
  Measure("sap-s4-delivery", SapLine, n);
  Measure("d365-sales-order", D365Line, n);
  return 0;
}
