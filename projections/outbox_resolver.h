// Turns outbox entries into the messages the publisher sends.
//
// A whole message (entry version 1: Republish) is itself. A view reference (version 2, what
// the worker queues) is the worker's own rendering when RenderedOutbox still holds it, else
// it is rendered again: the referenced shipment's events up to the reference's sequence are
// folded into a fresh view. Folds are deterministic per shipment and a rebuild equals the
// incremental views byte for byte, so that is exactly the message the worker would have
// queued; a version that does not match is reported as corruption, never sent.
//
// Thread-safety: reads the ledger (and `rendered`) only; safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ledger/ledger.h"
#include "projections/outbox.h"
#include "projections/rendered_outbox.h"

namespace waybill::projections {

// The messages of `entries` (outbox seqs `outbox_seqs`, in outbox order), in that order.
// `rendered` may be null (everything referenced is rendered from the log). One read of each
// referenced shipment's events serves all of its references in the call.
[[nodiscard]] Result<std::vector<OutMessage>> ResolveOutboxEntries(
    const ledger::Ledger& ledger, std::span<const std::uint64_t> outbox_seqs,
    std::vector<OutboxEntry> entries, const RenderedOutbox* rendered);

}  // namespace waybill::projections
