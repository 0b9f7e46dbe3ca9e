// Bearer-token checks against real tokens: HS256 and RS256 minted with libjwt, hand-made
// tokens for what no honest issuer makes (alg none, key confusion, missing claims, garbage),
// the local admin token file, and the verified-token cache against an injected clock.
#include "server/auth/authenticator.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "schemas/time.h"
#include "server/auth/token_mint.h"
#include "tests/test_util.h"

namespace waybill::server::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z
const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  REQUIRE(out.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string B64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                   (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (bytes.size() - i == 1) {
    const auto n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const auto n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                   (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

// A token with any header and payload, HMAC-SHA256 signed: for claims libjwt's minting
// would not produce (missing exp, aud arrays, odd types).
std::string SignRaw(std::string_view header_json, std::string_view payload_json,
                    std::string_view secret = kSecret) {
  const std::string input = B64Url(header_json) + "." + B64Url(payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
               &len) != nullptr);
  return input + "." + B64Url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string SignHs(std::string_view payload_json, std::string_view secret = kSecret) {
  return SignRaw(R"({"alg":"HS256","typ":"JWT"})", payload_json, secret);
}

struct KeyPair {
  std::string public_pem;
  std::string private_pem;
};

KeyPair MakeKeyPair(EVP_PKEY* key) {
  REQUIRE(key != nullptr);
  KeyPair out;
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(pub.get(), key) == 1);
  REQUIRE(PEM_write_bio_PrivateKey(priv.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(pub.get(), &data);
  out.public_pem.assign(data, static_cast<std::size_t>(n));
  n = BIO_get_mem_data(priv.get(), &data);
  out.private_pem.assign(data, static_cast<std::size_t>(n));
  EVP_PKEY_free(key);
  return out;
}

// Generated once per run: RSA key generation takes a noticeable fraction of a second.
const KeyPair& RsaKeys() {
  static const KeyPair keys = MakeKeyPair(EVP_RSA_gen(2048));
  return keys;
}
const KeyPair& OtherRsaKeys() {
  static const KeyPair keys = MakeKeyPair(EVP_RSA_gen(2048));
  return keys;
}

TokenClaims Claims(std::string subject = "svc-erp", std::string scope = "shipments:read") {
  TokenClaims c;
  c.subject = std::move(subject);
  c.scope = std::move(scope);
  c.expires_at = kNow + 3600;
  return c;
}

// A test world: a temp dir, key files in it, and a clock the test moves.
struct Fixture {
  testing::TempDir tmp;
  std::shared_ptr<std::atomic<std::int64_t>> now =
      std::make_shared<std::atomic<std::int64_t>>(kNow);

  AuthConfig Base() const {
    AuthConfig config;
    config.data_dir = tmp.path();
    config.now_unix = [clock = now] { return clock->load(); };
    return config;
  }
  AuthConfig Hs(std::string_view secret_file_contents = kSecret + "\n") const {
    AuthConfig config = Base();
    config.jwt_secret_file = tmp.Sub("jwt.secret");
    WriteFile(config.jwt_secret_file, std::string(secret_file_contents));
    return config;
  }
  AuthConfig Rs(const std::string& public_pem = RsaKeys().public_pem) const {
    AuthConfig config = Base();
    config.jwt_public_key_file = tmp.Sub("jwt.pub.pem");
    WriteFile(config.jwt_public_key_file, public_pem);
    return config;
  }
};

std::unique_ptr<Authenticator> MustCreate(const AuthConfig& config) {
  Result<std::unique_ptr<Authenticator>> auth = Authenticator::Create(config);
  REQUIRE_MESSAGE(auth.ok(), auth.status().ToString());
  return std::move(auth).value();
}

// The error message of a refused token (checked to be Unauthenticated, and not to leak it).
std::string Refusal(const Authenticator& auth, const std::string& token) {
  Result<Principal> p = auth.Authenticate("Bearer " + token);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == ErrorCode::kUnauthenticated);
  if (token.size() >= 8) CHECK(p.status().message().find(token) == std::string::npos);
  return p.status().message();
}

Principal Accepted(const Authenticator& auth, const std::string& token) {
  Result<Principal> p = auth.Authenticate("Bearer " + token);
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  return p.value();
}

std::string Payload(std::string_view extra = "") {
  std::string out = R"({"sub":"svc-erp","exp":)" + std::to_string(kNow + 3600);
  if (!extra.empty()) out += std::string(",") + std::string(extra);
  return out + "}";
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("HS256: a valid token gives its subject, scopes and customer") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  CHECK(auth->jwt_enabled());
  TokenClaims c = Claims("svc-erp", "ingest:x12 shipments:read");
  c.customer = "ACME";
  Result<std::string> token = MintHs256(c, kSecret);
  REQUIRE(token.ok());
  const Principal p = Accepted(*auth, *token);
  CHECK(p.subject == "svc-erp");
  CHECK(p.scopes == std::vector<std::string>{"ingest:x12", "shipments:read"});
  REQUIRE(p.customer.has_value());
  CHECK(*p.customer == "ACME");
  CHECK_FALSE(p.local_admin);
  CHECK(p.CanIngest("x12"));
  CHECK_FALSE(p.CanIngest("epcis"));
  CHECK_FALSE(p.HasScope(kScopeCostsRead));
}

TEST_CASE("HS256: a token signed with another secret does not verify") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  Result<std::string> token = MintHs256(Claims(), "another-secret-of-at-least-32-bytes!!");
  REQUIRE(token.ok());
  CHECK(Refusal(*auth, *token) == "signature does not verify");
  // A tampered payload under the original signature.
  std::string good = MintHs256(Claims(), kSecret).value();
  const std::size_t dot1 = good.find('.');
  const std::size_t dot2 = good.find('.', dot1 + 1);
  const std::string forged =
      good.substr(0, dot1 + 1) + B64Url(Payload(R"("scope":"admin")")) + good.substr(dot2);
  CHECK(Refusal(*auth, forged) == "signature does not verify");
}

TEST_CASE("exp and nbf, with leeway") {
  Fixture f;
  AuthConfig config = f.Hs();
  config.leeway = std::chrono::seconds(30);
  auto auth = MustCreate(config);

  TokenClaims c = Claims();
  c.expires_at = kNow - 31;
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()) ==
        "token expired at " + FormatUtc((kNow - 31) * 1'000'000'000LL));
  c.expires_at = kNow - 30;  // exactly at the leeway's edge: expired
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()).starts_with("token expired at "));
  c.expires_at = kNow - 29;  // within the leeway
  Accepted(*auth, MintHs256(c, kSecret).value());

  c = Claims();
  c.not_before = kNow + 31;
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()) ==
        "token is not valid before " + FormatUtc((kNow + 31) * 1'000'000'000LL));
  c.not_before = kNow + 30;
  Accepted(*auth, MintHs256(c, kSecret).value());
  c.not_before = kNow - 1000;
  Accepted(*auth, MintHs256(c, kSecret).value());

  config.leeway = std::chrono::seconds(0);
  auto strict = MustCreate(config);
  c = Claims();
  c.expires_at = kNow;
  CHECK(Refusal(*strict, MintHs256(c, kSecret).value()) == "token expired at 2027-01-15T08:00:00Z");
  c.expires_at = kNow + 1;
  Accepted(*strict, MintHs256(c, kSecret).value());

  // Fractional NumericDates are allowed (RFC 7519); odd types are not.
  Accepted(*auth, SignHs(R"({"sub":"a","exp":)" + std::to_string(kNow + 10) + ".5}"));
  CHECK(Refusal(*auth, SignHs(R"({"sub":"a","exp":"2030-01-01"})")) ==
        "token exp claim is not a number");
  CHECK(Refusal(*auth, SignHs(Payload(R"("nbf":true)"))) == "token nbf claim is not a number");
  // Beyond 64 bits jansson (under libjwt) gives up; such a token is refused either way.
  CHECK(Refusal(*auth, SignHs(R"({"sub":"a","exp":99999999999999999999})"))
            .starts_with("malformed token: payload is not valid JSON ("));
  // jansson (under libjwt) is stricter than JSON about NUL characters.
  CHECK(Refusal(*auth, SignHs(Payload(R"("note":"a\u0000b")")))
            .starts_with("malformed token: libjwt cannot read the payload"));
  CHECK(Refusal(*auth, SignHs(R"({"sub":"a","exp":-1e300})")) ==
        "token expired at unix time -9223372036854775808");
  Accepted(*auth, SignHs(R"({"sub":"a","exp":1e300})"));
}

TEST_CASE("missing or bad sub and exp") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  CHECK(Refusal(*auth, SignHs(R"({"sub":"svc"})")) == "token has no exp claim");
  CHECK(Refusal(*auth, SignHs(R"({"exp":)" + std::to_string(kNow + 60) + "}")) ==
        "token has no sub claim");
  CHECK(Refusal(*auth, SignHs(R"({"sub":"","exp":)" + std::to_string(kNow + 60) + "}")) ==
        "token sub claim is empty");
  CHECK(Refusal(*auth, SignHs(R"({"sub":42,"exp":)" + std::to_string(kNow + 60) + "}")) ==
        "token sub claim is not a string");
  CHECK(Refusal(*auth, SignHs(R"({"sub":"a\nb","exp":)" + std::to_string(kNow + 60) + "}")) ==
        "token sub claim contains control characters");
  // Minting refuses what would be refused anyway.
  TokenClaims c = Claims("");
  CHECK(MintHs256(c, kSecret).status().code() == ErrorCode::kInvalidArgument);
  c = Claims();
  c.expires_at = 0;
  CHECK(MintHs256(c, kSecret).status().code() == ErrorCode::kInvalidArgument);
  CHECK(MintHs256(Claims(), "short").status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("issuer and audience, when configured") {
  Fixture f;
  AuthConfig config = f.Hs();
  config.issuer = "https://idp.example";
  config.audience = "waybill";
  auto auth = MustCreate(config);

  TokenClaims c = Claims();
  c.issuer = "https://idp.example";
  c.audience = "waybill";
  Accepted(*auth, MintHs256(c, kSecret).value());

  c.issuer = "https://evil.example";
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()) ==
        R"(issuer "https://evil.example" is not the configured "https://idp.example")");
  c.issuer.reset();
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()) == "token has no iss claim");

  c.issuer = "https://idp.example";
  c.audience = "billing";
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()) ==
        R"(audience "billing" is not the configured "waybill")");
  c.audience.reset();
  CHECK(Refusal(*auth, MintHs256(c, kSecret).value()) == "token has no aud claim");

  const std::string iss = R"("iss":"https://idp.example")";
  Accepted(*auth, SignHs(Payload(iss + R"(,"aud":["billing","waybill"])")));
  CHECK(Refusal(*auth, SignHs(Payload(iss + R"(,"aud":["billing","crm"])"))) ==
        R"(audience ["billing","crm"] does not include the configured "waybill")");
  CHECK(Refusal(*auth, SignHs(Payload(iss + R"(,"aud":[])"))) ==
        R"(audience [] does not include the configured "waybill")");
  CHECK(Refusal(*auth, SignHs(Payload(iss + R"(,"aud":["waybill",7])"))) ==
        "token aud array holds a value that is not a string");
  CHECK(Refusal(*auth, SignHs(Payload(iss + R"(,"aud":[7,"waybill"])"))) ==
        "token aud array holds a value that is not a string");
  CHECK(Refusal(*auth, SignHs(Payload(iss + R"(,"aud":{"x":1})"))) ==
        "token aud claim is neither a string nor an array");
  CHECK(Refusal(*auth, SignHs(Payload(R"("iss":["https://idp.example"],"aud":"waybill")"))) ==
        "token iss claim is not a string");

  // Without configuration the claims are not looked at.
  auto lax = MustCreate(f.Hs());
  Accepted(*lax, SignHs(Payload(R"("iss":"anyone","aud":["x"])")));
}

TEST_CASE("alg none is refused, whatever the casing and with or without a signature") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  const std::string payload = B64Url(Payload(R"("scope":"admin")"));
  CHECK(Refusal(*auth, "eyJhbGciOiJub25lIn0." + payload + ".") ==
        R"(unsigned token (alg "none") is not accepted)");
  CHECK(Refusal(*auth, B64Url(R"({"alg":"None","typ":"JWT"})") + "." + payload + ".") ==
        R"(unsigned token (alg "none") is not accepted)");
  CHECK(Refusal(*auth, B64Url(R"({"alg":"NONE"})") + "." + payload + ".c2ln") ==
        R"(unsigned token (alg "none") is not accepted)");
  // A second alg that some parsers would take instead of the first.
  CHECK(Refusal(*auth, SignRaw(R"({"alg":"HS256","alg":"none"})", Payload())) ==
        "token header has more than one alg");
  CHECK(Refusal(*auth, SignRaw(R"({"typ":"JWT"})", Payload())) == "token header has no alg");
  CHECK(Refusal(*auth, SignRaw(R"({"alg":256})", Payload())) == "token header alg is not a string");
  CHECK(Refusal(*auth, SignRaw(R"({"alg":"HS512"})", Payload())) ==
        R"(token alg "HS512" is not the configured "HS256")");
  CHECK(Refusal(*auth, SignRaw(R"({"alg":"HS256","crit":["exp"]})", Payload())).find("crit") !=
        std::string::npos);
  CHECK(Refusal(*auth, SignHs(Payload()).substr(0, SignHs(Payload()).rfind('.') + 1)) ==
        "token has no signature");
}

TEST_CASE("RS256: accepted with the configured key; key confusion and other keys refused") {
  Fixture f;
  auto auth = MustCreate(f.Rs());
  CHECK(auth->jwt_enabled());
  Result<std::string> token = MintRs256(Claims("svc-tms", "ingest"), RsaKeys().private_pem);
  REQUIRE_MESSAGE(token.ok(), token.status().ToString());
  const Principal p = Accepted(*auth, *token);
  CHECK(p.subject == "svc-tms");
  CHECK(p.CanIngest("dcsa-tnt"));

  // Signed by a different private key.
  CHECK(Refusal(*auth, MintRs256(Claims(), OtherRsaKeys().private_pem).value()) ==
        "signature does not verify");
  // The classic attack: HS256 with the server's public key (which anyone may have) as the
  // HMAC secret. A library trusting the header would verify it with the PEM bytes.
  const std::string confused = MintHs256(Claims("attacker", "admin"), RsaKeys().public_pem).value();
  CHECK(Refusal(*auth, confused) == R"(token alg "HS256" is not the configured "RS256")");
  // Likewise a hand-made one, and one that lies about its alg.
  CHECK(Refusal(*auth, SignRaw(R"({"alg":"HS256"})", Payload(), RsaKeys().public_pem)) ==
        R"(token alg "HS256" is not the configured "RS256")");
  CHECK(Refusal(*auth, SignRaw(R"({"alg":"RS256"})", Payload(), RsaKeys().public_pem)) ==
        "signature does not verify");

  // An RS256 token when HS256 is configured.
  auto hs = MustCreate(f.Hs());
  CHECK(Refusal(*hs, *token) == R"(token alg "RS256" is not the configured "HS256")");
  // And a bad private key for minting.
  CHECK(MintRs256(Claims(), "not a key").status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("malformed tokens are refused, never crash") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  CHECK(Refusal(*auth, "garbage") == "malformed token: not a JWT (header.payload.signature)");
  CHECK(Refusal(*auth, "abc.def") == "malformed token: not a JWT (header.payload.signature)");
  CHECK(Refusal(*auth, "a.b.c.d") == "malformed token: not a JWT (header.payload.signature)");
  CHECK(Refusal(*auth, "..") == "malformed token: header is not base64url");
  CHECK(Refusal(*auth, "@@@@.eyJ9.abc") == "malformed token: header is not base64url");
  CHECK(Refusal(*auth, "eyJhbGciOiJIUzI1NiJ9=.e30.abc") ==
        "malformed token: header is not base64url");  // padding is not base64url
  CHECK(Refusal(*auth, B64Url("not json") + ".e30.abc")
            .starts_with("malformed token: header is not valid JSON ("));
  CHECK(Refusal(*auth, B64Url("[1,2]") + ".e30.abc") ==
        "malformed token: header is not a JSON object");
  CHECK(Refusal(*auth, B64Url(R"({"alg":"HS256"})") + ".!!.abc") ==
        "malformed token: payload is not base64url");
  CHECK(Refusal(*auth, B64Url(R"({"alg":"HS256"})") + ".e30.a") ==
        "malformed token: signature is not base64url");
  // A correctly signed payload that is not JSON.
  CHECK(
      Refusal(*auth, SignHs("not json")).starts_with("malformed token: payload is not valid JSON"));
  CHECK(Refusal(*auth, SignHs("[1]")) == "malformed token: payload is not a JSON object");
  // Over the cap, even when otherwise valid.
  TokenClaims big = Claims("svc", std::string(9000, 'x'));
  CHECK(Refusal(*auth, MintHs256(big, kSecret).value()) ==
        "bearer token is longer than 8192 bytes");
  // NUL bytes and other binary.
  CHECK(Refusal(*auth, std::string("eyJh\0bGc.e30.abc", 16)).starts_with("malformed token"));

  // Random damage to a good token: refused (or, if the damage is a no-op, accepted).
  const std::string good = MintHs256(Claims(), kSecret).value();
  std::mt19937 rng(20260101);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0:
          bad[rng() % bad.size()] = static_cast<char>(rng() % 256);
          break;
        case 1:
          bad.erase(rng() % bad.size(), 1 + rng() % 8);
          break;
        default:
          bad.insert(rng() % (bad.size() + 1), 1, ".=-_/+ \x01"[rng() % 8]);
      }
      if (bad.empty()) bad = "x";
    }
    Result<Principal> p = auth->Authenticate("Bearer " + bad);
    if (p.ok()) {
      CHECK(p->subject == "svc-erp");
    } else {
      CHECK(p.status().code() == ErrorCode::kUnauthenticated);
    }
  }
}

