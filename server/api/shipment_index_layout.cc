#include "server/api/shipment_index_layout.h"

#include "ledger/key_layout.h"

namespace waybill::server::api {
namespace {

using ledger::GetU32BE;
using ledger::PutU32BE;

constexpr char kVersion = 1;
constexpr std::size_t kStateSize = 1 + 4 + 8 + 8;
constexpr std::size_t kOrderedSuffix = 8;  // ~last_seq before the id

std::string Prefix(std::uint32_t generation, char kind) {
  std::string k(kIndexStateKey);
  PutU32BE(generation, &k);
  k.push_back(kind);
  return k;
}

std::string CustomerPrefix(std::uint32_t generation, std::string_view customer) {
  std::string k = Prefix(generation, 'c');
  PutU32BE(static_cast<std::uint32_t>(customer.size()), &k);
  k.append(customer);
  return k;
}

void PutOptional(const std::optional<std::string>& value, std::string* out) {
  out->push_back(value ? 1 : 0);
  PutU32BE(value ? static_cast<std::uint32_t>(value->size()) : 0, out);
  if (value) out->append(*value);
}

bool GetOptional(std::string_view* in, std::optional<std::string>* value) {
  if (in->size() < 5) return false;
  const bool present = (*in)[0] != 0;
  const std::uint32_t len = GetU32BE(in->data() + 1);
  in->remove_prefix(5);
  if (in->size() < len) return false;
  if (present) *value = std::string(in->substr(0, len));
  in->remove_prefix(len);
  return true;
}

}  // namespace

std::string EncodeIndexState(const IndexState& state) {
  std::string out;
  out.push_back(kVersion);
  PutU32BE(state.generation, &out);
  ledger::PutU64BE(state.through_seq, &out);
  ledger::PutU64BE(state.entries, &out);
  return out;
}

Result<IndexState> DecodeIndexState(std::string_view bytes) {
  if (bytes.size() != kStateSize || bytes[0] != kVersion) {
    return Status::Corruption("shipment list index state has " + std::to_string(bytes.size()) +
                              " bytes or an unknown version");
  }
  IndexState s;
  s.generation = GetU32BE(bytes.data() + 1);
  s.through_seq = ledger::GetU64BE(bytes.data() + 5);
  s.entries = ledger::GetU64BE(bytes.data() + 13);
  return s;
}

std::string IndexGenerationBegin(std::uint32_t generation) {
  std::string k(kIndexStateKey);
  PutU32BE(generation, &k);
  return k;
}

std::string IndexGenerationEnd(std::uint32_t generation) {
  // The state key "l" sorts before every generation; "m" bounds the last one.
  return generation == UINT32_MAX ? std::string("m") : IndexGenerationBegin(generation + 1);
}

std::string EntryKey(std::uint32_t generation, std::string_view shipment_id) {
  std::string k = Prefix(generation, 'e');
  k.append(shipment_id);
  return k;
}

std::string OrderKey(std::uint32_t generation, std::uint64_t last_seq,
                     std::string_view shipment_id) {
  std::string k = Prefix(generation, 'o');
  ledger::PutU64BE(~last_seq, &k);
  k.append(shipment_id);
  return k;
}

std::string OrderBegin(std::uint32_t generation) { return Prefix(generation, 'o'); }
std::string OrderEnd(std::uint32_t generation) { return Prefix(generation, 'o' + 1); }

std::string CustomerKey(std::uint32_t generation, std::string_view customer, std::uint64_t last_seq,
                        std::string_view shipment_id) {
  std::string k = CustomerPrefix(generation, customer);
  ledger::PutU64BE(~last_seq, &k);
  k.append(shipment_id);
  return k;
}

std::string CustomerBegin(std::uint32_t generation, std::string_view customer) {
  return CustomerPrefix(generation, customer);
}

std::string CustomerEnd(std::uint32_t generation, std::string_view customer) {
  // The prefix's successor: the length field makes no other customer's keys share it.
  std::string k = CustomerPrefix(generation, customer);
  while (!k.empty() && static_cast<unsigned char>(k.back()) == 0xff) k.pop_back();
  if (k.empty()) return std::string("m");
  k.back() = static_cast<char>(static_cast<unsigned char>(k.back()) + 1);
  return k;
}

std::string_view ShipmentOfOrderedKey(std::string_view key) {
  const std::size_t head = kIndexStateKey.size() + 4 + 1;
  if (key.size() < head) return {};
  std::size_t at = head;
  if (key[head - 1] == 'c') {
    if (key.size() < head + 4) return {};
    at += 4 + GetU32BE(key.data() + head);
  }
  at += kOrderedSuffix;
  return at <= key.size() ? key.substr(at) : std::string_view();
}

std::string EncodeRow(const ShipmentSummary& summary) {
  std::string out;
  out.reserve(16 + 15 + (summary.customer_id ? summary.customer_id->size() : 0) +
              (summary.carrier ? summary.carrier->size() : 0) +
              (summary.status ? summary.status->size() : 0));
  ledger::PutU64BE(summary.last_seq, &out);
  ledger::PutI64BE(summary.updated_at, &out);
  PutOptional(summary.customer_id, &out);
  PutOptional(summary.carrier, &out);
  PutOptional(summary.status, &out);
  return out;
}

Result<ShipmentSummary> DecodeRow(std::string_view bytes) {
  ShipmentSummary s;
  bool ok = bytes.size() >= 16;
  if (ok) {
    s.last_seq = ledger::GetU64BE(bytes.data());
    s.updated_at = ledger::GetI64BE(bytes.data() + 8);
    bytes.remove_prefix(16);
    ok = GetOptional(&bytes, &s.customer_id) && GetOptional(&bytes, &s.carrier) &&
         GetOptional(&bytes, &s.status) && bytes.empty();
  }
  if (!ok) {
    return Status::Corruption(
        "a shipment list index row does not decode; POST /v1/admin/rebuild rebuilds the index");
  }
  return s;
}

}  // namespace waybill::server::api
