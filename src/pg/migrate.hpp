// migrate.hpp — runs one migration job inside a pg2d1 background worker: plans checkpoints
// by keyset on the primary key, copies each range with multi-row idempotent upserts in
// short transactions, and keeps the local ledger (pg2d1.jobs / pg2d1.checkpoints) and D1's
// migration_checkpoints in step.
// Must never mark a checkpoint completed before D1 acknowledged the request carrying its
// last rows (the remote completion rides in that same atomic request).
// Called by pg2d1_worker_main (worker.cpp).
#pragma once

#include "catalog.hpp"
#include "jobs.hpp"
#include "core/error.hpp"

namespace pg2d1 {

// Throws on failure (the caller records it); returns normally when the job is completed,
// cancelled or handed to another worker.
void run_job(const JobParams &params);

// Shared with the sync worker (sync.cpp):
// Sleeps `seconds` on the latch, waking for interrupts (a cancel or shutdown throws).
void sleep_interruptibly(double seconds);
// D1 stayed unreachable or overloaded through the retries: the job shows `waiting` with the
// reason and the next attempt (5 s, doubling per consecutive wait up to 5 min), sleeps, and
// returns to `running`. Throws 57014 when the job was cancelled meanwhile.
void wait_for_d1(int64_t job_id, int &waits, const Error &e);
// After the worker took its lock: loads the table, inserts the job row when the worker owns
// it (wait => true) or waits up to 60 s for the caller's commit, and claims the job (CAS to
// running). False when the job is not this worker's to run.
bool take_job_row(const JobParams &p, SourceTable &table);

} // namespace pg2d1
