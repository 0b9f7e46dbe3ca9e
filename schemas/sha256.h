// SHA-256 (OpenSSL) for the hash chain, raw-message keys and derived event ids.
// Thread-safety: Sha256Hasher is a value owned by one thread; the free function is pure.
#pragma once

#include <memory>
#include <string_view>

#include "schemas/event.h"

namespace waybill {

Sha256 Sha256Of(std::string_view bytes);

// Incremental hashing for inputs assembled from parts. Reusable after Finish().
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view bytes);
  void Update(const Sha256& digest) {
    Update(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  }
  // Returns the digest of everything since construction or the last Finish().
  Sha256 Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace waybill
