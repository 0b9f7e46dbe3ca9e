// Verifies bearer tokens: JWTs (libjwt) signed HS256 with a shared secret or RS256 with an
// RSA public key (PEM), both from files named in the configuration; and, when no key is
// configured, the random local admin token kept in DATA_DIR/admin.token.
//
// A JWT is accepted only when: its header's alg is the configured one (never "none", never
// HS256 when RS256 is configured); the signature verifies; "exp" is present and in the
// future and "nbf" (when present) is not in the future, with `leeway` either way; "iss"
// equals the configured issuer and "aud" (a string, or an array containing it) the
// configured audience, when those are configured; and "sub" is a non-empty string.
// Errors are Unauthenticated with a message saying which check failed ("token expired at
// 2026-11-27T10:00:00Z", "signature does not verify", "issuer \"x\" is not the configured
// \"y\""); messages never contain the token.
//
// Tokens longer than 8 KiB are refused before decoding. The JWT header is checked by Waybill
// itself before libjwt sees the token, and signatures are verified with OpenSSL (HMAC compared
// in constant time) before libjwt verifies them again: libjwt 1.x compares HMACs with strcmp
// and has had alg confusion bugs. Verified tokens are cached (keyed by their SHA-256, at most
// about 10k) until exp + leeway, so a client re-sending its token costs a hash and a lookup.
// The local admin token is read once by Create; replacing the file needs a restart.
//
// Thread-safety: Authenticate is safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "schemas/result.h"
#include "server/auth/principal.h"

namespace waybill::server::auth {

struct AuthConfig {
  std::string jwt_secret_file;      // HS256 secret (raw file bytes, trailing newline trimmed)
  std::string jwt_public_key_file;  // RS256 public key, PEM
  std::string issuer;               // empty: "iss" not checked
  std::string audience;             // empty: "aud" not checked
  std::chrono::seconds leeway{30};  // clock skew allowed on exp/nbf
  // Where admin.token lives (the data dir). With neither key file configured, Create makes
  // DATA_DIR/admin.token (mode 0600, 32 random bytes hex) if it is missing and accepts it.
  std::string data_dir;
  // Unix seconds now, for exp/nbf. Empty: the system clock. Tests inject their own.
  std::function<std::int64_t()> now_unix;
};

// The local admin token file of a data dir.
std::string AdminTokenPath(const std::string& data_dir);

// Reads DATA_DIR/admin.token (trimmed); NotFound when there is none.
[[nodiscard]] Result<std::string> ReadAdminToken(const std::string& data_dir);

class Authenticator {
 public:
  // Errors: InvalidArgument when a key file cannot be read or parsed, an HS256 secret is
  // shorter than 32 bytes, or an RS256 key is not RSA of at least 2048 bits (the message names
  // the file), when both key files are configured, or when admin.token is empty; IoError
  // when admin.token cannot be made or read.
  [[nodiscard]] static Result<std::unique_ptr<Authenticator>> Create(const AuthConfig& config);
  virtual ~Authenticator() = default;

  // `authorization` is the whole header value ("Bearer eyJ..."); empty when absent.
  // Unauthenticated when missing, not Bearer, or not valid (see above).
  [[nodiscard]] virtual Result<Principal> Authenticate(std::string_view authorization) const = 0;

  // True when tokens are JWTs (a key is configured); false: only the local admin token.
  virtual bool jwt_enabled() const = 0;
};

}  // namespace waybill::server::auth
