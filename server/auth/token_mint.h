// Signs JWT access tokens that Authenticator accepts: for tests, benchmarks and a developer's
// `waybill token` command. Production tokens come from the identity provider, not from here.
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/result.h"

namespace waybill::server::auth {

struct TokenClaims {
  std::string subject;                     // "sub"; must not be empty
  std::string scope;                       // "scope", space-separated; empty: claim left out
  std::optional<std::string> customer;     // "customer"
  std::optional<std::string> issuer;       // "iss"
  std::optional<std::string> audience;     // "aud" (a single string)
  std::int64_t expires_at = 0;             // "exp", unix seconds; must be positive
  std::optional<std::int64_t> not_before;  // "nbf", unix seconds
};

// A compact JWS ("header.payload.signature") signed HS256 with `secret` (at least 32 bytes,
// as Authenticator requires). InvalidArgument for an empty subject, a non-positive
// expires_at or a short secret.
[[nodiscard]] Result<std::string> MintHs256(const TokenClaims& claims, std::string_view secret);

// The same signed RS256 with an RSA private key in PEM (PKCS#8 or traditional). InvalidArgument
// also when the key does not parse.
[[nodiscard]] Result<std::string> MintRs256(const TokenClaims& claims,
                                            std::string_view private_key_pem);

}  // namespace waybill::server::auth
