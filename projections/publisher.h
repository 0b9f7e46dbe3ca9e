// Publishers: drain the outbox (view updates) and tail the log (the canonical event feed)
// to a message sink, in order, advancing their cursor only after the sink acknowledged.
//
// The sink is NATS JetStream in `waybill serve` (server/), a fake in unit tests. Every
// message carries a Nats-Msg-Id, so a re-send after a crash between the sink's ack and the
// cursor write is dropped by JetStream's duplicate window: subscribers see each message
// once. While the sink fails (NATS down) the outbox grows, the failure is logged once and
// recorded for `waybill stats`, and publishing resumes in order when the sink is back.
//
// Thread-safety: a publisher runs on one thread (Run, or PublishPending calls); Notify may
// be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <vector>

#include "ledger/ledger.h"
#include "projections/outbox.h"
#include "projections/rendered_outbox.h"

namespace waybill::projections {

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Publishes `messages` in order; returns how many of them, counted from the first, were
  // acknowledged (the rest must be sent again). An error means none were.
  [[nodiscard]] virtual Result<std::size_t> PublishOrdered(
      const std::vector<OutMessage>& messages) = 0;
};

// One message the sink acknowledged, as PublisherOptions::on_published reports it.
struct PublishedMessage {
  const OutMessage* message = nullptr;  // valid during the callback only
  // recorded_at of the newest event the message reflects: the event's own for the event
  // feed; for a view update, its "updated_at" (the recorded_at of the last event that
  // changed the view). nullopt when the payload does not tell.
  std::optional<UnixNanos> recorded_at;
};

struct PublisherOptions {
  std::size_t max_batch = 512;
  // kOutbox: the worker's renderings of the view updates it queued (ProjectorOptions::
  // rendered_outbox); null, or one not kept there, and the publisher renders the update from
  // the log (outbox_resolver.h). Must outlive the publisher.
  RenderedOutbox* rendered = nullptr;
  std::chrono::milliseconds idle_wait{100};   // poll when nothing signals new work
  std::chrono::milliseconds retry_wait{500};  // after a failed publish
  // Optional, for metrics (portal freshness). Called on the publisher's thread after each
  // batch the sink acknowledged and the cursor moved past, with the acknowledged messages in
  // order and the wall-clock time the acknowledgement came back. A message is reported once
  // unless the process stops between the ack and the cursor write (it is sent again then).
  // Republished messages are reported again with their original recorded_at. Must be quick
  // and must not throw.
  std::function<void(std::span<const PublishedMessage> messages, UnixNanos acked_at)> on_published;
};

// What a publisher last saw, kept in the views family for `waybill stats`.
struct PublisherHealth {
  bool failing = false;
  UnixNanos since = 0;
  std::string error;  // when failing
};

class Publisher {
 public:
  enum class Source { kOutbox, kEventFeed };
  // The ledger and sink must outlive the publisher. kOutbox needs a read-write ledger.
  Publisher(Source source, ledger::Ledger& ledger, MessageSink& sink,
            PublisherOptions options = {});

  // Publishes what is pending now, in batches, until nothing is left or the sink fails.
  // Returns the number of messages published.
  [[nodiscard]] Result<std::size_t> PublishPending();

  // PublishPending until `stop`, waiting for Notify (or idle_wait) when idle and retry_wait
  // after a failure.
  void Run(std::stop_token stop);

  // Wakes Run: new entries may be pending.
  void Notify();

  // The cursor: last published outbox seq (kOutbox) or ledger seq (kEventFeed).
  [[nodiscard]] Result<std::uint64_t> Cursor() const;

 private:
  Result<std::size_t> PublishBatch();
  void RecordHealth(const Status& status);

  const Source source_;
  ledger::Ledger& ledger_;
  MessageSink& sink_;
  const PublisherOptions options_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool notified_ = false;  // guarded by mu_
  bool failing_ = false;   // Run's thread only
};

// The health record `source`'s publisher last wrote; default (healthy) when none.
[[nodiscard]] Result<PublisherHealth> ReadPublisherHealth(const ledger::Ledger& ledger,
                                                          Publisher::Source source);

}  // namespace waybill::projections
