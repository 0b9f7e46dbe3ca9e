// Who is calling, as a verified bearer token says: OAuth 2.0 access-token claims.
// Thread-safety: a value type; const methods are safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace waybill::server::auth {

// Scope names (space-separated in the token's "scope" claim).
inline constexpr std::string_view kScopeIngest = "ingest";  // "ingest:FORMAT" for one format
inline constexpr std::string_view kScopeShipmentsRead = "shipments:read";
inline constexpr std::string_view kScopeCostsRead = "costs:read";
inline constexpr std::string_view kScopeAuditRead = "audit:read";
inline constexpr std::string_view kScopeAdmin = "admin";

struct Principal {
  std::string subject;                  // "sub"; recorded as source.principal on appends
  std::vector<std::string> scopes;      // from "scope"
  std::optional<std::string> customer;  // "customer": confines the token to its shipments
  bool local_admin = false;             // the data dir's admin.token (every scope, no customer)

  // True when the token carries `scope` exactly (local admin: always).
  bool HasScope(std::string_view scope) const;
  // True for "ingest" or "ingest:<format>".
  bool CanIngest(std::string_view format) const;
  // True when a shipment owned by `shipment_customer` is visible: no customer claim, or the
  // same customer. A shipment with no known customer yet is invisible to confined tokens.
  bool CanSee(const std::optional<std::string>& shipment_customer) const;
};

}  // namespace waybill::server::auth
