// Per-principal request rate limits: a token bucket per subject (refilled at `rate` per
// second up to `burst`; a new subject starts with a full bucket). A request over the limit is
// refused with the time after which enough tokens will be back, for the 429's Retry-After.
// Thread-safety: Acquire is safe from any thread (16 independently locked shards).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace waybill::server::auth {

struct RateLimit {
  double rate_per_second = 1000;  // <= 0 (or not finite): unlimited
  double burst = 2000;            // below 1 counts as 1
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes `cost` tokens from `subject`'s bucket. nullopt: allowed. Otherwise: refused, nothing
  // is taken, and the value (at least 1 ms) is how long until the request would be allowed;
  // round it up to whole seconds (so at least 1) for Retry-After. A cost above `burst` is
  // charged as `burst`, so it passes on a full bucket. Buckets idle for 10 minutes (or for
  // as long as a full refill takes, if longer) are forgotten, so memory stays bounded.
  std::optional<std::chrono::milliseconds> Acquire(std::string_view subject, double cost = 1);

 private:
  struct Shards;
  RateLimit limit_;
  std::unique_ptr<Shards> shards_;
};

}  // namespace waybill::server::auth
