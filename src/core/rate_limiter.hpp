// rate_limiter.hpp — one requests/s budget (slots 1/rps apart, burst of one) and pause shared by D1 clients.
// Must never sleep, throw or call anything that can longjmp: implementations also run on sender threads.
// Called by D1Client (d1_client.cpp); implemented here (per process) and in src/pg/shared_rate.cpp (per cluster).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

namespace pg2d1 {

// Times are steady_clock nanoseconds since its epoch (CLOCK_MONOTONIC on Linux: one clock for every process of the
// machine, so a state in shared memory can be read by several processes).
struct RateState {
	int64_t next_slot_ns = 0;    // earliest time the next reservation may be handed out
	int64_t paused_until_ns = 0; // nobody sends before this
};

// Pure arithmetic shared by every implementation: reserves the next slot for a client sending at most `rps`
// requests/s (<= 0 or not finite: no spacing, only pauses apply) and returns the time (ns) at which it may send:
// never before now, never before paused_until, and slots are spaced 1/rps apart (burst of one). A clock that goes
// backwards is harmless: slots only ever move forward, by one interval per reservation. Saturates, never overflows.
int64_t reserve_slot(RateState &s, int64_t now_ns, double rps);

// Extends the pause to `until_ns`; never shortens it.
void pause_state(RateState &s, int64_t until_ns);

class RateLimiter {
  public:
	virtual ~RateLimiter() = default;
	// Reserves a slot (see reserve_slot) and returns the time the caller may send. Thread-safe, never throws.
	virtual int64_t reserve(int64_t now_ns, double rps) = 0;
	// Holds back every user of this limiter until `until_ns` (extends only). Thread-safe, never throws.
	virtual void pause_until(int64_t until_ns) = 0;
};

// A limiter for the clients of one process (a mutex around a RateState).
class LocalRateLimiter : public RateLimiter {
  public:
	int64_t reserve(int64_t now_ns, double rps) override;
	void pause_until(int64_t until_ns) override;

  private:
	std::mutex mu_;
	RateState state_;
};

// One LocalRateLimiter per process, shared by every client given it (never destroyed: it stays valid for threads
// still running while the process exits).
std::shared_ptr<RateLimiter> process_rate_limiter();

// steady_clock::now() in nanoseconds since its epoch.
int64_t steady_now_ns();

} // namespace pg2d1
