#include "ingest/append_pipeline.h"

#include <spdlog/spdlog.h>

#include "schemas/correlation.h"

namespace waybill::ingest {

AppendPipeline::AppendPipeline(ledger::Ledger& ledger, std::size_t max_events_in_flight)
    : ledger_(ledger), max_events_in_flight_(max_events_in_flight) {}

AppendPipeline::~AppendPipeline() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ == 0 && !finishing_; });
}

void AppendPipeline::Submit(ledger::AppendBatch batch, BatchOrigins origins) {
  const std::size_t n = batch.events.size() + batch.dead_letters.size();
  const std::uint64_t index = batches_submitted_++;
  std::vector<std::string> event_ids;
  if (record_events_) {
    event_ids.reserve(batch.events.size());
    for (const auto& e : batch.events) event_ids.push_back(e.event_id);
  }
  // Per-event log lines (debug) carry the correlation tag; collected only when they print.
  std::vector<std::string> log_lines;
  if (spdlog::should_log(spdlog::level::debug)) {
    for (const auto& e : batch.events) {
      log_lines.push_back("event " + e.event_id + " " + CorrelationTag(e.order_id, e.shipment_id));
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock,
             [&] { return in_flight_ == 0 || events_in_flight_ + n <= max_events_in_flight_; });
    ++in_flight_;
    events_in_flight_ += n;
    if (record_events_ && batch_events_.size() <= index) batch_events_.resize(index + 1);
  }
  ledger_.AppendAsync(
      std::move(batch),
      [this, n, index, event_ids = std::move(event_ids), log_lines = std::move(log_lines),
       origins = std::move(origins)](Result<ledger::AppendResult> r) mutable {
        std::function<void(Result<ImportSummary>)> finished;
        std::unique_lock<std::mutex> lock(mu_);
        events_in_flight_ -= n;
        if (!r.ok()) {
          if (first_error_.ok()) first_error_ = r.status();
        } else {
          ImportSummary part;
          for (std::size_t i = 0; i < r->events.size(); ++i) {
            const auto& o = r->events[i];
            if (o.duplicate) {
              ++part.duplicates;
            } else {
              ++part.accepted;
              if (part.first_seq == 0) part.first_seq = o.seq;
              part.last_seq = o.seq;
            }
            if (i < log_lines.size()) {
              spdlog::debug("{} {} at seq {}", o.duplicate ? "duplicate" : "appended", log_lines[i],
                            o.seq);
            }
            if (record_events_ && i < event_ids.size()) {
              batch_events_[index].push_back({std::move(event_ids[i]), o.seq, o.duplicate});
            }
          }
          for (std::size_t i = 0; i < origins.dead_letters.size(); ++i) {
            Reject rej = std::move(origins.dead_letters[i]);
            if (i < r->dead_letter_ids.size()) rej.dead_letter_id = r->dead_letter_ids[i];
            spdlog::info("dead letter {} from {}{}: {}", rej.dead_letter_id, rej.origin,
                         rej.line != 0 ? " line " + std::to_string(rej.line) : std::string(),
                         rej.reason);
            part.rejects.push_back(std::move(rej));
            ++part.rejected;
          }
          summary_.Merge(part);
        }
        --in_flight_;
        if (in_flight_ == 0 && on_finished_) finished = std::move(on_finished_);
        if (!finished) {
          cv_.notify_all();
          return;
        }
        lock.unlock();
        // `finishing_` keeps the destructor waiting until the callback has returned.
        finished(TakeResult());
        lock.lock();
        finishing_ = false;
        cv_.notify_all();
      });
}

Result<ImportSummary> AppendPipeline::TakeResult() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!first_error_.ok()) return first_error_;
  ImportSummary out = std::move(summary_);
  for (auto& part : batch_events_) {
    for (auto& e : part) out.events.push_back(std::move(e));
  }
  batch_events_.clear();
  return out;
}

Result<ImportSummary> AppendPipeline::Finish() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  return TakeResult();
}

void AppendPipeline::FinishAsync(std::function<void(Result<ImportSummary>)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
    if (in_flight_ != 0) {
      on_finished_ = std::move(done);
      return;
    }
  }
  done(TakeResult());
  std::lock_guard<std::mutex> lock(mu_);
  finishing_ = false;
  cv_.notify_all();
}

}  // namespace waybill::ingest
