#include "server/nats_sink.h"

namespace waybill::server {

Result<std::size_t> NatsSink::PublishOrdered(const std::vector<projections::OutMessage>& messages) {
  if (!client_.connected()) {
    return Status::IoError("NATS at " + client_.url() + " is not connected");
  }
  std::vector<nats::NatsClient::OutMessage> out;
  out.reserve(messages.size());
  for (const auto& m : messages) {
    out.push_back({m.subject, m.payload, m.msg_id, {}});
  }
  return client_.PublishOrdered(out, timeout_ms_, nullptr, stream_);
}

}  // namespace waybill::server
