#include "server/auth/rate_limiter.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace waybill::server::auth {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kShardCount = 16;
constexpr auto kIdleForget = std::chrono::minutes(10);
constexpr auto kSweepEvery = std::chrono::minutes(1);
constexpr double kMaxWaitSeconds = 86400.0 * 365;

struct Bucket {
  double tokens = 0;
  Clock::time_point last;  // when `tokens` was last brought up to date
};

// Lets find() take a string_view, so a hit allocates nothing.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct RateLimiter::Shards {
  struct Shard {
    std::mutex mu;
    // Guarded by mu.
    std::unordered_map<std::string, Bucket, StringHash, std::equal_to<>> buckets;
    Clock::time_point last_sweep;  // guarded by mu
  };
  std::array<Shard, kShardCount> shards;
  // A bucket is only forgotten once it would have refilled completely anyway, so that idling
  // never grants more than waiting does, even at very low rates.
  Clock::duration forget_after{};
};

RateLimiter::RateLimiter(RateLimit limit) : limit_(limit), shards_(std::make_unique<Shards>()) {
  // NaN or infinite rates mean "no limit" rather than arithmetic on NaN later on.
  if (!std::isfinite(limit_.rate_per_second) || limit_.rate_per_second <= 0) {
    limit_.rate_per_second = 0;
  }
  // A burst below one token would refuse every request forever.
  if (!(limit_.burst >= 1)) limit_.burst = 1;
  if (!std::isfinite(limit_.burst)) limit_.burst = 1e18;
  if (limit_.rate_per_second > 0) {
    // Capped so that absurd settings cannot overflow the duration.
    const auto refill = std::chrono::duration<double>(
        std::min(limit_.burst / limit_.rate_per_second, kMaxWaitSeconds));
    shards_->forget_after =
        std::max<Clock::duration>(kIdleForget, std::chrono::ceil<Clock::duration>(refill));
  }
  const auto now = Clock::now();
  for (auto& shard : shards_->shards) shard.last_sweep = now;
}

RateLimiter::~RateLimiter() = default;

std::optional<std::chrono::milliseconds> RateLimiter::Acquire(std::string_view subject,
                                                              double cost) {
  if (limit_.rate_per_second <= 0) return std::nullopt;
  // A request costlier than the whole burst could never pass; let it through on a full bucket.
  if (!(cost >= 0)) cost = 0;  // negative or NaN: charge nothing rather than mint tokens
  cost = std::min(cost, limit_.burst);

  auto& shard = shards_->shards[std::hash<std::string_view>{}(subject) % kShardCount];
  const auto now = Clock::now();
  std::lock_guard lock(shard.mu);

  if (now - shard.last_sweep >= kSweepEvery) {
    shard.last_sweep = now;
    std::erase_if(shard.buckets, [&](const auto& entry) {
      return now - entry.second.last > shards_->forget_after;
    });
  }

  auto it = shard.buckets.find(subject);
  if (it == shard.buckets.end()) {
    it = shard.buckets.emplace(std::string(subject), Bucket{limit_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.last).count();
  bucket.tokens = std::min(limit_.burst, bucket.tokens + elapsed * limit_.rate_per_second);
  bucket.last = now;

  if (bucket.tokens >= cost) {
    bucket.tokens -= cost;
    return std::nullopt;
  }
  const double wait_seconds = (cost - bucket.tokens) / limit_.rate_per_second;
  const auto wait = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil(std::min(wait_seconds, kMaxWaitSeconds) * 1000)));
  return std::max(wait, std::chrono::milliseconds(1));
}

}  // namespace waybill::server::auth
