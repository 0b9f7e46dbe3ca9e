#include "server/auth/authenticator.h"

#include <fcntl.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schemas/sha256.h"
#include "schemas/time.h"

namespace waybill::server::auth {

namespace {

constexpr std::size_t kMaxTokenBytes = 8192;
constexpr std::size_t kMinSecretBytes = 32;  // RFC 7518 3.2: at least the hash size
constexpr int kMinRsaBits = 2048;
constexpr std::size_t kMaxKeyFileBytes = 1 << 20;  // so a mistaken /dev/zero does not hang
constexpr std::size_t kAdminTokenRandomBytes = 32;
constexpr std::int64_t kMaxLeewaySeconds = 86400;
constexpr char kMissingToken[] = "missing bearer token (Authorization: Bearer TOKEN)";

// ---------------------------------------------------------------------------------------------
// Small helpers.

std::string ErrnoText() { return std::strerror(errno); }

// Reads a whole (small) file; NotFound when it does not exist, IoError otherwise.
Result<std::string> ReadSmallFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": " + ErrnoText());
    return Status::IoError(path + ": " + ErrnoText());
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status st = Status::IoError(path + ": read: " + ErrnoText());
      ::close(fd);
      return st;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxKeyFileBytes) {
      ::close(fd);
      return Status::IoError(path + ": larger than 1 MiB");
    }
  }
  ::close(fd);
  return out;
}

// Claim values come from the caller; quoted, escaped and shortened before they reach a
// message (and so a log line or a 401 body).
std::string Quote(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMax) out += "...";
  out += '"';
  return out;
}

bool HasControlChars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

std::string FormatUnixSeconds(std::int64_t seconds) {
  constexpr std::int64_t kNanosSpan = std::numeric_limits<std::int64_t>::max() / 1'000'000'000;
  if (seconds > kNanosSpan || seconds < -kNanosSpan) {
    return "unix time " + std::to_string(seconds);
  }
  return FormatUtc(seconds * 1'000'000'000);
}

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return out;
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict base64url without padding (RFC 7515 section 2). Unused trailing bits must be zero, so
// each byte string has exactly one encoding.
bool Base64UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 == 1) return false;
  out->reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = Base64UrlValue(c);
    if (v < 0) return false;
    acc = ((acc << 6) | static_cast<std::uint32_t>(v)) & 0x3fff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits == 0 || (acc & ((1u << bits) - 1)) == 0;
}

// "Authorization: Bearer TOKEN" -> TOKEN. The scheme is case-insensitive (RFC 7235 2.1).
Result<std::string_view> ExtractBearer(std::string_view authorization) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!authorization.empty() && is_space(authorization.front())) authorization.remove_prefix(1);
  while (!authorization.empty() && is_space(authorization.back())) authorization.remove_suffix(1);
  if (authorization.empty()) return Status::Unauthenticated(kMissingToken);
  std::size_t scheme_end = 0;
  while (scheme_end < authorization.size() && !is_space(authorization[scheme_end])) ++scheme_end;
  constexpr std::string_view kBearer = "bearer";
  const std::string_view scheme = authorization.substr(0, scheme_end);
  const bool bearer = scheme.size() == kBearer.size() &&
                      std::equal(scheme.begin(), scheme.end(), kBearer.begin(), [](char a, char b) {
                        return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
                      });
  // The scheme is not echoed: a client that sent a bare token would see it in the message.
  if (!bearer) {
    return Status::Unauthenticated(
        "authorization scheme is not Bearer (Authorization: Bearer TOKEN)");
  }
  std::string_view token = authorization.substr(scheme_end);
  while (!token.empty() && is_space(token.front())) token.remove_prefix(1);
  if (token.empty()) return Status::Unauthenticated(kMissingToken);
  if (token.size() > kMaxTokenBytes) {
    return Status::Unauthenticated("bearer token is longer than " + std::to_string(kMaxTokenBytes) +
                                   " bytes");
  }
  return token;
}

std::string HexEncode(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(dir + ": " + ErrnoText());
  const bool ok = ::fsync(fd) == 0;
  Status st = ok ? Status::Ok() : Status::IoError(dir + ": fsync: " + ErrnoText());
  ::close(fd);
  return st;
}

Status WriteAllAndSync(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError(path + ": write: " + ErrnoText());
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) return Status::IoError(path + ": fsync: " + ErrnoText());
  return Status::Ok();
}

