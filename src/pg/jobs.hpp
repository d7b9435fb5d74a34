// jobs.hpp — migration jobs: parameters passed to a worker, starting workers (directly or
// through the launcher), the launcher's shared state, and the advisory lock that marks a
// table as being migrated by a live worker.
// Must never start two live workers for the same table (the table lock decides).
// Called by functions.cpp (pg2d1_migrate), worker.cpp and module.cpp.
#pragma once

extern "C" {
#include "postgres.h"
#include "postmaster/bgworker.h"
}

#include <cstdint>

namespace pg2d1 {

enum JobFlags : uint32_t {
	kJobResume = 1,
	kJobTraditional = 2,
	kJobCreateRow = 4,    // the worker inserts the job row (wait => true: the caller's
	                      // transaction is still open, its rows are invisible to the worker)
	kJobVerify = 8,       // run pg2d1_verify after the copy; a difference fails the job
	kJobNumericReal = 16, // pg2d1.numeric_as_real: numeric columns go to D1 as REAL
	kJobSync = 32,        // apply captured changes (sync.hpp), not a copy
	kJobFollow = 64,      // sync: keep applying changes as they commit
	kJobImport = 128,     // send the rows through D1's import API (import.hpp)
	kJobAutoMethod = 256, // the worker chooses import or query (import.hpp: choose_method)
};

// Everything a worker needs, in bgw_extra (≤ BGW_EXTRALEN bytes).
struct JobParams {
	int64_t job_id;
	int64_t checkpoint_size;
	int64_t depends_on;
	Oid dboid;
	Oid owner;
	Oid relid;
	int32_t batch_size;
	uint32_t flags;
	// The caller's pg2d1.* settings, applied in the worker (and kept in the job row so a
	// resumed job runs with them too).
	float requests_per_second;
	int32_t max_statement_bytes;
	int32_t max_request_bytes;
	int32_t request_timeout_ms;
	int16_t max_retries;
	int16_t max_statements_per_request;
	char target[NAMEDATALEN]; // server name, "" = default resolution
};
static_assert(sizeof(JobParams) <= BGW_EXTRALEN, "JobParams must fit in bgw_extra");

// Advisory-lock key held (session level) by the worker migrating a table.
// Migration workers hold it for their whole run; sync workers for each round of changes,
// so a copy and a sync never write the same table at once.
constexpr int64_t kLockClass = 0x70326431; // 'p2d1'
inline int64_t table_lock_key(Oid relid) {
	return (kLockClass << 32) | static_cast<int64_t>(relid);
}
// Held (session level) by a sync worker for as long as it runs: one sync worker per table.
constexpr int64_t kSyncLockClass = 0x70326473; // 'p2ds'
inline int64_t sync_lock_key(Oid relid) {
	return (kSyncLockClass << 32) | static_cast<int64_t>(relid);
}

void capture_settings(JobParams &params);     // from this session's GUCs
void apply_settings(const JobParams &params); // in the worker

// Registers a dynamic worker for the job. notify = this backend gets SIGUSR1 on start/stop.
// Throws pg2d1::Error 53400 when no background worker slot is free.
BackgroundWorkerHandle *start_job_worker(const JobParams &params, bool notify);

// Shared state (exists only with shared_preload_libraries = 'pg2d1').
void request_shared_memory();             // from _PG_init
void register_launcher();                 // from _PG_init
bool launcher_serves_database(Oid dboid); // a live launcher handles this database
// pg2d1 is preloaded and pg2d1.database names this database: its launcher is running or
// (re)starting, and will take queued jobs.
bool launcher_expected_for_database(Oid dboid);
void wake_launcher_at_commit(); // sets the launcher's latch when this transaction commits
// Follow mode: the sync worker of a table registers its latch; the capture trigger asks for
// it to be set when the transaction that changed the table commits (no polling).
bool register_follower(Oid relid); // false without shared memory (pg2d1 not preloaded)
void unregister_follower();
void wake_followers_at_commit(Oid relid);
void set_launcher(bool running); // called by the launcher itself
extern "C" PGDLLEXPORT void pg2d1_launcher_main(Datum arg);
extern "C" PGDLLEXPORT void pg2d1_worker_main(Datum arg);

} // namespace pg2d1