TEST_CASE("the Authorization header: Bearer, any casing; anything else refused") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  const std::string token = MintHs256(Claims(), kSecret).value();
  for (const std::string& header :
       {"Bearer " + token, "bearer " + token, "BEARER   " + token, " Bearer " + token + " \t"}) {
    CHECK(auth->Authenticate(header).ok());
  }
  for (const std::string& header :
       {std::string(), std::string("   "), std::string("Bearer"), std::string("Bearer   ")}) {
    Result<Principal> p = auth->Authenticate(header);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == ErrorCode::kUnauthenticated);
    CHECK(p.status().message() == "missing bearer token (Authorization: Bearer TOKEN)");
  }
  for (const std::string& header :
       {std::string("Basic dXNlcjpwYXNz"), token, "Bearer: " + token, "Bearertoken " + token}) {
    Result<Principal> p = auth->Authenticate(header);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().message() ==
          "authorization scheme is not Bearer (Authorization: Bearer TOKEN)");
    CHECK(p.status().message().find(token) == std::string::npos);
  }
}

TEST_CASE("scope and customer claims") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  Principal p = Accepted(*auth, SignHs(Payload(R"("scope":"  ingest:x12   costs:read ")")));
  CHECK(p.scopes == std::vector<std::string>{"ingest:x12", "costs:read"});
  CHECK(p.CanIngest("x12"));
  CHECK(p.HasScope(kScopeCostsRead));
  CHECK_FALSE(p.customer.has_value());

  p = Accepted(*auth, SignHs(Payload()));
  CHECK(p.scopes.empty());
  CHECK_FALSE(p.CanIngest("x12"));
  CHECK(Accepted(*auth, SignHs(Payload(R"("scope":"")"))).scopes.empty());
  CHECK(Refusal(*auth, SignHs(Payload(R"("scope":["ingest"])"))) ==
        "token scope claim is not a string");

  p = Accepted(*auth, SignHs(Payload(R"("customer":"ACME")")));
  REQUIRE(p.customer.has_value());
  CHECK(*p.customer == "ACME");
  CHECK(p.CanSee(std::string("ACME")));
  CHECK_FALSE(p.CanSee(std::string("GLOBEX")));
  CHECK(Refusal(*auth, SignHs(Payload(R"("customer":"")"))) == "token customer claim is empty");
  CHECK(Refusal(*auth, SignHs(Payload(R"("customer":42)"))) ==
        "token customer claim is not a string");
  // Claim values in messages are escaped and shortened.
  AuthConfig config = f.Hs();
  config.issuer = "idp";
  auto with_iss = MustCreate(config);
  const std::string msg =
      Refusal(*with_iss, SignHs(Payload(R"("iss":"a\"b\u0001)" + std::string(200, 'z') + "\"")));
  CHECK(msg.starts_with(R"(issuer "a\"b\x01zzz)"));
  CHECK(msg.find(R"(..." is not the configured "idp")") != std::string::npos);
}

