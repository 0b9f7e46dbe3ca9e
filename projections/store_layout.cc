#include "projections/store_layout.h"

#include "ledger/key_layout.h"

namespace waybill::projections {
namespace {

std::string GenerationPrefix(ViewKind view, std::uint32_t generation) {
  std::string k;
  k.reserve(6);
  k.push_back('v');
  k.push_back(static_cast<char>(view));
  ledger::PutU32BE(generation, &k);
  return k;
}

}  // namespace

std::string ViewKey(ViewKind view, std::uint32_t generation, std::string_view shipment_id) {
  std::string k = GenerationPrefix(view, generation);
  k.append(shipment_id);
  return k;
}

std::string ViewGenerationBegin(ViewKind view, std::uint32_t generation) {
  return GenerationPrefix(view, generation);
}

std::string ViewGenerationEnd(ViewKind view, std::uint32_t generation) {
  // Generations are < 2^32 - 1 in practice; the next generation's prefix bounds this one.
  if (generation == UINT32_MAX) {
    std::string k;
    k.push_back('v');
    k.push_back(static_cast<char>(static_cast<std::uint8_t>(view) + 1));
    return k;
  }
  return GenerationPrefix(view, generation + 1);
}

std::string_view ShipmentOfViewKey(std::string_view key) {
  return key.size() >= 6 ? key.substr(6) : std::string_view();
}

std::string ActiveGenerationKey(ViewKind view) {
  std::string k = "g";
  k.push_back(static_cast<char>(view));
  return k;
}

std::string EncodeCheckpoint(const Checkpoint& c) {
  std::string out;
  out.push_back(2);
  ledger::PutU64BE(c.last_seq, &out);
  ledger::PutU64BE(c.next_outbox_seq, &out);
  ledger::PutU64BE(c.views_through, &out);
  return out;
}

Result<Checkpoint> DecodeCheckpoint(std::string_view bytes) {
  const bool v1 = bytes.size() == 17 && bytes[0] == 1;
  const bool v2 = bytes.size() == 25 && bytes[0] == 2;
  if (!v1 && !v2) {
    return Status::Corruption("projection checkpoint record has " + std::to_string(bytes.size()) +
                              " bytes or an unknown version; rebuild the views (waybill rebuild)");
  }
  Checkpoint c;
  c.last_seq = ledger::GetU64BE(bytes.data() + 1);
  c.next_outbox_seq = ledger::GetU64BE(bytes.data() + 9);
  c.views_through = v2 ? ledger::GetU64BE(bytes.data() + 17) : c.last_seq;
  if (c.views_through > c.last_seq) {
    return Status::Corruption("projection checkpoint says views hold events up to " +
                              std::to_string(c.views_through) + ", past its last folded event " +
                              std::to_string(c.last_seq) + "; rebuild the views (waybill rebuild)");
  }
  return c;
}

std::string EncodeU64(std::uint64_t v) {
  std::string out;
  ledger::PutU64BE(v, &out);
  return out;
}

std::string EncodeU32(std::uint32_t v) {
  std::string out;
  ledger::PutU32BE(v, &out);
  return out;
}

Result<std::uint64_t> DecodeU64(std::string_view bytes, std::string_view what) {
  if (bytes.size() != 8) {
    return Status::Corruption(std::string(what) + " record has " + std::to_string(bytes.size()) +
                              " bytes, expected 8");
  }
  return ledger::GetU64BE(bytes.data());
}

Result<std::uint32_t> DecodeU32(std::string_view bytes, std::string_view what) {
  if (bytes.size() != 4) {
    return Status::Corruption(std::string(what) + " record has " + std::to_string(bytes.size()) +
                              " bytes, expected 4");
  }
  return ledger::GetU32BE(bytes.data());
}

}  // namespace waybill::projections
