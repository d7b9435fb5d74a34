// job_store.hpp — the one owner of pg2d1's state tables (pg2d1.jobs, pg2d1.checkpoints,
// pg2d1.table_keys): every read and write, the job row ↔ JobParams mapping, and who may act
// on which job.
// Must never write as the calling role (ordinary roles only SELECT these tables): writes run
// as the extension's owner with search_path pinned, after the caller was authorised; never
// hands out a row it did not validate (a damaged ledger is a clean Error, never a crash).
// Called by functions.cpp (SQL entry points), migrate.cpp and worker.cpp.
#pragma once

#include "jobs.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

// Every function below needs a transaction with SPI connected and guards its own PostgreSQL
// calls (it may be called with C++ objects alive).

struct JobRow {
	JobParams params{}; // settings; params.owner is the role's oid now (InvalidOid: role gone)
	std::string table_name;
	std::string owner; // role name
	std::string status;
	std::string d1_columns; // "" when never recorded
	int attempts = 0;
	bool owner_can_login = false;
};

// The SQL version this library was built for (pg2d1.control's default_version).
constexpr const char *kExtensionVersion = "0.4.0";
// The installed extension's version when it is not kExtensionVersion ("" when it is, or the
// extension is not installed here).
std::string extension_version_mismatch();
// Throws 55000 naming both versions and the fix when the installed SQL is another version.
void require_extension_version();

// Superuser or member of pg2d1_admin.
bool caller_is_admin();

// --- jobs -------------------------------------------------------------------------------
int64_t next_job_id(); // from pg2d1.jobs_job_id_seq (ordinary roles have no USAGE on it)
void insert_job(const JobParams &p, const std::string &table_name, const char *status);
std::optional<JobRow> load_job(int64_t job_id);
// The table's migration (or sync) job that is queued, or held by a live worker (this
// database's origin).
std::optional<int64_t> active_job(Oid relid, bool launcher_serves_db, bool sync = false);
// The table's newest migration job (resumable ones only when asked).
std::optional<JobRow> latest_job(Oid relid, bool resumable_only);
// Status changes are compare-and-set: each names the states it may leave; false = it did not.
bool claim_job(int64_t job_id);                                              // queued|running|waiting → running
bool finish_job(int64_t job_id, int64_t rows_done);                          // running → completed
bool fail_job(int64_t job_id, const std::string &message);                   // queued|running|waiting → failed
bool set_waiting(int64_t job_id, const std::string &reason, double seconds); // running → waiting
bool end_waiting(int64_t job_id);                                            // waiting → running
struct JobProgress {
	int64_t rows_done = 0;
	int64_t requests = 0;
	int64_t retries = 0;
	int64_t bytes_sent = 0;
	int64_t peak_rss_kb = 0;
};
void update_progress(int64_t job_id, const JobProgress &p);
void set_rows_total(int64_t job_id, int64_t rows_total);
void set_phase(int64_t job_id, const std::string &phase); // "" = NULL
// 'auto' | 'query' | 'import' as in pg2d1.jobs.method, from kJobAutoMethod / kJobImport.
const char *method_name(uint32_t flags);
void set_method(int64_t job_id, const char *method); // the worker's choice for 'auto'
void set_verify_result(int64_t job_id, bool ok, const std::string &summary);
void set_d1_columns(int64_t job_id, const std::string &columns);
void reset_attempts(int64_t job_id);
// Cancels (CAS from queued|running|waiting) after require_job_access (unless the caller was
// authorised otherwise: the table's owner disabling its sync); the job's live worker is sent
// SIGTERM when the caller's transaction commits. False when there was nothing to cancel.
bool cancel_job(int64_t job_id, bool check_access = true);

// --- the launcher -----------------------------------------------------------------------
// Jobs of this database that should have a worker but have none, due now.
std::vector<JobRow> launch_candidates();
// queued|running|waiting jobs of another origin (restored from a dump) become 'paused'.
int pause_restored_jobs();
// Before starting a worker: attempts + 1 and the earliest time of the next launch.
void record_launch(int64_t job_id, int attempts, double backoff_seconds);
// True while some job of this database is queued, running or waiting.
bool any_active_job();

