// waybill send --nats URL --format FORMAT [--partner ID] FILE...
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "server/nats/nats_client.h"
#include "server/nats_intake.h"

namespace waybill::cli {

int RunSend(int argc, char** argv) {
  const CommandSpec spec{
      "send", "waybill send --nats URL --format FORMAT [--partner ID] FILE...",
      "Publishes each FILE as one message to the JetStream intake subject "
      "waybill.ingest.<FORMAT> (header Waybill-Partner when --partner is given) and waits for "
      "JetStream's ack: a test and operations tool for feeding a running `waybill serve`. The "
      "stream WAYBILL_INGEST is created if missing. Prints {\"sent\":N}.",
      "waybill send --nats nats://127.0.0.1:4222 --format x12 --partner ACME status.edi"};
  std::string url, format, partner;
  std::vector<std::string> files;
  po::options_description options("options");
  options.add_options()("help", "show this help")("nats", po::value<std::string>(&url)->required(),
                                                  "NATS server URL")(
      "format", po::value<std::string>(&format)->required(), "message format (subject token)")(
      "partner", po::value<std::string>(&partner), "trading partner (Waybill-Partner header)")(
      "file", po::value<std::vector<std::string>>(&files)->required(), "files to send");
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  std::vector<nats::NatsClient::OutMessage> messages;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      ReportError("send", "cannot read " + f);
      return kExitIoError;
    }
    std::ostringstream data;
    data << in.rdbuf();
    nats::NatsClient::OutMessage m;
    m.subject = "waybill.ingest." + format;
    m.payload = data.str();
    if (!partner.empty()) m.headers.emplace_back(server::kPartnerHeader, partner);
    messages.push_back(std::move(m));
  }
  nats::NatsOptions nopts;
  nopts.url = url;
  nopts.name = "waybill send";
  auto client = nats::NatsClient::Connect(nopts);
  if (!client.ok()) {
    ReportError("send", client.status().ToString());
    return kExitIoError;
  }
  for (int i = 0; i < 100 && !(*client)->connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!(*client)->connected()) {
    ReportError("send", "cannot connect to NATS at " + url);
    return kExitIoError;
  }
  Status st = (*client)->EnsureStream({"WAYBILL_INGEST", {"waybill.ingest.>"}, -1, 0, 120});
  if (!st.ok()) {
    ReportError("send", st.ToString());
    return kExitIoError;
  }
  auto acked = (*client)->PublishOrdered(messages, 10000);
  if (!acked.ok() || *acked != messages.size()) {
    ReportError("send", acked.ok() ? "only " + std::to_string(*acked) + " of " +
                                         std::to_string(messages.size()) + " messages were acked"
                                   : acked.status().ToString());
    return kExitIoError;
  }
  std::cout << "{\"sent\":" << *acked << "}" << std::endl;
  return kExitOk;
}

}  // namespace waybill::cli
