// sync.hpp — runs one sync job inside a pg2d1 background worker: applies the changes that
// pg2d1._capture() logged for a table (README "Keeping D1 in step"), once up to the changes
// committed when it started, or continuously (follow), woken by the commits themselves.
// Must never lose a change: a change row is deleted only after D1 acknowledged its key's
// current row (or its delete); applying a key twice writes the same row twice.
// Called by pg2d1_worker_main (worker.cpp).
#pragma once

#include "jobs.hpp"

namespace pg2d1 {

// Throws on failure (the caller records it); returns when the job is done or handed over.
void run_sync_job(const JobParams &params);

} // namespace pg2d1
