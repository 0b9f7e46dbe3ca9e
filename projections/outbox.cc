#include "projections/outbox.h"

#include "ledger/key_layout.h"
#include "schemas/event_json.h"

namespace waybill::projections {
namespace {

void PutVarint(std::uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, std::uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool GetLengthPrefixed(std::string_view* in, std::string* out) {
  std::uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

bool IsPlainTokenByte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string EncodeOutboxEntry(const OutMessage& m) {
  std::string out;
  out.reserve(4 + m.subject.size() + m.msg_id.size() + m.payload.size());
  out.push_back(1);
  PutVarint(m.subject.size(), &out);
  out.append(m.subject);
  PutVarint(m.msg_id.size(), &out);
  out.append(m.msg_id);
  out.append(m.payload);
  return out;
}

std::string EncodeOutboxEntry(const OutboxViewRef& ref) {
  std::string out;
  out.reserve(18 + ref.shipment_id.size());
  out.push_back(2);
  out.push_back(static_cast<char>(ref.view));
  ledger::PutU64BE(ref.seq, &out);
  ledger::PutU64BE(ref.version, &out);
  out.append(ref.shipment_id);
  return out;
}

Result<OutboxEntry> DecodeOutboxEntry(std::string_view bytes) {
  if (bytes.empty()) return Status::Corruption("outbox entry is empty");
  const auto version = static_cast<std::uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  if (version == 1) {
    OutMessage m;
    if (!GetLengthPrefixed(&bytes, &m.subject) || !GetLengthPrefixed(&bytes, &m.msg_id)) {
      return Status::Corruption("outbox entry is truncated");
    }
    m.payload.assign(bytes);
    return OutboxEntry(std::move(m));
  }
  if (version == 2) {
    if (bytes.size() < 1 + 8 + 8 + 1)
      return Status::Corruption("outbox view reference is truncated");
    OutboxViewRef ref;
    const auto view = static_cast<std::uint8_t>(bytes[0]);
    bool known = false;
    for (ViewKind kind : kAllViews) {
      if (static_cast<std::uint8_t>(kind) == view) {
        ref.view = kind;
        known = true;
      }
    }
    if (!known) {
      return Status::Corruption("outbox view reference names unknown view " + std::to_string(view));
    }
    ref.seq = ledger::GetU64BE(bytes.data() + 1);
    ref.version = ledger::GetU64BE(bytes.data() + 9);
    ref.shipment_id.assign(bytes.substr(17));
    return OutboxEntry(std::move(ref));
  }
  return Status::Corruption("outbox entry has unknown version " + std::to_string(version) +
                            " (written by a newer waybill?)");
}

std::string EscapeSubjectToken(std::string_view id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (id == "_") return "%5F";
  std::string out;
  out.reserve(id.size());
  for (char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsPlainTokenByte(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::optional<std::string> UnescapeSubjectToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '%') {
      if (!IsPlainTokenByte(static_cast<unsigned char>(token[i]))) return std::nullopt;
      out.push_back(token[i]);
      continue;
    }
    if (i + 2 >= token.size()) return std::nullopt;
    const int hi = HexValue(token[i + 1]), lo = HexValue(token[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string ViewSubject(ViewKind view, const std::optional<std::string>& customer_id,
                        std::string_view shipment_id) {
  std::string s = "waybill.views.";
  s.append(ToString(view));
  s.push_back('.');
  s.append(customer_id ? EscapeSubjectToken(*customer_id) : std::string("_"));
  s.push_back('.');
  s.append(EscapeSubjectToken(shipment_id));
  return s;
}

std::string ViewMsgId(ViewKind view, std::string_view shipment_id, std::uint64_t version) {
  std::string s(ToString(view));
  s.push_back(':');
  s.append(shipment_id);
  s.push_back(':');
  s.append(std::to_string(version));
  return s;
}

std::string EventSubject(const Event& event) {
  std::string s = "waybill.events.";
  s.append(ToString(event.kind));
  s.push_back('.');
  s.append(EscapeSubjectToken(event.shipment_id));
  return s;
}

OutMessage ViewMessage(const ShipmentView& view) {
  OutMessage m;
  m.subject = ViewSubject(view.kind(), view.customer_id(), view.shipment_id());
  m.msg_id = ViewMsgId(view.kind(), view.shipment_id(), view.version());
  view.AppendJson(&m.payload);
  return m;
}

OutMessage EventMessage(const Event& event) {
  OutMessage m;
  m.subject = EventSubject(event);
  m.msg_id = event.event_id;
  AppendEventJson(event, &m.payload);
  return m;
}

}  // namespace waybill::projections
