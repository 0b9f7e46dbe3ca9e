// NATS intake: the JetStream stream WAYBILL_INGEST on waybill.ingest.>, read through a
// durable pull consumer. The subject's last token names the format (waybill.ingest.x12,
// waybill.ingest.dcsa-tnt, ...), the header Waybill-Partner the partner. A fetched batch is
// mapped and appended through one AppendPipeline; its messages are acked only once all of
// the batch's events and dead letters are durable. A crash before the ack makes NATS
// redeliver, and the ledger's idempotency absorbs the second copy.
// Thread-safety: Run on one thread.
#pragma once

#include <stop_token>
#include <string>

#include "ingest/intake_config.h"
#include "ledger/ledger.h"
#include "server/nats/nats_client.h"

namespace waybill::server {

struct NatsIntakeOptions {
  std::string stream = "WAYBILL_INGEST";
  std::string subjects = "waybill.ingest.>";
  std::string durable = "waybill";
  int batch = 256;
  int ack_wait_seconds = 60;
};

inline constexpr const char* kPartnerHeader = "Waybill-Partner";

class NatsIntake {
 public:
  // All references must outlive the intake.
  NatsIntake(nats::NatsClient& client, ledger::Ledger& ledger, const ingest::IntakeConfig& config,
             NatsIntakeOptions options = {});

  // Fetches and ingests until `stop`; a batch in progress is finished and acked first.
  // NATS outages are logged and waited out.
  void Run(std::stop_token stop);

  // Messages acked so far (for tests and logs).
  std::uint64_t acked() const { return acked_.load(); }

 private:
  nats::NatsClient& client_;
  ledger::Ledger& ledger_;
  const ingest::IntakeConfig& config_;
  const NatsIntakeOptions options_;
  std::atomic<std::uint64_t> acked_{0};
};

// The format a subject names: its last token ("waybill.ingest.x12" -> "x12").
std::string FormatOfSubject(std::string_view subject);

}  // namespace waybill::server
