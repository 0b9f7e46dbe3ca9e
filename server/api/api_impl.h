// Internals of the HTTP API shared by its route files (api.cc, shipment_routes.cc,
// ingest_route.cc, audit_routes.cc, admin_routes.cc). Not a public header.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "ingest/message_intake.h"
#include "server/api/api.h"
#include "server/api/idempotency_store.h"
#include "server/api/router.h"
#include "server/api/shipment_index.h"
#include "server/api/work_queue.h"

namespace waybill::server::api {

namespace beast_http = http::beast_http;

// Beast (Boost 1.74) speaks boost::string_view.
inline std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// One routed, authenticated request.
struct Call {
  http::Request request;
  const RouteSpec* route = nullptr;
  std::vector<std::string> params;
  QueryParams query;
  auth::Principal principal;
  http::Respond respond;  // wraps the server's, recording metrics
};

// An answer for a route: status and JSON body (plus optional headers).
http::Response JsonResponse(const http::Request& request, beast_http::status status,
                            std::string body);
http::Response ErrorResponse(const http::Request& request, beast_http::status status,
                             std::string_view code, std::string_view message,
                             std::string_view details_json = "{}");

// Removes DATA_DIR/backups, the checkpoints a previous server left behind (backup_routes.cc):
// only a running server hands them out, so at start none is in use.
void RemoveLeftoverBackups(const std::string& data_dir);

// Query parameter helpers: a bad value is a 400 naming the parameter.
struct ParamError {
  std::string message;
};
std::optional<std::uint64_t> ParseUintParam(const QueryParams& q, std::string_view name,
                                            std::uint64_t min, std::uint64_t max,
                                            std::optional<ParamError>* error);
// Rejects parameters not in `allowed` (a typo should not silently widen a query).
std::optional<ParamError> CheckParams(const QueryParams& q,
                                      std::initializer_list<std::string_view> allowed);

// The result of reading a shipment for a principal, shared by HTTP and NATS.
struct ShipmentRead {
  int status = 200;  // 200, 304, 400, 404, 500
  std::string body;  // JSON (the error object when status >= 400)
  std::string etag;  // "S.E.C", quoted
};

class Api::Impl {
 public:
  Impl(ApiDeps deps, ApiOptions options, std::unique_ptr<ShipmentIndex> index);
  ~Impl();

  void Handle(http::Request request, const http::ConnectionInfo& connection, http::Respond respond);
  void OnViewsCommitted(std::span<const Event> events,
                        std::span<const projections::CommittedViews> views);
  void BeginShutdown() { shutting_down_.store(true); }
  QueryReply QueryShipment(std::string_view authorization, std::string_view payload);

  // Routes (one per RouteId), in their files.
  void GetShipment(Call& call);
  void ListShipments(Call& call);
  void ShipmentEvents(Call& call);
  void EventFeed(Call& call);
  void LedgerHead(Call& call);
  void LedgerVerify(Call& call);
  void Ingest(Call& call);
  void AdminRebuild(Call& call);
  void AdminRepublish(Call& call);
  void AdminDlqList(Call& call);
  void AdminDlqShow(Call& call);
  void AdminDlqRetry(Call& call);
  void AdminDlqDrop(Call& call);
  void AdminStats(Call& call);
  void AdminBackupCreate(Call& call);
  void AdminBackupFile(Call& call);
  void AdminBackupDelete(Call& call);
  void Metrics(Call& call);
  void Healthz(Call& call);
  void Readyz(Call& call);

  ShipmentRead ReadShipment(const auth::Principal& principal, std::string_view shipment_id,
                            std::optional<std::string_view> as_of,
                            std::optional<std::string_view> if_none_match);

  ApiDeps deps_;
  ApiOptions options_;
  std::unique_ptr<ShipmentIndex> index_;
  IdempotencyStore idempotency_;
  std::atomic<bool> shutting_down_{false};

 private:
  void Dispatch(Call& call);
  void RecordRequest(std::size_t route_index, std::string_view method, unsigned status,
                     double seconds);
  std::unique_ptr<ingest::MessageIntake> TakeIntake();
  void ReturnIntake(std::unique_ptr<ingest::MessageIntake> intake);
  void IndexLoop(std::stop_token stop);
  void RegisterCollectors();
  void BeginIngest();
  void EndIngest();

 public:
  // Blocks until every accepted ingest request has been answered.
  void WaitForIngests();

 private:
  std::mutex ingest_mu_;
  std::condition_variable ingest_cv_;
  std::size_t ingests_in_flight_ = 0;  // guarded by ingest_mu_

  // Message intakes are per thread at a time; a small pool serves the I/O threads.
  std::mutex intake_mu_;
  std::vector<std::unique_ptr<ingest::MessageIntake>> intakes_;

  // Shipments committed by the worker, with their list attributes, waiting for the index
  // thread.
  std::mutex dirty_mu_;
  std::condition_variable_any dirty_cv_;
  std::unordered_map<std::string, ShipmentSummary> dirty_;
  std::uint64_t dirty_from_seq_ = UINT64_MAX;  // guarded by dirty_mu_
  std::uint64_t dirty_through_seq_ = 0;        // guarded by dirty_mu_

  // Metric series, looked up once: per route, per status code class of interest.
  // Index kRoutes.size() stands for "no route" (404/405 before routing).
  static constexpr std::array<unsigned, 14> kStatuses{200, 304, 400, 401, 403, 404, 405,
                                                      409, 413, 422, 429, 431, 500, 503};
  std::unique_ptr<std::array<std::atomic<metrics::Counter*>, kStatuses.size()>[]> request_counters_;
  std::unique_ptr<std::array<std::atomic<metrics::Histogram*>, kStatuses.size()>[]>
      request_seconds_;
  metrics::Counter* ingest_accepted_ = nullptr;
  metrics::Counter* ingest_duplicates_ = nullptr;
  metrics::Counter* ingest_rejected_ = nullptr;
  metrics::Histogram* ingest_batch_events_ = nullptr;
  // Dead letters by format and partner, counted from the ledger at scrape time.
  std::mutex dead_letter_mu_;
  std::uint64_t dead_letters_seen_through_ = 0;
  std::map<std::pair<std::string, std::string>, std::uint64_t> dead_letters_by_source_;
  // Checkpoints under DATA_DIR/backups handed out by POST /v1/admin/backups, by id: the
  // files (name, size) a client may read. Only listed names are ever opened.
  std::mutex backups_mu_;
  std::map<std::string, std::vector<std::pair<std::string, std::uint64_t>>> backups_;

 public:
  // Last members: stopped first (their jobs use everything above).
  WorkQueue completions_;   // builds ingest answers after the group commit
  WorkQueue operations_;    // rebuild, republish, verify, dlq retry: one at a time
  WorkQueue backup_reads_;  // backup file chunks: disk reads kept off the I/O threads
  std::jthread index_thread_;
};

}  // namespace waybill::server::api