// --- checkpoints ------------------------------------------------------------------------
struct CheckpointRow {
	int64_t id = 0;
	int64_t start_id = 0; // labels: the key for one integer key column, else row ordinals
	int64_t end_id = 0;
	std::vector<std::string> start_key; // first and last key when planned
	std::vector<std::string> end_key;
	std::optional<std::vector<std::string>> after_key;   // keys > after_key (none: from the start)
	std::optional<std::vector<std::string>> through_key; // keys <= through_key (none: to the end)
	std::optional<std::vector<std::string>> last_key;    // last key copied
	int64_t records = 0;
	std::string status; // pending, in_progress, completed, failed
	bool skipped = false;
};
// The job's ledger in key order; every row validated against `key_columns` (Error XX001
// naming the job and the damage otherwise).
std::vector<CheckpointRow> load_checkpoints(int64_t job_id, size_t key_columns);
int64_t insert_checkpoint(int64_t job_id, const std::string &table_name, const CheckpointRow &cp);
void mark_checkpoint(int64_t id, const char *status, const std::string &error, int64_t rows,
                     const std::optional<std::vector<std::string>> &last_key);
void reset_in_progress(int64_t job_id);
bool has_ledger(int64_t job_id); // the job has planned its checkpoints
// The newest resumable job of the table (not `exclude_job`) that has a ledger, with it.
std::optional<std::pair<JobRow, std::vector<CheckpointRow>>> previous_plan(Oid relid, int64_t exclude_job,
                                                                           size_t key_columns);

// --- table-level operations of the SQL functions (caller's own jobs; admins: all) ---------
bool table_has_active_job(Oid relid, bool own_only);
bool table_has_other_roles_jobs(Oid relid); // false for admins
int reset_stuck_local(Oid relid);           // in_progress → pending; running|waiting jobs → failed
int retry_failed_local(Oid relid);          // failed checkpoints → pending
int delete_table_jobs(Oid relid);           // the jobs and their ledgers

// --- table keys -------------------------------------------------------------------------
void set_table_key(Oid relid, Oid key_index); // InvalidOid: back to the primary key

// --- sync (pg2d1.sync_tables, pg2d1.changes) ----------------------------------------------
struct SyncRow {
	std::string owner;
	std::string target;           // "" = default resolution
	std::vector<int> key_attnums; // the key captured, in key order
	std::string columns;          // pg2d1._columns() when enabled
	std::string columns_now;      // pg2d1._columns() now
	std::string status;           // enabled, stopped
	std::string stop_reason;
	bool reconcile = false; // compare every key of both sides before applying changes
};
std::optional<SyncRow> load_sync(Oid relid);
// Creates or re-enables the table's sync (owner: the caller); reconcile as given.
void upsert_sync(Oid relid, const std::string &target, const std::vector<int> &key_attnums, bool reconcile);
// Forgets the sync and its captured changes. False when there was none.
bool delete_sync(Oid relid);
void stop_sync(Oid relid, const std::string &reason);
void end_reconcile(Oid relid);
// True when the table has (had) a migration job: D1 may hold rows copied before capture.
bool table_has_migrate_job(Oid relid);
// The capture trigger's lookup: the key attnums of an enabled or stopped sync, nullopt when
// the table is not synced. Plans are prepared once per backend.
std::optional<std::vector<int>> capture_key_attnums(Oid relid);
// Appends one change per key (keys given column by column: keys[k][i] is column k of key i);
// op is 'I', 'U', 'D' or 'R' (reconcile, logged as 'U'), or 'T' with no keys.
void log_changes(Oid relid, char op, const std::vector<std::vector<std::string>> &keys);
struct Change {
	int64_t id = 0;
	char op = 'U';
	std::vector<std::string> key; // empty for 'T'
};
// The oldest captured changes of the table, up to `limit`, with ids <= up_to.
std::vector<Change> fetch_changes(Oid relid, int64_t up_to, long limit);
int64_t max_change_id(Oid relid); // 0 when none
int64_t pending_changes(Oid relid, int64_t up_to);
// Changes with ids <= up_to not yet applied, leaving out those of the calling transaction
// (uncommitted: no worker can apply them before it ends).
int64_t pending_changes_of_others(Oid relid, int64_t up_to);
// Deletes the applied changes and adds to the sync's counters, in one statement.
void finish_changes(Oid relid, const std::vector<int64_t> &ids, int64_t upserts, int64_t deletes, int64_t truncates);

} // namespace pg2d1
