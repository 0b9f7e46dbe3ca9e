// The JSON form of canonical events: the writer (keys in contract order, absent values
// omitted, canonical UTC times, money as decimal strings). The reader is event_json.cc.
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "schemas/event_json.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace waybill {
namespace {

// ---------------------------------------------------------------------------------------------
// Writer.

constexpr char kHexDigits[] = "0123456789abcdef";

class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  void Key(std::string_view key) {
    out_->append(first_ ? "\"" : ",\"");
    first_ = false;
    out_->append(key);
    out_->append("\":");
  }
  void String(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(value, out_);
  }
  void OptString(std::string_view key, const std::optional<std::string>& value) {
    if (value) String(key, *value);
  }
  // A value that needs no escaping (digits, signs, hex, names from our own tables).
  void Plain(std::string_view key, std::string_view value) {
    Key(key);
    out_->push_back('"');
    out_->append(value);
    out_->push_back('"');
  }
  void Time(std::string_view key, UnixNanos t) {
    Key(key);
    out_->push_back('"');
    AppendUtc(t, out_);
    out_->push_back('"');
  }
  void Unsigned(std::string_view key, std::uint64_t v) {
    Key(key);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out_->append(buf, r.ptr);
  }
  void Double(std::string_view key, double v) {
    if (!std::isfinite(v)) return;  // not representable in JSON; ValidateEvent rejects it
    Key(key);
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out_->append(buf, r.ptr);
  }
  void Hash(std::string_view key, const Sha256& h) {
    Key(key);
    char buf[66];
    buf[0] = '"';
    for (std::size_t i = 0; i < h.size(); ++i) {
      buf[1 + 2 * i] = kHexDigits[h[i] >> 4];
      buf[2 + 2 * i] = kHexDigits[h[i] & 0xf];
    }
    buf[65] = '"';
    out_->append(buf, sizeof(buf));
  }
  void End() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

void WriteLocation(const Location& loc, std::string* out) {
  ObjectWriter w(out);
  w.OptString("name", loc.name);
  w.OptString("city", loc.city);
  w.OptString("region", loc.region);
  w.OptString("country", loc.country);
  w.OptString("unlocode", loc.unlocode);
  if (loc.lat) w.Double("lat", *loc.lat);
  if (loc.lon) w.Double("lon", *loc.lon);
  w.End();
}

}  // namespace

namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0 when
// none starts there (Unicode table 3-7: no overlong forms, surrogates or values past
// U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
  };
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
    const unsigned b = at(k);
    return b >= lo && b <= hi;
  };
  const unsigned c = at(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

void AppendEscapedAscii(unsigned char c, std::string* out) {
  if (c == '"') {
    out->append("\\\"");
  } else if (c == '\\') {
    out->append("\\\\");
  } else if (c < 0x20) {
    const char esc[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xf]};
    out->append(esc, sizeof(esc));
  } else {
    out->push_back(static_cast<char>(c));
  }
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  const std::size_t start = out->size();
  out->push_back('"');
  std::size_t run = 0;
  unsigned char seen = 0;  // OR of every byte: 0x80 set when any is not ASCII
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    seen |= c;
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    AppendEscapedAscii(c, out);
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
  if ((seen & 0x80) == 0 || simdjson::validate_utf8(s.data(), s.size())) return;
  // Not UTF-8 (binary in a dead letter, a byte of garbage quoted in a reason): JSON text must
  // be UTF-8, so each byte outside a well-formed sequence becomes U+FFFD.
  out->resize(start);
  out->push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      AppendEscapedAscii(c, out);
      ++i;
    } else if (const std::size_t n = Utf8SequenceLength(s, i); n != 0) {
      out->append(s.data() + i, n);
      i += n;
    } else {
      out->append("\\ufffd");
      ++i;
    }
  }
  out->push_back('"');
}

