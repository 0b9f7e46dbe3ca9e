#include "ledger/key_layout.h"

namespace waybill::ledger {

void PutU32BE(std::uint32_t v, std::string* out) {
  const char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(buf, 4);
}

std::uint32_t GetU32BE(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void PutU64BE(std::uint64_t v, std::string* out) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

std::uint64_t GetU64BE(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void PutI64BE(std::int64_t v, std::string* out) { PutU64BE(static_cast<std::uint64_t>(v), out); }
std::int64_t GetI64BE(const char* p) { return static_cast<std::int64_t>(GetU64BE(p)); }

std::string SeqKey(std::uint64_t seq) {
  std::string k;
  k.reserve(8);
  PutU64BE(seq, &k);
  return k;
}

std::uint64_t Fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

void AppendIdempotencyKey(std::string_view event_id, std::string* out) {
  PutU64BE(Fnv1a64(event_id), out);
  out->append(event_id);
}

std::string IdempotencyKey(std::string_view event_id) {
  std::string k;
  k.reserve(8 + event_id.size());
  AppendIdempotencyKey(event_id, &k);
  return k;
}

std::string ShipmentPrefix(std::string_view shipment_id) {
  std::string k;
  k.reserve(8 + shipment_id.size() + 1 + 8);
  PutU64BE(Fnv1a64(shipment_id), &k);
  k.append(shipment_id);
  k.push_back('\0');
  return k;
}

std::string ShipmentKey(std::string_view shipment_id, std::uint64_t seq) {
  std::string k = ShipmentPrefix(shipment_id);
  PutU64BE(seq, &k);
  return k;
}

}  // namespace waybill::ledger