TEST_CASE("the cache: a verified token is refused once it expires, and before its nbf") {
  Fixture f;
  AuthConfig config = f.Hs();
  config.leeway = std::chrono::seconds(0);
  auto auth = MustCreate(config);
  TokenClaims c = Claims();
  c.expires_at = kNow + 2;
  const std::string token = MintHs256(c, kSecret).value();
  for (int i = 0; i < 3; ++i) Accepted(*auth, token);  // the later ones from the cache
  f.now->store(kNow + 1);
  Accepted(*auth, token);
  f.now->store(kNow + 2);
  CHECK(Refusal(*auth, token) == "token expired at 2027-01-15T08:00:02Z");
  f.now->store(kNow + 1);  // clocks step back; the token is verified afresh and fine again
  Accepted(*auth, token);

  c = Claims();
  c.not_before = kNow + 10;
  const std::string later = MintHs256(c, kSecret).value();
  f.now->store(kNow + 10);
  Accepted(*auth, later);
  f.now->store(kNow + 9);  // cached, but the clock stepped back before nbf
  CHECK(Refusal(*auth, later).starts_with("token is not valid before"));

  // Leeway applies to cached entries as it does to fresh checks.
  config.leeway = std::chrono::seconds(30);
  auto lenient = MustCreate(config);
  c = Claims();
  c.expires_at = kNow + 100;
  const std::string t = MintHs256(c, kSecret).value();
  f.now->store(kNow);
  Accepted(*lenient, t);
  f.now->store(kNow + 129);
  Accepted(*lenient, t);
  f.now->store(kNow + 130);
  CHECK(Refusal(*lenient, t).starts_with("token expired at"));
}

