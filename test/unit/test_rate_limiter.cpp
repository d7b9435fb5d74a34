// test_rate_limiter.cpp — slot arithmetic (spacing, pauses, rps <= 0, clock going backwards), LocalRateLimiter.
// Must never pass if two reservations share a slot, a slot falls before now or inside a pause, or a pause shrinks.
// Run by ctest (pg2d1_unit_tests); sharing between D1Clients is tested in test_d1_client.cpp.
#include "core/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <vector>

namespace pg2d1 {
namespace {

constexpr int64_t kMs = 1000000;
constexpr int64_t kS = 1000 * kMs;

TEST(ReserveSlot, SpacesSlotsOneIntervalApartWithABurstOfOne) {
	RateState s;
	EXPECT_EQ(reserve_slot(s, 10 * kS, 10), 10 * kS);             // idle: now
	EXPECT_EQ(reserve_slot(s, 10 * kS, 10), 10 * kS + 100 * kMs); // same instant: the next slot
	EXPECT_EQ(reserve_slot(s, 10 * kS + 50 * kMs, 10), 10 * kS + 200 * kMs);
	// idle for a long time: no credit accumulates (burst of one)
	EXPECT_EQ(reserve_slot(s, 20 * kS, 10), 20 * kS);
	EXPECT_EQ(reserve_slot(s, 20 * kS, 10), 20 * kS + 100 * kMs);
	EXPECT_EQ(s.next_slot_ns, 20 * kS + 200 * kMs);
}

TEST(ReserveSlot, EachCallerSpacesByItsOwnRate) {
	RateState s;
	EXPECT_EQ(reserve_slot(s, 0, 2), 0);           // next slot at 500 ms
	EXPECT_EQ(reserve_slot(s, 0, 100), 500 * kMs); // waits for it, then 10 ms
	EXPECT_EQ(reserve_slot(s, 0, 100), 510 * kMs);
}

TEST(ReserveSlot, PauseHoldsBackAndNeverShrinks) {
	RateState s;
	pause_state(s, 5 * kS);
	EXPECT_EQ(reserve_slot(s, 1 * kS, 10), 5 * kS);
	EXPECT_EQ(reserve_slot(s, 1 * kS, 10), 5 * kS + 100 * kMs);
	pause_state(s, 2 * kS); // shorter: ignored
	EXPECT_EQ(s.paused_until_ns, 5 * kS);
	pause_state(s, 7 * kS);
	EXPECT_EQ(reserve_slot(s, 6 * kS, 10), 7 * kS);
	EXPECT_EQ(reserve_slot(s, 9 * kS, 10), 9 * kS) << "a pause in the past holds nothing back";
}

TEST(ReserveSlot, RpsZeroOrNegativeOnlyAppliesPauses) {
	for (double rps : {0.0, -3.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
		RateState s;
		EXPECT_EQ(reserve_slot(s, 1 * kS, rps), 1 * kS);
		EXPECT_EQ(reserve_slot(s, 1 * kS, rps), 1 * kS) << "no spacing";
		EXPECT_EQ(s.next_slot_ns, 0) << "the slot sequence of spacing clients is left alone";
		pause_state(s, 3 * kS);
		EXPECT_EQ(reserve_slot(s, 1 * kS, rps), 3 * kS);
	}
	// a non-spacing client does not wait for the slots spacing clients reserved, only for pauses
	RateState s;
	reserve_slot(s, 0, 1); // next slot at 1 s
	EXPECT_EQ(reserve_slot(s, 0, 0), 0);
}

TEST(ReserveSlot, ClockGoingBackwardsIsSafe) {
	RateState s;
	const int64_t first = reserve_slot(s, 100 * kS, 10);
	// Another process's clock reading (or a stale now) earlier than what was seen before: slots keep moving
	// forward by one interval, never earlier than the previous one, never further than one interval beyond it.
	const int64_t second = reserve_slot(s, 40 * kS, 10);
	EXPECT_EQ(second, first + 100 * kMs);
	const int64_t third = reserve_slot(s, -5 * kS, 10);
	EXPECT_EQ(third, second + 100 * kMs);
	pause_state(s, 1 * kS); // a pause that ends before the reserved slots changes nothing
	EXPECT_EQ(s.paused_until_ns, 1 * kS);
	EXPECT_EQ(reserve_slot(s, 0, 10), third + 100 * kMs);
}

TEST(ReserveSlot, ExtremesSaturateInsteadOfOverflowing) {
	const int64_t max = std::numeric_limits<int64_t>::max();
	RateState s;
	EXPECT_EQ(reserve_slot(s, max - 10, 1e-300), max - 10); // tiny rate: interval capped, sum saturated
	EXPECT_EQ(s.next_slot_ns, max);
	EXPECT_EQ(reserve_slot(s, 0, 1e-300), max);
	RateState t;
	EXPECT_EQ(reserve_slot(t, 0, 1e-300), 0);
	EXPECT_EQ(t.next_slot_ns, int64_t(3600) * kS) << "the slowest spacing is one request an hour";
	RateState u;
	EXPECT_EQ(reserve_slot(u, 0, 1e300), 0);
	EXPECT_EQ(reserve_slot(u, 0, 1e300), 0) << "an interval below a nanosecond is no spacing";
}

TEST(LocalRateLimiter, ThreadsHammeringOneLimiterGetDistinctSpacedSlots) {
	LocalRateLimiter limiter;
	const int threads = 8, per_thread = 200;
	const double rps = 1000; // 1 ms apart
	std::vector<std::vector<int64_t>> got(threads);
	std::vector<std::thread> pool;
	const int64_t start = steady_now_ns();
	for (int t = 0; t < threads; ++t) {
		pool.emplace_back([&, t] {
			for (int i = 0; i < per_thread; ++i) {
				got[t].push_back(limiter.reserve(steady_now_ns(), rps));
				if (i % 50 == 0)
					limiter.pause_until(start); // in the past: harmless, but exercises the lock
			}
		});
	}
	for (auto &th : pool)
		th.join();
	std::vector<int64_t> all;
	for (auto &g : got) {
		EXPECT_TRUE(std::is_sorted(g.begin(), g.end())) << "one thread's slots move forward";
		all.insert(all.end(), g.begin(), g.end());
	}
	std::sort(all.begin(), all.end());
	ASSERT_EQ(all.size(), size_t(threads * per_thread));
	for (size_t i = 1; i < all.size(); ++i)
		ASSERT_GE(all[i] - all[i - 1], 1 * kMs) << "slots " << i - 1 << " and " << i << " are not spaced";
	EXPECT_GE(all.back() - all.front(), (threads * per_thread - 1) * kMs);
	EXPECT_GE(all.front(), start);
}

TEST(LocalRateLimiter, PauseFromOneThreadHoldsBackAnother) {
	LocalRateLimiter limiter;
	const int64_t now = steady_now_ns();
	std::thread([&] { limiter.pause_until(now + 2 * kS); }).join();
	EXPECT_EQ(limiter.reserve(now, 0), now + 2 * kS);
	EXPECT_EQ(limiter.reserve(now, 5), now + 2 * kS);
	EXPECT_EQ(limiter.reserve(now, 5), now + 2 * kS + 200 * kMs);
}

TEST(ProcessRateLimiter, OneInstancePerProcess) {
	const auto a = process_rate_limiter();
	const auto b = process_rate_limiter();
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(a.get(), b.get());
	std::shared_ptr<RateLimiter> from_thread;
	std::thread([&] { from_thread = process_rate_limiter(); }).join();
	EXPECT_EQ(from_thread.get(), a.get());
}

TEST(SteadyNow, IsTheSteadyClockInNanoseconds) {
	const auto before = std::chrono::steady_clock::now().time_since_epoch();
	const int64_t now = steady_now_ns();
	const auto after = std::chrono::steady_clock::now().time_since_epoch();
	EXPECT_GE(now, std::chrono::duration_cast<std::chrono::nanoseconds>(before).count());
	EXPECT_LE(now, std::chrono::duration_cast<std::chrono::nanoseconds>(after).count());
	EXPECT_LE(now, steady_now_ns());
}

} // namespace
} // namespace pg2d1
