#include "server/auth/token_mint.h"

#include <jwt.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace waybill::server::auth {

namespace {

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct MallocDeleter {
  void operator()(char* p) const { std::free(p); }
};

Status CheckClaims(const TokenClaims& claims) {
  if (claims.subject.empty()) return Status::Invalid("token subject is empty");
  if (claims.expires_at <= 0) return Status::Invalid("token expires_at must be positive");
  return Status::Ok();
}

Status AddString(jwt_t* jwt, const char* name, const std::string& value) {
  // libjwt takes C strings: an embedded NUL would silently shorten the claim.
  if (value.find('\0') != std::string::npos) {
    return Status::Invalid(std::string("token claim ") + name + " contains a NUL byte");
  }
  if (jwt_add_grant(jwt, name, value.c_str()) != 0) {
    return Status::Internal(std::string("jwt_add_grant ") + name + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status AddInt(jwt_t* jwt, const char* name, std::int64_t value) {
  static_assert(sizeof(long) == sizeof(std::int64_t), "libjwt takes claims as long");
  if (jwt_add_grant_int(jwt, name, static_cast<long>(value)) != 0) {
    return Status::Internal(std::string("jwt_add_grant_int ") + name + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::string> Mint(const TokenClaims& claims, jwt_alg_t alg, std::string_view key) {
  WAYBILL_RETURN_IF_ERROR(CheckClaims(claims));
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Status::Internal("jwt_new failed");
  JwtPtr jwt(raw);
  WAYBILL_RETURN_IF_ERROR(AddString(jwt.get(), "sub", claims.subject));
  if (!claims.scope.empty()) WAYBILL_RETURN_IF_ERROR(AddString(jwt.get(), "scope", claims.scope));
  if (claims.customer) WAYBILL_RETURN_IF_ERROR(AddString(jwt.get(), "customer", *claims.customer));
  if (claims.issuer) WAYBILL_RETURN_IF_ERROR(AddString(jwt.get(), "iss", *claims.issuer));
  if (claims.audience) WAYBILL_RETURN_IF_ERROR(AddString(jwt.get(), "aud", *claims.audience));
  WAYBILL_RETURN_IF_ERROR(AddInt(jwt.get(), "exp", claims.expires_at));
  if (claims.not_before) WAYBILL_RETURN_IF_ERROR(AddInt(jwt.get(), "nbf", *claims.not_before));
  if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0) {
    return Status::Internal(std::string("jwt_set_alg: ") + std::strerror(errno));
  }
  std::unique_ptr<char, MallocDeleter> encoded(jwt_encode_str(jwt.get()));
  if (encoded == nullptr) {
    return Status::Invalid(std::string("cannot sign the token with ") + jwt_alg_str(alg) + ": " +
                           std::strerror(errno));
  }
  return std::string(encoded.get());
}

}  // namespace

Result<std::string> MintHs256(const TokenClaims& claims, std::string_view secret) {
  if (secret.size() < 32) {
    return Status::Invalid("HS256 secret is " + std::to_string(secret.size()) +
                           " bytes, at least 32 are needed");
  }
  return Mint(claims, JWT_ALG_HS256, secret);
}

Result<std::string> MintRs256(const TokenClaims& claims, std::string_view private_key_pem) {
  // libjwt only says EINVAL at signing time; parse first so the caller learns why.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())), BIO_free);
  if (bio == nullptr) return Status::Internal("BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  ERR_clear_error();  // a failed parse leaves entries in this thread's OpenSSL error queue
  if (key == nullptr) return Status::Invalid("RS256 key is not a PEM private key");
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return Status::Invalid("RS256 key is not an RSA private key");
  }
  return Mint(claims, JWT_ALG_RS256, private_key_pem);
}

}  // namespace waybill::server::auth
