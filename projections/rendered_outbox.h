// View updates the projection worker rendered for the outbox references it committed, kept
// in memory for the publisher, so the outbox itself stores ~40-byte references
// (outbox.h, entry version 2) and the publisher normally sends what the worker rendered
// instead of folding the shipment again.
//
// Bounded by bytes: while the publisher is behind (NATS down), the worker stops rendering
// once the bound is reached and the publisher renders the rest from the log
// (outbox_resolver.h) when it gets to them. Memory only: after a restart everything is
// rendered from the log.
//
// Thread-safety: all methods are safe from any thread (the worker adds, the publisher finds
// and drops).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "projections/outbox.h"

namespace waybill::projections {

class RenderedOutbox {
 public:
  explicit RenderedOutbox(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Whether more messages may be added now: the worker renders only then.
  [[nodiscard]] bool HasRoom() const;

  // Keeps `messages` as the renderings of outbox seqs first_seq, first_seq + 1, ... (the
  // worker's batch just committed), as many as fit.
  void Add(std::uint64_t first_seq, std::vector<OutMessage> messages);

  // A copy of the rendering of `outbox_seq`, nullopt when it is not kept.
  [[nodiscard]] std::optional<OutMessage> Find(std::uint64_t outbox_seq) const;

  // Forgets every rendering up to and including `outbox_seq` (published).
  void DropThrough(std::uint64_t outbox_seq);

  [[nodiscard]] std::size_t bytes() const;
  [[nodiscard]] std::size_t size() const;

 private:
  static std::size_t Bytes(const OutMessage& m) {
    return m.subject.size() + m.msg_id.size() + m.payload.size() + 96;  // + node and strings
  }

  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::map<std::uint64_t, OutMessage> messages_;  // guarded by mu_
  std::size_t bytes_ = 0;                         // guarded by mu_
};

}  // namespace waybill::projections
