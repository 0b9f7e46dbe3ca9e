#include "server/nats_intake.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "ingest/append_pipeline.h"
#include "ingest/message_intake.h"

namespace waybill::server {
namespace {

// Sleeps up to `d`, returning early when stop is requested.
void Pause(const std::stop_token& stop, std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

std::string FormatOfSubject(std::string_view subject) {
  const auto dot = subject.rfind('.');
  return std::string(dot == std::string_view::npos ? subject : subject.substr(dot + 1));
}

NatsIntake::NatsIntake(nats::NatsClient& client, ledger::Ledger& ledger,
                       const ingest::IntakeConfig& config, NatsIntakeOptions options)
    : client_(client), ledger_(ledger), config_(config), options_(std::move(options)) {}

void NatsIntake::Run(std::stop_token stop) {
  ingest::MessageIntake intake(config_);
  std::unique_ptr<nats::PullConsumer> consumer;
  bool reported = false;  // an outage is logged once, and its end once
  constexpr std::chrono::milliseconds kFirstBackoff(500), kMaxBackoff(5000);
  std::chrono::milliseconds append_backoff(0);  // 0: the last append worked
  auto report = [&](const Status& st) {
    if (!reported) spdlog::warn("NATS intake waiting: {}", st.ToString());
    reported = true;
  };
  while (!stop.stop_requested()) {
    if (!consumer) {
      Status st = client_.EnsureStream({options_.stream, {options_.subjects}, -1, 0, 120});
      if (st.ok()) {
        auto made = client_.MakePullConsumer(options_.stream, options_.durable, options_.subjects,
                                             options_.ack_wait_seconds);
        if (made.ok()) {
          consumer = std::move(made).value();
        } else {
          st = made.status();
        }
      }
      if (!consumer) {
        report(st);
        Pause(stop, std::chrono::milliseconds(500));
        continue;
      }
    }
    auto fetched = consumer->Fetch(options_.batch, 500);
    if (!fetched.ok()) {
      report(fetched.status());
      Pause(stop, std::chrono::milliseconds(500));
      continue;
    }
    if (reported) spdlog::info("NATS intake: receiving from {} again", options_.stream);
    reported = false;
    if (fetched->empty()) continue;

    ingest::AppendPipeline pipeline(ledger_);
    for (const auto& m : *fetched) {
      ingest::MessageOrigin origin;
      origin.origin = m.subject;
      origin.principal = "nats";
      if (auto it = m.headers.find(kPartnerHeader); it != m.headers.end() && !it->second.empty()) {
        origin.partner = it->second;
      }
      intake.Submit(FormatOfSubject(m.subject), m.payload, origin, pipeline);
    }
    auto summary = pipeline.Finish();
    if (!summary.ok()) {
      // Nothing is acked: NATS redelivers the batch (after the NAK's delay, or ack_wait), and
      // what did land is deduplicated. Logged once per failing streak; the wait doubles up to
      // kMaxBackoff so a full disk is not hammered.
      if (append_backoff == std::chrono::milliseconds(0)) {
        spdlog::error(
            "NATS intake: appending {} messages failed, they stay unacked and will be "
            "redelivered (retrying with backoff): {}",
            fetched->size(), summary.status().ToString());
        append_backoff = kFirstBackoff;
      } else {
        append_backoff = std::min(append_backoff * 2, kMaxBackoff);
      }
      for (auto& m : *fetched) m.Nak(static_cast<int>(append_backoff.count())).IgnoreError();
      Pause(stop, append_backoff);
      continue;
    }
    if (append_backoff != std::chrono::milliseconds(0)) {
      spdlog::info("NATS intake: appending works again");
      append_backoff = std::chrono::milliseconds(0);
    }
    for (const auto& r : summary->rejects) {
      spdlog::warn("NATS intake: {} rejected (dead letter {}): {}", r.origin, r.dead_letter_id,
                   r.reason);
    }
    // Everything fetched is durable now: the acks go out without a round trip each, and one
    // flush (a PING/PONG after them) confirms the server has them. An ack lost on the way only
    // means a redelivery, which the ledger recognises as a duplicate. (One AckSync per message
    // capped intake at one round trip per message: ~3,800 events/s at one event per message.)
    std::uint64_t sent = 0;
    Status ack_error;
    for (auto& m : *fetched) {
      Status st = m.AckAsync();
      if (st.ok()) {
        ++sent;
      } else if (ack_error.ok()) {
        ack_error = st;
      }
    }
    if (Status flushed = client_.Flush(5000); !flushed.ok() && ack_error.ok()) ack_error = flushed;
    if (!ack_error.ok()) {
      spdlog::warn(
          "NATS intake: acks for {} messages may be lost (those messages will be redelivered "
          "and absorbed as duplicates): {}",
          fetched->size(), ack_error.ToString());
    } else {
      acked_.fetch_add(sent);
    }
  }
}

}  // namespace waybill::server
