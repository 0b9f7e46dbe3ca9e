// The publishers' sink in `waybill serve`: JetStream through NatsClient.
// Thread-safety: as NatsClient::PublishOrdered (safe from any thread).
#pragma once

#include <string>
#include <utility>

#include "projections/publisher.h"
#include "server/nats/nats_client.h"

namespace waybill::server {

class NatsSink final : public projections::MessageSink {
 public:
  // `stream` is the JetStream stream the messages go to (the publisher's resend after a
  // failure then skips what it already holds: NatsClient::PublishOrdered).
  NatsSink(nats::NatsClient& client, std::string stream, int timeout_ms = 5000)
      : client_(client), stream_(std::move(stream)), timeout_ms_(timeout_ms) {}
  Result<std::size_t> PublishOrdered(const std::vector<projections::OutMessage>& messages) override;

 private:
  nats::NatsClient& client_;
  const std::string stream_;
  const int timeout_ms_;
};

}  // namespace waybill::server
