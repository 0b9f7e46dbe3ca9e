#include "schemas/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <stdexcept>

namespace waybill {

Sha256 Sha256Of(std::string_view bytes) {
  Sha256 out{};
  unsigned int len = 0;
  // EVP_Digest with a stock digest cannot fail short of memory exhaustion.
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return out;
}

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256Hasher::Sha256Hasher() : ctx_(std::make_unique<Ctx>()) {
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256Hasher::~Sha256Hasher() = default;

void Sha256Hasher::Update(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) != 1) std::abort();
}

Sha256 Sha256Hasher::Finish() {
  Sha256 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out.data(), &len) != 1) std::abort();
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) std::abort();
  return out;
}

}  // namespace waybill