TEST_CASE("the cache stays correct past its capacity and under concurrent use") {
  Fixture f;
  auto auth = MustCreate(f.Hs());
  std::vector<std::string> tokens;
  for (int i = 0; i < 12000; ++i) {
    tokens.push_back(MintHs256(Claims("svc-" + std::to_string(i)), kSecret).value());
  }
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2; ++round) {
        for (std::size_t i = t; i < tokens.size(); i += 3) {
          Result<Principal> p = auth->Authenticate("Bearer " + tokens[i]);
          if (!p.ok() || p->subject != "svc-" + std::to_string(i)) wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("Create: key files and their errors") {
  Fixture f;
  // Trailing newline (or CRLF) trimmed: the secret is the same as without.
  const std::string token = MintHs256(Claims(), kSecret).value();
  Accepted(*MustCreate(f.Hs(kSecret + "\n")), token);
  Accepted(*MustCreate(f.Hs(kSecret + "\r\n")), token);
  Accepted(*MustCreate(f.Hs(kSecret)), token);
  CHECK(Refusal(*MustCreate(f.Hs(kSecret + "\n\n")), token) == "signature does not verify");

  AuthConfig config = f.Hs("\n");
  Result<std::unique_ptr<Authenticator>> r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message() ==
        "jwt_secret_file " + config.jwt_secret_file + ": the secret is empty");
  config = f.Hs("too-short-secret\n");
  r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message() == "jwt_secret_file " + config.jwt_secret_file +
                                    ": the secret is 16 bytes; HS256 needs at least 32");
  config = f.Base();
  config.jwt_secret_file = f.tmp.Sub("missing.secret");
  r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().find(config.jwt_secret_file) != std::string::npos);

  config = f.Rs("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n");
  r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().starts_with("jwt_public_key_file " + config.jwt_public_key_file));
  // The private key by mistake: not a public key file, and a secret that should not be here.
  r = Authenticator::Create(f.Rs(RsaKeys().private_pem));
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  r = Authenticator::Create(f.Rs(MakeKeyPair(EVP_EC_gen("P-256")).public_pem));
  CHECK(r.status().message().ends_with("not an RSA key, which RS256 needs"));
  r = Authenticator::Create(f.Rs(MakeKeyPair(EVP_RSA_gen(1024)).public_pem));
  CHECK(r.status().message().ends_with("the RSA key has 1024 bits; at least 2048 are needed"));

  config = f.Hs();
  config.jwt_public_key_file = f.Rs().jwt_public_key_file;
  r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().find("both") != std::string::npos);
}

