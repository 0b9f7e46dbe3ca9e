// waybill rebuild --data-dir DIR [--view NAME] [--shipment ID]
// waybill republish --data-dir DIR --from SEQ [--to SEQ] [--shipment ID]
//
// Both need to write the views family. When `waybill serve` holds the data dir they send
// the request to it over its control socket (server/control_socket.h) and it does the work
// online; otherwise they open the data dir themselves. With --server URL they send it to
// the server's HTTP API instead (POST /v1/admin/rebuild, POST /v1/admin/republish).
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "cli/progress.h"
#include "projections/projector.h"
#include "schemas/event_json.h"
#include "server/api/shipment_index.h"
#include "server/control_socket.h"

namespace waybill::cli {
namespace {

// Runs `request` on the server holding `data_dir`; prints its answer. Returns the exit code.
int AskServer(const char* command, const std::string& data_dir, const std::string& request) {
  auto response = server::ControlRequest(server::ControlSocketPath(data_dir), request);
  if (!response.ok()) {
    ReportError(command, response.status().ToString());
    return kExitIoError;
  }
  if (response->rfind("{\"ok\":true", 0) != 0) {
    ReportError(command, "the server refused: " + *response);
    return kExitIoError;
  }
  std::cout << *response << std::endl;
  return kExitOk;
}

// POSTs `body` to `target` and prints the server's answer ({"ok":true,...}) as offline.
int PostOnline(const char* command, const OnlineOptions& online, const std::string& data_dir,
               const std::string& target, const std::string& body) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open(command, online, data_dir, &open_rc);
  if (!session) return open_rc;
  Result<client::HttpReply> reply = Status::Internal("not sent");
  {
    Spinner spinner(command);  // the server answers once the work is done
    reply = session->Call("POST", target, body);
  }
  if (!reply.ok()) return session->Failed(reply.status());
  if (!IsSuccess(reply->status)) return session->Refused(*reply);
  std::cout << MinifyJson(reply->body) << std::endl;
  return kExitOk;
}

// Opens the data dir for writing; nullptr with *busy set when a server holds it.
std::unique_ptr<ledger::Ledger> OpenForWrite(const char* command, const std::string& data_dir,
                                             bool* busy) {
  ledger::LedgerOptions options;
  options.create_if_missing = false;
  options.holder = std::string("waybill ") + command;
  auto ledger = ledger::Ledger::Open(data_dir, options);
  *busy = false;
  if (ledger.ok()) return std::move(ledger).value();
  if (ledger.status().code() == ErrorCode::kBusy) {
    *busy = true;
  } else {
    ReportError(command, ledger.status().ToString());
  }
  return nullptr;
}

}  // namespace

int RunRebuild(int argc, char** argv) {
  const CommandSpec spec{
      "rebuild", "waybill rebuild (--data-dir DIR | --server URL) [--view NAME]... [--shipment ID]",
      "Drops views (all, or --view status|eta|freight_cost) and refolds them from the log; "
      "the result is byte-identical to incremental folding. "
      "While `waybill serve` runs, the server does it: it builds a shadow copy and swaps it in "
      "atomically, and queries keep answering. Publishes nothing (see `waybill republish`). "
      "With --server URL the request goes to that server's HTTP API (token scope admin). "
      "Prints {\"ok\":true,\"checkpoint\":N,\"elapsed_ms\":N}.",
      "waybill rebuild --data-dir ./waybill-data --view status"};
  std::string data_dir, shipment;
  std::vector<std::string> view_names;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online, 3600);
  options.add_options()("view", po::value<std::vector<std::string>>(&view_names),
                        "status, eta or freight_cost; repeatable (default: all)")(
      "shipment", po::value<std::string>(&shipment), "only this shipment's views");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  std::vector<projections::ViewKind> views;
  for (const auto& name : view_names) {
    auto kind = projections::ParseViewKind(name);
    if (!kind) {
      ReportError("rebuild",
                  "--view: unknown view \"" + name + "\"; views are status, eta and freight_cost");
      return kExitUsage;
    }
    views.push_back(*kind);
  }
  if (online.enabled()) {
    std::string body = "{";
    if (!views.empty()) {
      body += "\"views\":[";
      for (std::size_t i = 0; i < views.size(); ++i) {
        if (i > 0) body.push_back(',');
        AppendJsonString(projections::ToString(views[i]), &body);
      }
      body += "]";
    }
    if (!shipment.empty()) {
      body += views.empty() ? "\"shipment\":" : ",\"shipment\":";
      AppendJsonString(shipment, &body);
    }
    body += "}";
    return PostOnline("rebuild", online, data_dir, "/v1/admin/rebuild", body);
  }
  if (views.empty()) {
    views.assign(std::begin(projections::kAllViews), std::end(projections::kAllViews));
  }
  bool busy = false;
  auto ledger = OpenForWrite("rebuild", data_dir, &busy);
  if (busy) {
    std::string request = "{\"op\":\"rebuild\",\"views\":[";
    for (std::size_t i = 0; i < views.size(); ++i) {
      if (i > 0) request.push_back(',');
      AppendJsonString(projections::ToString(views[i]), &request);
    }
    request.push_back(']');
    if (!shipment.empty()) {
      request.append(",\"shipment\":");
      AppendJsonString(shipment, &request);
    }
    request.push_back('}');
    return AskServer("rebuild", data_dir, request);
  }
  if (!ledger) return kExitIoError;
  auto projector = projections::Projector::Open(*ledger);
  if (!projector.ok()) {
    ReportError("rebuild", projector.status().ToString());
    return kExitIoError;
  }
  // Fold what was appended since the worker last ran (queuing its view updates for
  // publishing as usual), so the rebuild covers the whole log.
  if (auto caught_up = (*projector)->CatchUp(); !caught_up.ok()) {
    ReportError("rebuild", caught_up.status().ToString());
    return kExitIoError;
  }
  const auto started = std::chrono::steady_clock::now();
  Status st = shipment.empty() ? (*projector)->Rebuild(views)
                               : (*projector)->RebuildShipment(shipment, views);
  // The HTTP API's shipment list index is derived from the views: brought in line here so the
  // next `waybill serve` lists what the rebuilt views say.
  const std::uint64_t checkpoint = (*projector)->checkpoint().last_seq;
  if (st.ok()) {
    if (shipment.empty()) {
      st = server::api::ShipmentIndex::Rebuild(*ledger, checkpoint);
    } else if (auto index = server::api::ShipmentIndex::Open(*ledger, checkpoint); index.ok()) {
      st = (*index)->Refresh({shipment}, (*index)->through_seq());
    } else {
      st = index.status();
    }
  }
  if (!st.ok()) {
    ReportError("rebuild", st.ToString());
    return kExitIoError;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::cout << "{\"ok\":true,\"checkpoint\":" << checkpoint << ",\"elapsed_ms\":" << ms << "}"
            << std::endl;
  return kExitOk;
}

