// Per-principal request rate limits: a token bucket per subject (refilled at `rate` per
// second up to `burst`). A request over the limit is refused with the time after which one
// token will be back, for the 429's Retry-After.
// Thread-safety: Acquire is safe from any thread (sharded locks).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace waybill::server::auth {

struct RateLimit {
  double rate_per_second = 1000;  // <= 0: unlimited
  double burst = 2000;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes `cost` tokens from `subject`'s bucket. nullopt: allowed. Otherwise: refused, and
  // the value is how long until the request would be allowed (at least 1 s when rounded up
  // for Retry-After). Buckets idle for a long time are forgotten (memory stays bounded).
  std::optional<std::chrono::milliseconds> Acquire(std::string_view subject, double cost = 1);

 private:
  struct Shards;
  RateLimit limit_;
  std::unique_ptr<Shards> shards_;
};

}  // namespace waybill::server::auth
