// shared_rate.hpp — one D1 rate limit per Cloudflare account for the whole cluster, kept in shared memory.
// Must never let the limiter's methods (run on sender threads) call PostgreSQL beyond SpinLockAcquire/Release.
// Called by the shmem hooks in worker.cpp (size, init) and by credentials.cpp (rate_limiter_for).
#pragma once

extern "C" {
#include "postgres.h"
}

#include "core/rate_limiter.hpp"

#include <memory>
#include <string>

namespace pg2d1 {

// Bytes to request with RequestAddinShmemSpace (from a shmem_request_hook).
Size shared_rate_shmem_size();

// Creates or attaches the table (from a shmem_startup_hook; the caller holds AddinShmemInitLock).
void shared_rate_shmem_init();

// The limiter for an account, on the main thread. With the shared table: every backend and worker of the cluster
// that asks for the same account shares one budget and one pause. Account ids are compared by their first 63
// bytes; when all 16 slots are taken, further accounts share the last slot (they then throttle each other too:
// safe, only slower). Without shared_preload_libraries there is no table: process_rate_limiter(), one budget per
// process (documented limitation: concurrent dynamic workers each send at the full rate).
std::shared_ptr<RateLimiter> rate_limiter_for(const std::string &account_id);

} // namespace pg2d1
