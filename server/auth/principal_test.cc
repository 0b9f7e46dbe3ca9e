// Scope and customer rules of a verified principal.
#include "server/auth/principal.h"

#include <doctest/doctest.h>

namespace waybill::server::auth {
namespace {

Principal WithScopes(std::vector<std::string> scopes) {
  Principal p;
  p.subject = "svc";
  p.scopes = std::move(scopes);
  return p;
}

TEST_CASE("HasScope matches whole scope names only") {
  const Principal p = WithScopes({"shipments:read", "ingest:x12"});
  CHECK(p.HasScope(kScopeShipmentsRead));
  CHECK_FALSE(p.HasScope("shipments"));
  CHECK_FALSE(p.HasScope("shipments:read:extra"));
  CHECK_FALSE(p.HasScope("SHIPMENTS:READ"));
  CHECK_FALSE(p.HasScope(kScopeIngest));  // a narrow ingest scope is not the broad one
  CHECK_FALSE(p.HasScope(kScopeAdmin));
  CHECK_FALSE(WithScopes({}).HasScope(kScopeShipmentsRead));
}

TEST_CASE("CanIngest: the broad scope covers every format, a narrow one only its own") {
  const Principal broad = WithScopes({"ingest"});
  CHECK(broad.CanIngest("x12"));
  CHECK(broad.CanIngest("dcsa-tnt"));

  const Principal narrow = WithScopes({"ingest:x12", "shipments:read"});
  CHECK(narrow.CanIngest("x12"));
  CHECK_FALSE(narrow.CanIngest("X12"));
  CHECK_FALSE(narrow.CanIngest("x1"));
  CHECK_FALSE(narrow.CanIngest("x12 "));
  CHECK_FALSE(narrow.CanIngest("canonical"));

  CHECK_FALSE(WithScopes({"shipments:read"}).CanIngest("x12"));
  CHECK_FALSE(WithScopes({"ingest:"}).CanIngest("x12"));
}

TEST_CASE("the local admin has every scope and sees every shipment") {
  Principal admin;
  admin.subject = "local-admin";
  admin.local_admin = true;
  CHECK(admin.HasScope(kScopeAdmin));
  CHECK(admin.HasScope(kScopeCostsRead));
  CHECK(admin.CanIngest("epcis"));
  CHECK(admin.CanSee(std::nullopt));
  CHECK(admin.CanSee(std::string("ACME")));
}

TEST_CASE("CanSee: a customer claim confines the token to that customer's shipments") {
  const Principal open = WithScopes({"shipments:read"});
  CHECK(open.CanSee(std::nullopt));
  CHECK(open.CanSee(std::string("ACME")));

  Principal confined = WithScopes({"shipments:read"});
  confined.customer = "ACME";
  CHECK(confined.CanSee(std::string("ACME")));
  CHECK_FALSE(confined.CanSee(std::string("acme")));
  CHECK_FALSE(confined.CanSee(std::string("GLOBEX")));
  // Not yet known whose it is: invisible, since it may turn out to be someone else's.
  CHECK_FALSE(confined.CanSee(std::nullopt));
}

}  // namespace
}  // namespace waybill::server::auth