int RunRepublish(int argc, char** argv) {
  const CommandSpec spec{
      "republish",
      "waybill republish (--data-dir DIR | --server URL) --from SEQ [--to SEQ] [--shipment ID]",
      "Queues again for publishing the canonical events with sequence in [SEQ, TO] (on "
      "waybill.events.<kind>.<shipment>) and the current views of every shipment they touch "
      "(on waybill.views.<view>.<customer>.<shipment>), for consumers that lost data on their "
      "side. Message ids are the originals. While `waybill serve` runs the server queues them; "
      "otherwise they go out when it next starts. With --server URL the request goes to that "
      "server's HTTP API (token scope admin). Prints {\"ok\":true,\"events\":N,\"views\":N}.",
      "waybill republish --data-dir ./waybill-data --from 1 --to 5000"};
  std::string data_dir, shipment;
  std::uint64_t from = 0, to = UINT64_MAX;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online, 3600);
  options.add_options()("from", po::value<std::uint64_t>(&from)->required(),
                        "first ledger sequence")("to", po::value<std::uint64_t>(&to),
                                                 "last ledger sequence (default: the head)")(
      "shipment", po::value<std::string>(&shipment), "only this shipment's events and views");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  if (from == 0 || to < from) {
    ReportError("republish", "--from must be >= 1 and --to >= --from");
    return kExitUsage;
  }
  if (online.enabled()) {
    std::string body = "{\"from\":" + std::to_string(from);
    if (to != UINT64_MAX) body += ",\"to\":" + std::to_string(to);
    if (!shipment.empty()) {
      body.append(",\"shipment\":");
      AppendJsonString(shipment, &body);
    }
    body.push_back('}');
    return PostOnline("republish", online, data_dir, "/v1/admin/republish", body);
  }
  bool busy = false;
  auto ledger = OpenForWrite("republish", data_dir, &busy);
  if (busy) {
    std::string request = "{\"op\":\"republish\",\"from\":" + std::to_string(from);
    if (to != UINT64_MAX) request += ",\"to\":" + std::to_string(to);
    if (!shipment.empty()) {
      request.append(",\"shipment\":");
      AppendJsonString(shipment, &request);
    }
    request.push_back('}');
    return AskServer("republish", data_dir, request);
  }
  if (!ledger) return kExitIoError;
  auto projector = projections::Projector::Open(*ledger);
  if (!projector.ok()) {
    ReportError("republish", projector.status().ToString());
    return kExitIoError;
  }
  // Views must be current before their current versions are queued.
  if (auto caught_up = (*projector)->CatchUp(); !caught_up.ok()) {
    ReportError("republish", caught_up.status().ToString());
    return kExitIoError;
  }
  auto r = (*projector)
               ->Republish(from, to,
                           shipment.empty() ? std::nullopt : std::optional<std::string>(shipment));
  if (!r.ok()) {
    ReportError("republish", r.status().ToString());
    return kExitIoError;
  }
  std::cout << "{\"ok\":true,\"events\":" << r->events << ",\"views\":" << r->views << "}"
            << std::endl;
  return kExitOk;
}

}  // namespace waybill::cli
