#include "ledger/dead_letter.h"

#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>

#include "ledger/ledger.h"
#include "schemas/content_archive.h"

namespace waybill::ledger {
namespace {

constexpr std::uint32_t kDeadLetterVersion = 1;
constexpr std::uint32_t kRawRecordVersion = 1;

}  // namespace

std::string_view ToString(DeadLetterState state) {
  switch (state) {
    case DeadLetterState::kPending:
      return "pending";
    case DeadLetterState::kResolved:
      return "resolved";
    case DeadLetterState::kDropped:
      return "dropped";
  }
  return "unknown";
}

// Loads a string field by skipping its bytes and keeping their count.
struct SkippedString {
  std::uint64_t* size;
};

void CEREAL_LOAD_FUNCTION_NAME(ContentInputArchive& ar, SkippedString& s) {
  *s.size = ar.ReadSize();
  (void)ar.TakeBytes(*s.size);
}

// Field order is the record format: append only (under ar.version()). `raw` is the letter's
// raw bytes, or a SkippedString where only their size is wanted.
template <class Archive, class Raw>
void DeadLetterFields(Archive& ar, DeadLetter& d, Raw& raw) {
  ar(d.id, d.received_at, d.format, d.partner, d.principal, raw, d.reasons, d.origin, d.position,
     d.state, d.attempts, d.updated_at, d.updated_by, d.resolution);
}

template <class Archive>
void serialize(Archive& ar, DeadLetter& d) {
  DeadLetterFields(ar, d, d.raw);
}

void LoadSummary(ContentInputArchive& ar, DeadLetterSummary& s) {
  SkippedString raw{&s.raw_bytes};
  DeadLetterFields(ar, s.letter, raw);
}

std::string EncodeDeadLetter(const DeadLetter& dl) {
  std::string out;
  ContentOutputArchive ar(&out, kDeadLetterVersion);
  ar(dl);
  return out;
}

Status DecodeDeadLetter(std::string_view bytes, DeadLetter* dl) {
  try {
    ContentInputArchive ar(bytes, kDeadLetterVersion);
    ar(*dl);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("dead-letter record does not decode: ") + e.what());
  }
  return Status::Ok();
}

Status DecodeDeadLetterSummary(std::string_view bytes, DeadLetterSummary* summary) {
  try {
    ContentInputArchive ar(bytes, kDeadLetterVersion);
    LoadSummary(ar, *summary);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("dead-letter record does not decode: ") + e.what());
  }
  return Status::Ok();
}

std::string EncodeRawRecord(std::string_view bytes, std::string_view format,
                            const std::optional<std::string>& partner,
                            const std::optional<std::string>& origin, UnixNanos received_at) {
  std::string out;
  out.reserve(bytes.size() + format.size() + 32);
  ContentOutputArchive ar(&out, kRawRecordVersion);
  ar(cereal::make_size_tag(static_cast<std::uint64_t>(format.size())));
  ar.WriteBytes(format.data(), format.size());
  ar(partner, origin, received_at);
  ar(cereal::make_size_tag(static_cast<std::uint64_t>(bytes.size())));
  ar.WriteBytes(bytes.data(), bytes.size());
  return out;
}

Status DecodeRawRecord(std::string_view record, RawMessage* raw) {
  try {
    ContentInputArchive ar(record, kRawRecordVersion);
    ar(raw->format, raw->partner, raw->origin, raw->received_at, raw->bytes);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("raw-message record does not decode: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace waybill::ledger
