#include "ledger/record_format.h"

#include <cstring>

#include "ledger/key_layout.h"
#include "schemas/event_codec.h"
#include "schemas/sha256.h"

namespace waybill::ledger {

Sha256 ChainHash(std::uint64_t seq, UnixNanos recorded_at, const Sha256& prev_hash,
                 const Sha256& content_digest) {
  std::string buf;
  buf.reserve(1 + 8 + 8 + 32 + 32);
  buf.push_back(static_cast<char>(kRecordVersion));
  PutU64BE(seq, &buf);
  PutI64BE(recorded_at, &buf);
  buf.append(reinterpret_cast<const char*>(prev_hash.data()), prev_hash.size());
  buf.append(reinterpret_cast<const char*>(content_digest.data()), content_digest.size());
  return Sha256Of(buf);
}

void EncodeRecord(const RecordHeader& header, std::string_view content, std::string* out) {
  out->reserve(out->size() + kRecordHeaderSize + content.size());
  out->push_back(static_cast<char>(header.version));
  PutU64BE(header.seq, out);
  PutI64BE(header.recorded_at, out);
  out->append(reinterpret_cast<const char*>(header.prev_hash.data()), header.prev_hash.size());
  out->append(reinterpret_cast<const char*>(header.hash.data()), header.hash.size());
  out->append(content);
}

Status DecodeRecordHeader(std::string_view record, RecordHeader* header,
                          std::string_view* content) {
  if (record.size() < kRecordHeaderSize) {
    return Status::Corruption("event record is " + std::to_string(record.size()) +
                              " bytes, shorter than its " + std::to_string(kRecordHeaderSize) +
                              "-byte header");
  }
  const char* p = record.data();
  header->version = static_cast<std::uint8_t>(p[0]);
  if (header->version != kRecordVersion) {
    return Status::Corruption("event record has unknown version " +
                              std::to_string(header->version));
  }
  header->seq = GetU64BE(p + 1);
  header->recorded_at = GetI64BE(p + 9);
  std::memcpy(header->prev_hash.data(), p + 17, 32);
  std::memcpy(header->hash.data(), p + 49, 32);
  *content = record.substr(kRecordHeaderSize);
  return Status::Ok();
}

Status DecodeRecord(std::string_view record, Event* event) {
  RecordHeader header;
  std::string_view content;
  WAYBILL_RETURN_IF_ERROR(DecodeRecordHeader(record, &header, &content));
  WAYBILL_RETURN_IF_ERROR(DecodeEventContent(content, event));
  event->ledger.seq = header.seq;
  event->ledger.recorded_at = header.recorded_at;
  event->ledger.prev_hash = header.prev_hash;
  event->ledger.hash = header.hash;
  return Status::Ok();
}

}  // namespace waybill::ledger
