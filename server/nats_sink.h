// The publishers' sink in `waybill serve`: JetStream through NatsClient.
// Thread-safety: as NatsClient::PublishOrdered (safe from any thread).
#pragma once

#include "projections/publisher.h"
#include "server/nats/nats_client.h"

namespace waybill::server {

class NatsSink final : public projections::MessageSink {
 public:
  explicit NatsSink(nats::NatsClient& client, int timeout_ms = 5000)
      : client_(client), timeout_ms_(timeout_ms) {}
  Result<std::size_t> PublishOrdered(const std::vector<projections::OutMessage>& messages) override;

 private:
  nats::NatsClient& client_;
  const int timeout_ms_;
};

}  // namespace waybill::server