void AppendEventJson(const Event& event, std::string* out) {
  const bool ledger = event.ledger.seq != 0;
  ObjectWriter w(out);
  if (ledger) w.Unsigned("seq", event.ledger.seq);
  w.String("event_id", event.event_id);
  w.Plain("kind", ToString(event.kind));
  w.Unsigned("schema_version", event.schema_version);
  w.Time("occurred_at", event.occurred_at);
  w.Plain("occurred_offset", FormatOffset(event.occurred_offset_minutes));
  if (ledger) w.Time("recorded_at", event.ledger.recorded_at);

  w.Key("source");
  {
    ObjectWriter s(out);
    s.Plain("system", ToString(event.source.system));
    s.String("format", event.source.format);
    s.OptString("partner", event.source.partner);
    s.OptString("principal", event.source.principal);
    s.End();
  }
  w.String("shipment_id", event.shipment_id);
  w.OptString("order_id", event.order_id);
  w.OptString("customer_id", event.customer_id);
  w.OptString("carrier", event.carrier);
  if (!event.references.empty()) {
    w.Key("references");
    out->push_back('[');
    for (std::size_t i = 0; i < event.references.size(); ++i) {
      if (i != 0) out->push_back(',');
      ObjectWriter r(out);
      r.String("type", event.references[i].type);
      r.String("value", event.references[i].value);
      r.End();
    }
    out->push_back(']');
  }
  w.OptString("correlation_id", event.correlation_id);
  if (event.status) w.Plain("status", ToString(*event.status));
  w.OptString("source_code", event.source_code);
  w.OptString("reason_code", event.reason_code);
  if (event.location) {
    w.Key("location");
    WriteLocation(*event.location, out);
  }
  if (event.estimate) {
    w.Key("estimate");
    ObjectWriter e(out);
    e.Time("estimated_at", event.estimate->estimated_at);
    e.Plain("of", ToString(event.estimate->of));
    e.Time("issued_at", event.estimate->issued_at);
    e.End();
  }
  if (event.charges) {
    const Charges& ch = *event.charges;
    w.Key("charges");
    ObjectWriter c(out);
    c.Plain("basis", ToString(ch.basis));
    c.OptString("document", ch.document);
    c.String("currency", ch.currency);
    c.Plain("total", FormatMoney(ch.total, ch.currency));
    c.Key("lines");
    out->push_back('[');
    for (std::size_t i = 0; i < ch.lines.size(); ++i) {
      if (i != 0) out->push_back(',');
      const ChargeLine& line = ch.lines[i];
      ObjectWriter l(out);
      l.String("code", line.code);
      l.OptString("description", line.description);
      l.Plain("amount", FormatMoney(line.amount, line.currency));
      l.String("currency", line.currency);
      l.End();
    }
    out->push_back(']');
    c.End();
  }
  if (event.order) {
    w.Key("order");
    ObjectWriter o(out);
    if (event.order->ship_to) {
      o.Key("ship_to");
      WriteLocation(*event.order->ship_to, out);
    }
    if (event.order->promised) {
      const Promise& p = *event.order->promised;
      o.Key("promised");
      ObjectWriter pw(out);
      pw.OptString("date", p.date);
      if (p.window_start) pw.Time("window_start", *p.window_start);
      if (p.window_end) pw.Time("window_end", *p.window_end);
      pw.End();
    }
    o.End();
  }
  if (event.document) {
    w.Key("document");
    ObjectWriter d(out);
    d.String("type", event.document->type);
    d.OptString("number", event.document->number);
    d.End();
  }
  if (!IsZero(event.raw_hash)) w.Hash("raw_hash", event.raw_hash);
  if (ledger) {
    w.Hash("prev_hash", event.ledger.prev_hash);
    w.Hash("hash", event.ledger.hash);
  }
  w.End();
}

std::string EventToJson(const Event& event) {
  std::string out;
  out.reserve(512);
  AppendEventJson(event, &out);
  return out;
}

}  // namespace waybill