// The token is written to a private temporary file and linked into place, so that a reader
// (or a crash) never sees a half-written admin.token and two processes starting at once
// agree on one token: link() fails when the name exists.
Status CreateAdminTokenFile(const std::string& data_dir, const std::string& path) {
  std::array<unsigned char, kAdminTokenRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    ERR_clear_error();
    return Status::IoError("RAND_bytes failed: no randomness for " + path);
  }
  const std::string contents = HexEncode(random.data(), random.size()) + "\n";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());  // left by a crashed process that had our pid
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + ErrnoText());
  Status st = WriteAllAndSync(fd, contents, tmp);
  if (::close(fd) != 0 && st.ok()) st = Status::IoError(tmp + ": close: " + ErrnoText());
  if (st.ok() && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    st = Status::IoError("cannot create " + path + ": " + ErrnoText());
  }
  ::unlink(tmp.c_str());
  if (!st.ok()) return st;
  return FsyncDir(data_dir);
}

// Makes DATA_DIR/admin.token when missing, tightens its mode when looser than 0600, and
// returns the token.
Result<std::string> EnsureAdminToken(const std::string& data_dir) {
  const std::string path = AdminTokenPath(data_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IoError(path + ": " + ErrnoText());
    WAYBILL_RETURN_IF_ERROR(CreateAdminTokenFile(data_dir, path));
    if (::stat(path.c_str(), &st) != 0) return Status::IoError(path + ": " + ErrnoText());
  }
  if (!S_ISREG(st.st_mode)) return Status::Invalid(path + " is not a regular file");
  if ((st.st_mode & 0077) != 0 && ::chmod(path.c_str(), 0600) != 0) {
    return Status::IoError(path + ": chmod 0600: " + ErrnoText());
  }
  Result<std::string> token = ReadAdminToken(data_dir);
  if (!token.ok()) return token.status();
  if (token->empty()) {
    return Status::Invalid(path + " is empty; delete it and a new token will be made");
  }
  return token;
}

// ---------------------------------------------------------------------------------------------
// The cache of verified tokens.

struct DigestHash {
  std::size_t operator()(const Sha256& d) const {
    std::size_t h = 0;
    // Byte 0 already picks the shard; hashing other bytes keeps a shard's buckets spread.
    std::memcpy(&h, d.data() + 8, sizeof(h));
    return h;
  }
};

// Verified tokens by SHA-256, so that the hot path skips signature checks and JSON parsing.
// Bounded: a full shard drops expired entries, then arbitrary ones. Thread-safe.
class VerifiedTokenCache {
 public:
  struct Entry {
    Principal principal;
    std::int64_t exp = 0;
    std::int64_t nbf = std::numeric_limits<std::int64_t>::min();
  };

  // The principal when `key` was verified and is still within exp/nbf (with leeway) at `now`.
  std::optional<Principal> Find(const Sha256& key, std::int64_t now, std::int64_t leeway) {
    Shard& shard = ShardOf(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) return std::nullopt;
    if (!Valid(it->second, now, leeway)) {
      // Rechecked in full so the caller gets the precise message.
      shard.entries.erase(it);
      return std::nullopt;
    }
    return it->second.principal;
  }

  void Insert(const Sha256& key, Entry entry, std::int64_t now, std::int64_t leeway) {
    Shard& shard = ShardOf(key);
    std::lock_guard lock(shard.mu);
    if (shard.entries.size() >= kPerShard) {
      std::erase_if(shard.entries, [&](const auto& e) { return !Valid(e.second, now, leeway); });
      if (shard.entries.size() >= kPerShard) shard.entries.erase(shard.entries.begin());
    }
    shard.entries.insert_or_assign(key, std::move(entry));
  }

 private:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kPerShard = 10240 / kShards;

  struct Shard {
    std::mutex mu;
    std::unordered_map<Sha256, Entry, DigestHash> entries;  // guarded by mu
  };

  static bool Valid(const Entry& e, std::int64_t now, std::int64_t leeway) {
    return SaturatingAdd(now, -leeway) < e.exp && SaturatingAdd(now, leeway) >= e.nbf;
  }
  Shard& ShardOf(const Sha256& key) { return shards_[key[0] % kShards]; }

