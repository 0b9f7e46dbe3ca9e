#include "projections/rendered_outbox.h"

#include <utility>

namespace waybill::projections {

bool RenderedOutbox::HasRoom() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_ < max_bytes_;
}

void RenderedOutbox::Add(std::uint64_t first_seq, std::vector<OutMessage> messages) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::size_t size = Bytes(messages[i]);
    if (bytes_ + size > max_bytes_) break;  // the rest are rendered from the log
    if (messages_.try_emplace(first_seq + i, std::move(messages[i])).second) bytes_ += size;
  }
}

std::optional<OutMessage> RenderedOutbox::Find(std::uint64_t outbox_seq) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = messages_.find(outbox_seq);
  if (it == messages_.end()) return std::nullopt;
  return it->second;
}

void RenderedOutbox::DropThrough(std::uint64_t outbox_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto end = messages_.upper_bound(outbox_seq);
  for (auto it = messages_.begin(); it != end; ++it) bytes_ -= Bytes(it->second);
  messages_.erase(messages_.begin(), end);
}

std::size_t RenderedOutbox::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

std::size_t RenderedOutbox::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_.size();
}

}  // namespace waybill::projections
