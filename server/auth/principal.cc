#include "server/auth/principal.h"

#include <algorithm>
#include <string>

namespace waybill::server::auth {

bool Principal::HasScope(std::string_view scope) const {
  if (local_admin) return true;
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

bool Principal::CanIngest(std::string_view format) const {
  if (HasScope(kScopeIngest)) return true;
  std::string narrow(kScopeIngest);
  narrow += ':';
  narrow += format;
  return HasScope(narrow);
}

bool Principal::CanSee(const std::optional<std::string>& shipment_customer) const {
  if (!customer.has_value()) return true;
  // A confined token must never see a shipment whose owner is not yet known: the owner may
  // turn out to be another customer once the ERP event arrives.
  return shipment_customer.has_value() && *shipment_customer == *customer;
}

}  // namespace waybill::server::auth
