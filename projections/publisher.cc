#include "projections/publisher.h"

#include <spdlog/spdlog.h>

#include "ledger/key_layout.h"
#include "projections/outbox_resolver.h"
#include "projections/store_layout.h"
#include "schemas/event_json.h"
#include "schemas/time.h"

namespace waybill::projections {
namespace {

std::string_view CursorKey(Publisher::Source source) {
  return source == Publisher::Source::kOutbox ? kOutboxCursorKey : kEventFeedCursorKey;
}

std::string HealthKey(Publisher::Source source) {
  std::string key(kPublisherStateKey);
  key.push_back(source == Publisher::Source::kOutbox ? 'o' : 'e');
  return key;
}

const char* SourceName(Publisher::Source source) {
  return source == Publisher::Source::kOutbox ? "view outbox" : "event feed";
}

// A view payload's "updated_at" (see ShipmentView::AppendJson). The header is rendered
// first, and a quote inside a JSON string is always escaped, so the first `,"updated_at":"`
// is the header's key: no JSON parse needed. nullopt for a payload without one.
std::optional<UnixNanos> ViewUpdatedAt(std::string_view payload) {
  constexpr std::string_view kKey = ",\"updated_at\":\"";
  const std::size_t at = payload.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  payload.remove_prefix(at + kKey.size());
  const std::size_t end = payload.find('"');
  if (end == std::string_view::npos) return std::nullopt;
  auto t = ParseRfc3339(payload.substr(0, end));
  if (!t.ok()) return std::nullopt;
  return t->utc;
}

// Health record: failing:u8 | since:i64be | error bytes.
std::string EncodeHealth(const PublisherHealth& h) {
  std::string out;
  out.push_back(h.failing ? 1 : 0);
  ledger::PutI64BE(h.since, &out);
  out.append(h.error);
  return out;
}

}  // namespace

Publisher::Publisher(Source source, ledger::Ledger& ledger, MessageSink& sink,
                     PublisherOptions options)
    : source_(source), ledger_(ledger), sink_(sink), options_(options) {}

Result<std::uint64_t> Publisher::Cursor() const {
  auto bytes = ledger_.GetAux(ledger::AuxSpace::kViews, CursorKey(source_));
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return std::uint64_t{0};
    return bytes.status();
  }
  return DecodeU64(*bytes, "publisher cursor");
}

Result<std::size_t> Publisher::PublishBatch() {
  auto cursor = Cursor();
  if (!cursor.ok()) return cursor.status();
  std::vector<OutMessage> messages;
  std::vector<std::uint64_t> positions;
  std::vector<UnixNanos> event_recorded_at;  // kEventFeed: per message, for on_published
  if (source_ == Source::kOutbox) {
    Status decode;
    std::vector<OutboxEntry> entries;
    WAYBILL_RETURN_IF_ERROR(ledger_.ScanAux(
        ledger::AuxSpace::kOutbox, EncodeU64(*cursor + 1), "",
        [&](std::string_view key, std::string_view value) {
          const std::uint64_t position = ledger::GetU64BE(key.data());
          auto entry = DecodeOutboxEntry(value);
          if (!entry.ok()) {
            decode = Status(entry.status().code(), "outbox entry " + std::to_string(position) +
                                                       ": " + entry.status().message());
            return false;
          }
          positions.push_back(position);
          entries.push_back(std::move(entry).value());
          return entries.size() < options_.max_batch;
        }));
    WAYBILL_RETURN_IF_ERROR(decode);
    auto resolved = ResolveOutboxEntries(ledger_, positions, std::move(entries), options_.rendered);
    if (!resolved.ok()) return resolved.status();
    messages = std::move(resolved).value();
  } else {
    const std::uint64_t head = ledger_.Head().seq;
    if (head > *cursor) {
      WAYBILL_RETURN_IF_ERROR(ledger_.ReadRange(
          *cursor + 1, std::min<std::uint64_t>(head, *cursor + options_.max_batch),
          [&](const Event& e) {
            positions.push_back(e.ledger.seq);
            event_recorded_at.push_back(e.ledger.recorded_at);
            messages.push_back(EventMessage(e));
            return true;
          }));
    }
  }
  if (messages.empty()) return std::size_t{0};
  auto acked = sink_.PublishOrdered(messages);
  if (!acked.ok()) return acked.status();
  const UnixNanos acked_at = options_.on_published ? NowUnixNanos() : 0;
  if (*acked == 0) {
    return Status::IoError(std::string(SourceName(source_)) +
                           ": the message sink acknowledged nothing");
  }
  const std::uint64_t last = positions[*acked - 1];
  ledger::AuxBatch batch;
  batch.Put(ledger::AuxSpace::kViews, std::string(CursorKey(source_)), EncodeU64(last));
  if (source_ == Source::kOutbox) {
    batch.DeleteRange(ledger::AuxSpace::kOutbox, EncodeU64(positions.front()), EncodeU64(last + 1));
  }
  WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(batch));
  if (source_ == Source::kOutbox && options_.rendered != nullptr) {
    options_.rendered->DropThrough(last);
  }
  if (options_.on_published) {
    std::vector<PublishedMessage> published(*acked);
    for (std::size_t i = 0; i < *acked; ++i) {
      published[i].message = &messages[i];
      published[i].recorded_at = source_ == Source::kEventFeed
                                     ? std::optional<UnixNanos>(event_recorded_at[i])
                                     : ViewUpdatedAt(messages[i].payload);
    }
    options_.on_published(published, acked_at);
  }
  return *acked;
}

Result<std::size_t> Publisher::PublishPending() {
  std::size_t total = 0;
  while (true) {
    auto n = PublishBatch();
    if (!n.ok()) return n.status();
    total += *n;
    if (*n < options_.max_batch) return total;
  }
}

void Publisher::RecordHealth(const Status& status) {
  const bool failing = !status.ok();
  if (failing == failing_) return;
  failing_ = failing;
  PublisherHealth h{failing, NowUnixNanos(), failing ? status.ToString() : std::string()};
  if (failing) {
    spdlog::warn(
        "{}: publishing failed, views stay queued and will be sent in order when it "
        "recovers: {}",
        SourceName(source_), status.ToString());
  } else {
    spdlog::info("{}: publishing recovered", SourceName(source_));
  }
  ledger::AuxBatch batch;
  batch.Put(ledger::AuxSpace::kViews, HealthKey(source_), EncodeHealth(h));
  if (Status st = ledger_.WriteAux(batch); !st.ok()) {
    spdlog::warn("{}: cannot record publisher health: {}", SourceName(source_), st.ToString());
  }
}

void Publisher::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto n = PublishPending();
    RecordHealth(n.ok() ? Status::Ok() : n.status());
    const auto wait = n.ok() ? options_.idle_wait : options_.retry_wait;
    if (n.ok() && *n > 0) continue;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, stop, wait, [&] { return notified_; });
    notified_ = false;
  }
}

void Publisher::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
  }
  cv_.notify_one();
}

Result<PublisherHealth> ReadPublisherHealth(const ledger::Ledger& ledger,
                                            Publisher::Source source) {
  auto bytes = ledger.GetAux(ledger::AuxSpace::kViews, HealthKey(source));
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return PublisherHealth{};
    return bytes.status();
  }
  if (bytes->size() < 9) return Status::Corruption("publisher health record is truncated");
  PublisherHealth h;
  h.failing = (*bytes)[0] != 0;
  h.since = ledger::GetI64BE(bytes->data() + 1);
  h.error = bytes->substr(9);
  return h;
}

}  // namespace waybill::projections
