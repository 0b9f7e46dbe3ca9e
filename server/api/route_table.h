// Every route of the HTTP API, in one table: the router dispatches from it and a test checks
// schemas/openapi.yaml against it (same paths, same methods), so the description cannot
// drift from the server. Path templates use OpenAPI's {param} syntax.
#pragma once

#include <array>
#include <string_view>

namespace waybill::server::api {

enum class RouteId {
  kIngest,
  kGetShipment,
  kListShipments,
  kShipmentEvents,
  kEventFeed,
  kLedgerHead,
  kLedgerVerify,
  kAdminRebuild,
  kAdminRepublish,
  kAdminDlqList,
  kAdminDlqShow,
  kAdminDlqRetry,
  kAdminDlqDrop,
  kAdminStats,
  kAdminBackupCreate,
  kAdminBackupFile,
  kAdminBackupDelete,
  kMetrics,
  kHealthz,
  kReadyz,
};

struct RouteSpec {
  RouteId id;
  std::string_view method;  // "GET", "POST", "DELETE"
  std::string_view path;    // "/v1/shipments/{id}"
  std::string_view scope;   // required scope; "" for open routes; "ingest" means ingest[:fmt]
};

inline constexpr std::array<RouteSpec, 20> kRoutes{{
    {RouteId::kIngest, "POST", "/v1/ingest/{format}", "ingest"},
    {RouteId::kGetShipment, "GET", "/v1/shipments/{id}", "shipments:read"},
    {RouteId::kListShipments, "GET", "/v1/shipments", "shipments:read"},
    {RouteId::kShipmentEvents, "GET", "/v1/shipments/{id}/events", "audit:read"},
    {RouteId::kEventFeed, "GET", "/v1/events", "audit:read"},
    {RouteId::kLedgerHead, "GET", "/v1/ledger/head", "audit:read"},
    {RouteId::kLedgerVerify, "GET", "/v1/ledger/verify", "audit:read"},
    {RouteId::kAdminRebuild, "POST", "/v1/admin/rebuild", "admin"},
    {RouteId::kAdminRepublish, "POST", "/v1/admin/republish", "admin"},
    {RouteId::kAdminDlqList, "GET", "/v1/admin/dlq", "admin"},
    {RouteId::kAdminDlqShow, "GET", "/v1/admin/dlq/{id}", "admin"},
    {RouteId::kAdminDlqRetry, "POST", "/v1/admin/dlq/{id}/retry", "admin"},
    {RouteId::kAdminDlqDrop, "DELETE", "/v1/admin/dlq/{id}", "admin"},
    {RouteId::kAdminStats, "GET", "/v1/admin/stats", "admin"},
    {RouteId::kAdminBackupCreate, "POST", "/v1/admin/backups", "admin"},
    {RouteId::kAdminBackupFile, "GET", "/v1/admin/backups/{id}/files/{name}", "admin"},
    {RouteId::kAdminBackupDelete, "DELETE", "/v1/admin/backups/{id}", "admin"},
    {RouteId::kMetrics, "GET", "/metrics", ""},
    {RouteId::kHealthz, "GET", "/healthz", ""},
    {RouteId::kReadyz, "GET", "/readyz", ""},
}};

}  // namespace waybill::server::api
