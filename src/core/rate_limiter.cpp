// rate_limiter.cpp — slot arithmetic, the in-process limiter and the per-process instance (see rate_limiter.hpp).
// Must never sleep, throw or call anything that can longjmp: it runs on sender threads of PostgreSQL workers.
// Called by D1Client (d1_client.cpp) and by the shared-memory limiter (src/pg/shared_rate.cpp).
#include "rate_limiter.hpp"

#include <chrono>
#include <cmath>
#include <limits>

namespace pg2d1 {

namespace {

constexpr int64_t kMaxInterval = int64_t(3600) * 1000000000; // one request an hour is the slowest spacing

int64_t saturating_add(int64_t a, int64_t b) {
	// b >= 0 here
	return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

int64_t interval_ns(double rps) {
	if (!(rps > 0) || !std::isfinite(rps))
		return 0;
	const double ns = 1e9 / rps;
	return ns >= static_cast<double>(kMaxInterval) ? kMaxInterval : static_cast<int64_t>(ns);
}

} // namespace

int64_t reserve_slot(RateState &s, int64_t now_ns, double rps) {
	int64_t at = now_ns;
	if (s.paused_until_ns > at)
		at = s.paused_until_ns;
	const int64_t interval = interval_ns(rps);
	if (interval == 0)
		return at; // no spacing: the slot sequence is left as it is for clients that do space
	if (s.next_slot_ns > at)
		at = s.next_slot_ns;
	s.next_slot_ns = saturating_add(at, interval);
	return at;
}

void pause_state(RateState &s, int64_t until_ns) {
	if (until_ns > s.paused_until_ns)
		s.paused_until_ns = until_ns;
}

int64_t LocalRateLimiter::reserve(int64_t now_ns, double rps) {
	std::lock_guard<std::mutex> lock(mu_);
	return reserve_slot(state_, now_ns, rps);
}

void LocalRateLimiter::pause_until(int64_t until_ns) {
	std::lock_guard<std::mutex> lock(mu_);
	pause_state(state_, until_ns);
}

std::shared_ptr<RateLimiter> process_rate_limiter() {
	// Leaked on purpose: no static destructor runs at exit() while a sender thread may still hold it.
	static auto *const limiter = new std::shared_ptr<RateLimiter>(std::make_shared<LocalRateLimiter>());
	return *limiter;
}

int64_t steady_now_ns() {
	return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}

} // namespace pg2d1