  std::array<Shard, kShards> shards_;
};

// ---------------------------------------------------------------------------------------------
// Local admin token.

class LocalAdminAuthenticator final : public Authenticator {
 public:
  explicit LocalAdminAuthenticator(const std::string& token) : digest_(Sha256Of(token)) {}

  Result<Principal> Authenticate(std::string_view authorization) const override {
    Result<std::string_view> token = ExtractBearer(authorization);
    if (!token.ok()) return token.status();
    // Comparing digests keeps the comparison constant-time without leaking the length.
    const Sha256 presented = Sha256Of(*token);
    if (CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) != 0) {
      return Status::Unauthenticated(
          "bearer token is not the local admin token (admin.token in the data dir); no JWT key "
          "is configured, so no other token is accepted");
    }
    Principal p;
    p.subject = "local-admin";
    p.local_admin = true;
    return p;
  }

  bool jwt_enabled() const override { return false; }

 private:
  Sha256 digest_;
};

// ---------------------------------------------------------------------------------------------
// JWT.

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct MallocDeleter {
  void operator()(char* p) const { std::free(p); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Status Unauth(std::string message) { return Status::Unauthenticated(std::move(message)); }

// NumericDate (RFC 7519 2): integer or fractional seconds. Fractions are dropped; values
// beyond int64 saturate.
Result<std::optional<std::int64_t>> NumericDateClaim(simdjson::dom::object claims,
                                                     const char* name) {
  simdjson::dom::element value;
  if (claims[name].get(value) != simdjson::SUCCESS) return std::optional<std::int64_t>();
  using simdjson::dom::element_type;
  switch (value.type()) {
    case element_type::INT64:
      return std::optional<std::int64_t>(value.get_int64().value_unsafe());
    case element_type::UINT64:
      return std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::max());
    case element_type::DOUBLE: {
      const double d = std::floor(value.get_double().value_unsafe());
      if (d >= 9.2e18) return std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::max());
      if (d <= -9.2e18) {
        return std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::min());
      }
      return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    }
    default:
      return Unauth(std::string("token ") + name + " claim is not a number");
  }
}

// Absent: nullopt. Present but not a string: Unauthenticated.
Result<std::optional<std::string_view>> StringClaim(simdjson::dom::object claims,
                                                    const char* name) {
  simdjson::dom::element value;
  if (claims[name].get(value) != simdjson::SUCCESS) return std::optional<std::string_view>();
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return Unauth(std::string("token ") + name + " claim is not a string");
  }
  return std::optional<std::string_view>(text);
}

// Parses `json` (the decoded "header" or "payload", named by `what`) as a JSON object; the
// message says why it is not one. The object lives in `parser` until its next parse.
Result<simdjson::dom::object> ParseJsonObject(simdjson::dom::parser& parser, std::string_view json,
                                              const char* what) {
  simdjson::dom::element doc;
  if (const auto err = parser.parse(json.data(), json.size()).get(doc); err != simdjson::SUCCESS) {
    return Unauth(std::string("malformed token: ") + what + " is not valid JSON (" +
                  simdjson::error_message(err) + ")");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Unauth(std::string("malformed token: ") + what + " is not a JSON object");
  }
  return obj;
}

class JwtAuthenticator final : public Authenticator {
 public:
  JwtAuthenticator(const AuthConfig& config, jwt_alg_t alg, std::string key, PkeyPtr public_key)
      : alg_(alg),
        alg_name_(jwt_alg_str(alg)),
        key_(std::move(key)),
        public_key_(std::move(public_key)),
        issuer_(config.issuer),
        audience_(config.audience),
        leeway_(std::clamp<std::int64_t>(config.leeway.count(), 0, kMaxLeewaySeconds)),
        now_unix_(config.now_unix) {}

  bool jwt_enabled() const override { return true; }

  Result<Principal> Authenticate(std::string_view authorization) const override {
    Result<std::string_view> token = ExtractBearer(authorization);
    if (!token.ok()) return token.status();
    const std::int64_t now = Now();
    const Sha256 key = Sha256Of(*token);
    if (std::optional<Principal> hit = cache_.Find(key, now, leeway_)) return std::move(*hit);
    Result<VerifiedTokenCache::Entry> verified = Verify(*token, now);
    if (!verified.ok()) return verified.status();
    Principal principal = verified->principal;
    cache_.Insert(key, std::move(*verified), now, leeway_);
    return principal;
  }

