#include "ingest/dead_letter_ops.h"

#include "schemas/time.h"

namespace waybill::ingest {
namespace {

Result<ledger::DeadLetter> LoadPending(ledger::Ledger& ledger, std::uint64_t id) {
  auto dl = ledger.GetDeadLetter(id);
  if (!dl.ok()) return dl.status();
  if (dl->state != ledger::DeadLetterState::kPending) {
    return Status::Invalid("dead letter " + std::to_string(id) + " is already " +
                           std::string(ledger::ToString(dl->state)) +
                           (dl->resolution ? " (" + *dl->resolution + ")" : ""));
  }
  return dl;
}

}  // namespace

Result<RetryOutcome> RetryDeadLetter(ledger::Ledger& ledger, std::uint64_t id,
                                     const AdapterOptions& adapters,
                                     const PartnerProfiles& profiles,
                                     const std::string& operator_principal) {
  auto loaded = LoadPending(ledger, id);
  if (!loaded.ok()) return loaded.status();
  ledger::DeadLetter dl = std::move(loaded).value();
  auto adapter = MakeAdapter(dl.format, adapters);
  if (!adapter.ok()) {
    return Status::Invalid("dead letter " + std::to_string(id) + ": " + adapter.status().message());
  }

  // Re-map the whole unit; only the message that failed decides the outcome. Other
  // messages in the same unit were either stored already (their events come back as
  // duplicates) or have dead letters of their own.
  AdapterContext ctx;
  ctx.partner = dl.partner;
  ctx.profiles = &profiles;
  ctx.received_at = dl.received_at;
  // The raw bytes are the failed message's unit. When they hold just that message its
  // position is relative to the unit now ("$" rather than "$[2]"), so it is taken as is;
  // a unit of several messages (an X12 interchange) is searched by position. A dead letter
  // at an enclosing position ("ISA 000000905", the X12 adapter's one dead letter for many
  // rejected sets of an interchange) stands for every message inside it.
  std::vector<MappedMessage> messages;
  (*adapter)->Map(dl.raw, ctx, [&](MappedMessage&& m) {
    m.unit = {};  // a view into dl.raw; not needed past this point
    messages.push_back(std::move(m));
  });
  std::vector<Event> events;
  std::vector<std::string> reasons;
  bool found = false;
  for (auto& m : messages) {
    if (messages.size() > 1 && dl.position && m.position != *dl.position &&
        !m.position.starts_with(*dl.position + "/")) {
      continue;
    }
    found = true;
    reasons.insert(reasons.end(), m.errors.begin(), m.errors.end());
    for (auto& e : m.events) events.push_back(std::move(e));
  }
  if (!found) {
    reasons.push_back("the message at " + dl.position.value_or("?") +
                      " is no longer found when the input is mapped again");
  }

  RetryOutcome outcome;
  outcome.id = id;
  dl.attempts += 1;
  dl.updated_at = NowUnixNanos();
  dl.updated_by = operator_principal;
  ledger::AppendBatch batch;
  if (!reasons.empty()) {
    dl.reasons = reasons;
    dl.resolution =
        "retry " + std::to_string(dl.attempts) + " by " + operator_principal + " still fails";
    outcome.reasons = std::move(reasons);
  } else {
    ledger::PreparedRaw raw =
        ledger::PrepareRaw(dl.raw, dl.format, dl.partner,
                           dl.origin.value_or("dead letter " + std::to_string(id)), dl.received_at);
    for (Event& e : events) {
      e.raw_hash = raw.hash;
      e.source.principal = dl.principal;
      batch.events.push_back(ledger::PrepareEvent(e, 0));
    }
    batch.raws.push_back(std::move(raw));
    dl.state = ledger::DeadLetterState::kResolved;
    dl.resolution = "retried by " + operator_principal + ": " + std::to_string(events.size()) +
                    " event(s) mapped";
    outcome.resolved = true;
  }
  batch.dead_letter_updates.push_back(std::move(dl));
  auto appended = ledger.Append(std::move(batch));
  if (!appended.ok()) return appended.status();
  for (const auto& o : appended->events) (o.duplicate ? outcome.duplicates : outcome.accepted)++;
  return outcome;
}

Status DropDeadLetter(ledger::Ledger& ledger, std::uint64_t id,
                      const std::string& operator_principal, const std::string& reason) {
  auto loaded = LoadPending(ledger, id);
  if (!loaded.ok()) return loaded.status();
  ledger::DeadLetter dl = std::move(loaded).value();
  dl.state = ledger::DeadLetterState::kDropped;
  dl.updated_at = NowUnixNanos();
  dl.updated_by = operator_principal;
  dl.resolution = "dropped by " + operator_principal + (reason.empty() ? "" : ": " + reason);
  ledger::AppendBatch batch;
  batch.dead_letter_updates.push_back(std::move(dl));
  auto appended = ledger.Append(std::move(batch));
  return appended.ok() ? Status::Ok() : appended.status();
}

}  // namespace waybill::ingest
