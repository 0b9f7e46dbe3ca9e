#include "server/api/idempotency_store.h"

#include <chrono>
#include <cstring>

#include "projections/store_layout.h"

namespace waybill::server::api {
namespace {

constexpr std::uint8_t kRecordVersion = 1;
constexpr std::string_view kPrefix = "r";
constexpr std::size_t kHeaderSize = 1 + 8 + 32 + 2;

std::int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PutI64BE(std::int64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> shift) & 0xff));
  }
}

std::int64_t GetI64BE(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(v);
}

struct Record {
  std::int64_t stored_at = 0;
  Sha256 body_hash{};
  IdempotencyStore::Answer answer;
};

std::optional<Record> DecodeRecord(std::string_view bytes) {
  if (bytes.size() < kHeaderSize || static_cast<std::uint8_t>(bytes[0]) != kRecordVersion) {
    return std::nullopt;
  }
  Record r;
  r.stored_at = GetI64BE(bytes.data() + 1);
  std::memcpy(r.body_hash.data(), bytes.data() + 9, 32);
  r.answer.status =
      (static_cast<unsigned char>(bytes[41]) << 8) | static_cast<unsigned char>(bytes[42]);
  r.answer.body = std::string(bytes.substr(kHeaderSize));
  return r;
}

}  // namespace

IdempotencyStore::IdempotencyStore(ledger::Ledger& ledger, std::chrono::seconds ttl)
    : ledger_(ledger), ttl_(ttl) {}

bool IdempotencyStore::ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string IdempotencyStore::RecordKey(std::string_view principal, std::string_view key) const {
  std::string material(principal);
  material.push_back('\0');
  material.append(key);
  const Sha256 digest = Sha256Of(material);
  std::string out(kPrefix);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

IdempotencyStore::Outcome IdempotencyStore::Start(std::string_view principal, std::string_view key,
                                                  const Sha256& body_hash, Answer* replay) {
  const std::string record_key = RecordKey(principal, key);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = in_flight_.find(record_key); it != in_flight_.end()) {
    return it->second == body_hash ? Outcome::kInFlight : Outcome::kMismatch;
  }
  auto stored = ledger_.GetAux(ledger::AuxSpace::kViews, record_key);
  if (stored.ok()) {
    auto record = DecodeRecord(*stored);
    const std::int64_t ttl_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ttl_).count();
    if (record && NowNanos() - record->stored_at < ttl_ns) {
      if (record->body_hash != body_hash) return Outcome::kMismatch;
      *replay = std::move(record->answer);
      return Outcome::kReplay;
    }
  }
  // A read error is treated as "not seen": the events themselves are idempotent anyway.
  in_flight_.emplace(record_key, body_hash);
  return Outcome::kNew;
}

Status IdempotencyStore::Complete(std::string_view principal, std::string_view key,
                                  const Sha256& body_hash, const Answer& answer) {
  const std::string record_key = RecordKey(principal, key);
  std::string value;
  value.reserve(kHeaderSize + answer.body.size());
  value.push_back(static_cast<char>(kRecordVersion));
  PutI64BE(NowNanos(), &value);
  value.append(reinterpret_cast<const char*>(body_hash.data()), body_hash.size());
  value.push_back(static_cast<char>((answer.status >> 8) & 0xff));
  value.push_back(static_cast<char>(answer.status & 0xff));
  value.append(answer.body);
  ledger::AuxBatch batch;
  batch.Put(ledger::AuxSpace::kViews, record_key, std::move(value));
  Status st = ledger_.WriteAux(batch);
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(record_key);
  return st;
}

void IdempotencyStore::Abandon(std::string_view principal, std::string_view key) {
  const std::string record_key = RecordKey(principal, key);
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(record_key);
}

Result<std::uint64_t> IdempotencyStore::Sweep() {
  const std::int64_t cutoff =
      NowNanos() - std::chrono::duration_cast<std::chrono::nanoseconds>(ttl_).count();
  ledger::AuxBatch batch;
  Status st = ledger_.ScanAux(ledger::AuxSpace::kViews, "r", "s",
                              [&](std::string_view key, std::string_view value) {
                                auto record = DecodeRecord(value);
                                if (!record || record->stored_at < cutoff) {
                                  batch.Delete(ledger::AuxSpace::kViews, std::string(key));
                                }
                                return true;
                              });
  if (!st.ok()) return st;
  if (batch.empty()) return std::uint64_t{0};
  if (Status w = ledger_.WriteAux(batch); !w.ok()) return w;
  return static_cast<std::uint64_t>(batch.size());
}

}  // namespace waybill::server::api