 private:
  std::int64_t Now() const {
    if (now_unix_) return now_unix_();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<VerifiedTokenCache::Entry> Verify(std::string_view token, std::int64_t now) const {
    // 1. Shape: exactly header.payload.signature.
    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
      return Unauth("malformed token: not a JWT (header.payload.signature)");
    }
    const std::string_view header_b64 = token.substr(0, dot1);
    const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view signature_b64 = token.substr(dot2 + 1);
    const std::string_view signing_input = token.substr(0, dot2);

    // 2. The header, read by us before libjwt trusts it.
    WAYBILL_RETURN_IF_ERROR(CheckHeader(header_b64));
    std::string payload;
    if (payload_b64.empty() || !Base64UrlDecode(payload_b64, &payload)) {
      return Unauth("malformed token: payload is not base64url");
    }

    // 3. The signature, with OpenSSL.
    if (signature_b64.empty()) return Unauth("token has no signature");
    std::string signature;
    if (!Base64UrlDecode(signature_b64, &signature)) {
      return Unauth("malformed token: signature is not base64url");
    }
    if (!SignatureVerifies(signing_input, signature)) return Unauth("signature does not verify");
    {
      thread_local simdjson::dom::parser parser;
      Result<simdjson::dom::object> obj = ParseJsonObject(parser, payload, "payload");
      if (!obj.ok()) return obj.status();
    }

    // 4. libjwt decodes (and verifies once more). Every segment is base64url by now, so the
    // token has no NUL and a C string is faithful.
    const std::string token_c(token);
    jwt_t* raw = nullptr;
    const int rc = jwt_decode(&raw, token_c.c_str(), KeyBytes(), static_cast<int>(key_.size()));
    std::unique_ptr<jwt_t, JwtDeleter> jwt(raw);
    if (rc != 0 || jwt == nullptr) {
      // Signature and JSON passed our checks; jansson (under libjwt) is stricter: it refuses
      // integers beyond 64 bits and "\u0000" in strings.
      return Unauth(
          "malformed token: libjwt cannot read the payload (integers beyond 64 bits and NUL "
          "characters are not supported)");
    }
    if (jwt_get_alg(jwt.get()) != alg_) {
      return Unauth(std::string("token alg ") + Quote(jwt_alg_str(jwt_get_alg(jwt.get()))) +
                    " (as libjwt reads the header) is not the configured " + Quote(alg_name_));
    }
    // Claims are read from what libjwt parsed, so a payload that two JSON parsers would read
    // differently (duplicate keys) cannot pass one check and fail another.
    std::unique_ptr<char, MallocDeleter> grants(jwt_get_grants_json(jwt.get(), nullptr));
    if (grants == nullptr) return Unauth("malformed token: libjwt returned no claims");
    return CheckClaims(grants.get(), now);
  }