TEST_CASE("local admin token: made once with mode 0600, accepted, nothing else is") {
  Fixture f;
  const std::string path = AdminTokenPath(f.tmp.path());
  CHECK(path == f.tmp.path() + "/admin.token");
  CHECK(ReadAdminToken(f.tmp.path()).status().code() == ErrorCode::kNotFound);

  auto auth = MustCreate(f.Base());
  CHECK_FALSE(auth->jwt_enabled());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string contents = ReadFile(path);
  REQUIRE(contents.size() == 65);
  CHECK(contents.back() == '\n');
  CHECK(contents.find_first_not_of("0123456789abcdef") == 64);
  const std::string token = ReadAdminToken(f.tmp.path()).value();
  CHECK(token == contents.substr(0, 64));
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(f.tmp.path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);

  const Principal p = Accepted(*auth, token);
  CHECK(p.subject == "local-admin");
  CHECK(p.local_admin);
  CHECK(p.HasScope(kScopeAdmin));
  CHECK_FALSE(p.customer.has_value());

  std::string wrong = token;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  CHECK(Refusal(*auth, wrong).starts_with("bearer token is not the local admin token"));
  CHECK(Refusal(*auth, token.substr(0, 63)).starts_with("bearer token is not the local admin"));
  CHECK(Refusal(*auth, MintHs256(Claims(), kSecret).value())
            .starts_with("bearer token is not the local admin token"));

  // Stable across Create calls; a loose mode is tightened.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto again = MustCreate(f.Base());
  CHECK(ReadFile(path) == contents);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Accepted(*again, token);

  // With a JWT key configured the admin token is no longer a credential.
  auto jwt = MustCreate(f.Hs());
  CHECK(Refusal(*jwt, token) == "malformed token: not a JWT (header.payload.signature)");
}

TEST_CASE("local admin token: a hand-written token is kept; an empty file is an error") {
  Fixture f;
  WriteFile(AdminTokenPath(f.tmp.path()), "  my-own-admin-token\r\n");
  ::chmod(AdminTokenPath(f.tmp.path()).c_str(), 0600);
  auto auth = MustCreate(f.Base());
  CHECK(ReadAdminToken(f.tmp.path()).value() == "my-own-admin-token");
  Accepted(*auth, "my-own-admin-token");

  WriteFile(AdminTokenPath(f.tmp.path()), "\n");
  Result<std::unique_ptr<Authenticator>> r = Authenticator::Create(f.Base());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().find("admin.token is empty") != std::string::npos);

  AuthConfig config;
  r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);

  config.data_dir = f.tmp.Sub("does-not-exist");
  r = Authenticator::Create(config);
  CHECK(r.status().code() == ErrorCode::kIoError);
}

}  // namespace
}  // namespace waybill::server::auth
