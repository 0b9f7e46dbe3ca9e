// The per-subject token buckets: burst, refusal with a wait, refill, independence, no limit.
#include "server/auth/rate_limiter.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace waybill::server::auth {
namespace {

using std::chrono::milliseconds;

TEST_CASE("a burst passes, then requests are refused with a positive wait") {
  // Rates in these tests are low enough that a stalled test thread does not refill a bucket.
  RateLimiter limiter(RateLimit{.rate_per_second = 1, .burst = 5});
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limiter.Acquire("alice").has_value());
  const std::optional<milliseconds> wait = limiter.Acquire("alice");
  REQUIRE(wait.has_value());
  CHECK(*wait > milliseconds(0));
  CHECK(*wait <= milliseconds(1000));  // one token at 1/s
}

TEST_CASE("the wait says when enough tokens are back, in whole milliseconds") {
  RateLimiter limiter(RateLimit{.rate_per_second = 0.5, .burst = 1});
  CHECK_FALSE(limiter.Acquire("slow").has_value());
  const std::optional<milliseconds> wait = limiter.Acquire("slow");
  REQUIRE(wait.has_value());
  CHECK(*wait > milliseconds(1000));
  CHECK(*wait <= milliseconds(2000));
  // A refused request takes nothing: the wait does not grow by asking again.
  const std::optional<milliseconds> again = limiter.Acquire("slow");
  REQUIRE(again.has_value());
  CHECK(*again <= *wait);
}

TEST_CASE("buckets refill over time") {
  RateLimiter limiter(RateLimit{.rate_per_second = 10, .burst = 2});
  CHECK_FALSE(limiter.Acquire("bob").has_value());
  CHECK_FALSE(limiter.Acquire("bob").has_value());
  CHECK(limiter.Acquire("bob").has_value());
  std::this_thread::sleep_for(milliseconds(300));  // 3 tokens' worth, capped at the burst of 2
  CHECK_FALSE(limiter.Acquire("bob").has_value());
  CHECK_FALSE(limiter.Acquire("bob").has_value());
  CHECK(limiter.Acquire("bob").has_value());
}

TEST_CASE("subjects have separate buckets") {
  RateLimiter limiter(RateLimit{.rate_per_second = 1, .burst = 1});
  CHECK_FALSE(limiter.Acquire("alice").has_value());
  CHECK(limiter.Acquire("alice").has_value());
  CHECK_FALSE(limiter.Acquire("bob").has_value());
  CHECK_FALSE(limiter.Acquire("carol").has_value());
  CHECK(limiter.Acquire("bob").has_value());
}

TEST_CASE("a rate of zero or less means no limit") {
  for (double rate : {0.0, -1.0}) {
    RateLimiter limiter(RateLimit{.rate_per_second = rate, .burst = 1});
    for (int i = 0; i < 10000; ++i) REQUIRE_FALSE(limiter.Acquire("anyone", 5).has_value());
  }
}

TEST_CASE("cost: a request dearer than the burst passes on a full bucket only") {
  RateLimiter limiter(RateLimit{.rate_per_second = 1, .burst = 3});
  CHECK_FALSE(limiter.Acquire("bulk", 10).has_value());
  CHECK(limiter.Acquire("bulk", 1).has_value());
  CHECK_FALSE(limiter.Acquire("other", 2).has_value());
  CHECK_FALSE(limiter.Acquire("other", 1).has_value());
  CHECK(limiter.Acquire("other", 1).has_value());
}

TEST_CASE("concurrent callers never get more than the burst") {
  // A rate so low that no token comes back during the test.
  RateLimiter limiter(RateLimit{.rate_per_second = 0.001, .burst = 100});
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if (!limiter.Acquire("shared").has_value()) allowed.fetch_add(1);
        // Other subjects in the same shards at the same time.
        (void)limiter.Acquire("own-" + std::to_string(t * 1000 + i));
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(allowed.load() == 100);
}

}  // namespace
}  // namespace waybill::server::auth