  Status CheckHeader(std::string_view header_b64) const {
    std::string header;
    if (header_b64.empty() || !Base64UrlDecode(header_b64, &header)) {
      return Unauth("malformed token: header is not base64url");
    }
    thread_local simdjson::dom::parser parser;
    Result<simdjson::dom::object> obj = ParseJsonObject(parser, header, "header");
    if (!obj.ok()) return obj.status();
    std::optional<std::string_view> alg;
    for (simdjson::dom::key_value_pair field : *obj) {
      if (field.key == "crit") {
        return Unauth("token header has \"crit\" extensions, which are not supported");
      }
      if (field.key != "alg") continue;
      if (alg) return Unauth("token header has more than one alg");
      std::string_view text;
      if (field.value.get_string().get(text) != simdjson::SUCCESS) {
        return Unauth("token header alg is not a string");
      }
      alg = text;
    }
    if (!alg) return Unauth("token header has no alg");
    std::string lower(*alg);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "none") return Unauth("unsigned token (alg \"none\") is not accepted");
    if (*alg != alg_name_) {
      return Unauth("token alg " + Quote(*alg) + " is not the configured " + Quote(alg_name_));
    }
    return Status::Ok();
  }

  bool SignatureVerifies(std::string_view signing_input, std::string_view signature) const {
    if (alg_ == JWT_ALG_HS256) {
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int mac_len = 0;
      if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
               reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
               mac, &mac_len) == nullptr) {
        ERR_clear_error();
        return false;
      }
      return signature.size() == mac_len && CRYPTO_memcmp(signature.data(), mac, mac_len) == 0;
    }
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    const bool ok =
        ctx != nullptr &&
        EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key_.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(),
                         reinterpret_cast<const unsigned char*>(signing_input.data()),
                         signing_input.size()) == 1;
    if (!ok) ERR_clear_error();  // the thread's error queue is not ours to fill
    return ok;
  }

  Result<VerifiedTokenCache::Entry> CheckClaims(const char* grants_json, std::int64_t now) const {
    thread_local simdjson::dom::parser parser;
    Result<simdjson::dom::object> parsed = ParseJsonObject(parser, grants_json, "payload");
    if (!parsed.ok()) return parsed.status();
    const simdjson::dom::object claims = *parsed;
    VerifiedTokenCache::Entry entry;

    Result<std::optional<std::int64_t>> exp = NumericDateClaim(claims, "exp");
    if (!exp.ok()) return exp.status();
    if (!exp->has_value()) return Unauth("token has no exp claim");
    entry.exp = **exp;
    if (SaturatingAdd(now, -leeway_) >= entry.exp) {
      return Unauth("token expired at " + FormatUnixSeconds(entry.exp));
    }
    Result<std::optional<std::int64_t>> nbf = NumericDateClaim(claims, "nbf");
    if (!nbf.ok()) return nbf.status();
    if (nbf->has_value()) {
      entry.nbf = **nbf;
      if (SaturatingAdd(now, leeway_) < entry.nbf) {
        return Unauth("token is not valid before " + FormatUnixSeconds(entry.nbf));
      }
    }

    if (!issuer_.empty()) {
      Result<std::optional<std::string_view>> iss = StringClaim(claims, "iss");
      if (!iss.ok()) return iss.status();
      if (!iss->has_value()) return Unauth("token has no iss claim");
      if (**iss != issuer_) {
        return Unauth("issuer " + Quote(**iss) + " is not the configured " + Quote(issuer_));
      }
    }
    if (!audience_.empty()) WAYBILL_RETURN_IF_ERROR(CheckAudience(claims));

    Result<std::optional<std::string_view>> sub = StringClaim(claims, "sub");
    if (!sub.ok()) return sub.status();
    if (!sub->has_value()) return Unauth("token has no sub claim");
    if ((*sub)->empty()) return Unauth("token sub claim is empty");
    // sub becomes source.principal and appears in logs; a newline in it could forge lines.
    if (HasControlChars(**sub)) return Unauth("token sub claim contains control characters");
    entry.principal.subject = std::string(**sub);

    Result<std::optional<std::string_view>> scope = StringClaim(claims, "scope");
    if (!scope.ok()) return scope.status();
    if (scope->has_value()) {
      std::string_view rest = **scope;
      while (!rest.empty()) {
        const std::size_t sp = rest.find(' ');
        const std::string_view one = rest.substr(0, sp);
        if (!one.empty()) entry.principal.scopes.emplace_back(one);
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
      }
    }

    Result<std::optional<std::string_view>> customer = StringClaim(claims, "customer");
    if (!customer.ok()) return customer.status();
    if (customer->has_value()) {
      // An empty customer must not read as "no customer", which would see every shipment.
      if ((*customer)->empty()) return Unauth("token customer claim is empty");
      if (HasControlChars(**customer)) {
        return Unauth("token customer claim contains control characters");
      }
      entry.principal.customer = std::string(**customer);
    }
    return entry;
  }

  Status CheckAudience(simdjson::dom::object claims) const {
    simdjson::dom::element aud;
    if (claims["aud"].get(aud) != simdjson::SUCCESS) return Unauth("token has no aud claim");
    std::string_view one;
    if (aud.get_string().get(one) == simdjson::SUCCESS) {
      if (one == audience_) return Status::Ok();
      return Unauth("audience " + Quote(one) + " is not the configured " + Quote(audience_));
    }
    simdjson::dom::array list;
    if (aud.get_array().get(list) != simdjson::SUCCESS) {
      return Unauth("token aud claim is neither a string nor an array");
    }
    // Every element is checked, so the answer does not depend on the order of the array.
    bool found = false;
    std::string seen;
    std::size_t count = 0;
    for (simdjson::dom::element item : list) {
      std::string_view text;
      if (item.get_string().get(text) != simdjson::SUCCESS) {
        return Unauth("token aud array holds a value that is not a string");
      }
      found = found || text == audience_;
      if (count++ < 4) seen += (seen.empty() ? "" : ",") + Quote(text);
    }
    if (found) return Status::Ok();
    if (count > 4) seen += ",...";
    return Unauth("audience [" + seen + "] does not include the configured " + Quote(audience_));
  }

  const unsigned char* KeyBytes() const {
    return reinterpret_cast<const unsigned char*>(key_.data());
  }

  const jwt_alg_t alg_;
  const std::string alg_name_;  // "HS256" / "RS256"
  // HS256: the secret. RS256: the PEM text, which is what libjwt wants.
  const std::string key_;
  const PkeyPtr public_key_;  // RS256 only; read-only use is thread-safe in OpenSSL 3
  const std::string issuer_;
  const std::string audience_;
  const std::int64_t leeway_;
  const std::function<std::int64_t()> now_unix_;
  // Mutable: caching does not change what Authenticate answers.
  mutable VerifiedTokenCache cache_;
};

