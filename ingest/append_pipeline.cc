#include "ingest/append_pipeline.h"

namespace waybill::ingest {

AppendPipeline::AppendPipeline(ledger::Ledger& ledger, std::size_t max_events_in_flight)
    : ledger_(ledger), max_events_in_flight_(max_events_in_flight) {}

AppendPipeline::~AppendPipeline() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ == 0; });
}

void AppendPipeline::Submit(ledger::AppendBatch batch, BatchOrigins origins) {
  const std::size_t n = batch.events.size() + batch.dead_letters.size();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock,
             [&] { return in_flight_ == 0 || events_in_flight_ + n <= max_events_in_flight_; });
    ++in_flight_;
    events_in_flight_ += n;
  }
  ledger_.AppendAsync(std::move(batch), [this, n, origins = std::move(origins)](
                                            Result<ledger::AppendResult> r) mutable {
    std::lock_guard<std::mutex> lock(mu_);
    events_in_flight_ -= n;
    if (!r.ok()) {
      if (first_error_.ok()) first_error_ = r.status();
    } else {
      ImportSummary part;
      for (const auto& o : r->events) {
        if (o.duplicate) {
          ++part.duplicates;
        } else {
          ++part.accepted;
          if (part.first_seq == 0) part.first_seq = o.seq;
          part.last_seq = o.seq;
        }
      }
      for (std::size_t i = 0; i < origins.dead_letters.size(); ++i) {
        Reject rej = std::move(origins.dead_letters[i]);
        if (i < r->dead_letter_ids.size()) rej.dead_letter_id = r->dead_letter_ids[i];
        part.rejects.push_back(std::move(rej));
        ++part.rejected;
      }
      summary_.Merge(part);
    }
    --in_flight_;
    cv_.notify_all();
  });
}

Result<ImportSummary> AppendPipeline::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  if (!first_error_.ok()) return first_error_;
  return summary_;
}

}  // namespace waybill::ingest