Result<std::unique_ptr<Authenticator>> CreateHs256(const AuthConfig& config) {
  const std::string& file = config.jwt_secret_file;
  Result<std::string> secret = ReadSmallFile(file);
  if (!secret.ok()) {
    return Status::Invalid("jwt_secret_file " + file + ": " + secret.status().message());
  }
  std::string& s = *secret;
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return Status::Invalid("jwt_secret_file " + file + ": the secret is empty");
  if (s.size() < kMinSecretBytes) {
    return Status::Invalid("jwt_secret_file " + file + ": the secret is " +
                           std::to_string(s.size()) + " bytes; HS256 needs at least " +
                           std::to_string(kMinSecretBytes));
  }
  return std::unique_ptr<Authenticator>(
      std::make_unique<JwtAuthenticator>(config, JWT_ALG_HS256, std::move(s), nullptr));
}

Result<std::unique_ptr<Authenticator>> CreateRs256(const AuthConfig& config) {
  const std::string& file = config.jwt_public_key_file;
  Result<std::string> pem = ReadSmallFile(file);
  if (!pem.ok()) {
    return Status::Invalid("jwt_public_key_file " + file + ": " + pem.status().message());
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())), BIO_free);
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  if (key == nullptr) {
    return Status::Invalid("jwt_public_key_file " + file +
                           ": not a PEM public key (\"-----BEGIN PUBLIC KEY-----\")");
  }
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return Status::Invalid("jwt_public_key_file " + file + ": not an RSA key, which RS256 needs");
  }
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    return Status::Invalid("jwt_public_key_file " + file + ": the RSA key has " +
                           std::to_string(EVP_PKEY_get_bits(key.get())) + " bits; at least " +
                           std::to_string(kMinRsaBits) + " are needed");
  }
  return std::unique_ptr<Authenticator>(
      std::make_unique<JwtAuthenticator>(config, JWT_ALG_RS256, std::move(*pem), std::move(key)));
}

}  // namespace

std::string AdminTokenPath(const std::string& data_dir) { return data_dir + "/admin.token"; }

Result<std::string> ReadAdminToken(const std::string& data_dir) {
  Result<std::string> text = ReadSmallFile(AdminTokenPath(data_dir));
  if (!text.ok()) return text.status();
  std::string& s = *text;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && is_space(s[start])) ++start;
  return s.substr(start);
}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(const AuthConfig& config) {
  const bool hs = !config.jwt_secret_file.empty();
  const bool rs = !config.jwt_public_key_file.empty();
  if (hs && rs) {
    return Status::Invalid(
        "both jwt_secret_file and jwt_public_key_file are set; configure one of them");
  }
  if (hs) return CreateHs256(config);
  if (rs) return CreateRs256(config);
  if (config.data_dir.empty()) {
    return Status::Invalid(
        "no jwt_secret_file or jwt_public_key_file is configured and no data dir is given for "
        "admin.token");
  }
  Result<std::string> token = EnsureAdminToken(config.data_dir);
  if (!token.ok()) return token.status();
  return std::unique_ptr<Authenticator>(std::make_unique<LocalAdminAuthenticator>(*token));
}

}  // namespace waybill::server::auth
