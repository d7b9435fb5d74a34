// job_store.cpp — every read and write of pg2d1.jobs, pg2d1.checkpoints and pg2d1.table_keys
// (see job_store.hpp).
// Must never run a statement as the caller or with the caller's search_path, and never let
// an unexpected value (NULL, wrong array length) reach the worker unvalidated.
// Called by functions.cpp, migrate.cpp and worker.cpp.
#include "job_store.hpp"

#include "boundary.hpp"
#include "spi_guarded.hpp"
#include "core/error.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "commands/sequence.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

#include <csignal>
#include <cstring>

namespace pg2d1 {
namespace {

constexpr const char *kActive = "('queued','running','waiting')";

// --- running statements as the extension's owner ------------------------------------------

struct StoreState {
	Oid saved_user = InvalidOid;
	int saved_context = 0;
	int guc_level = 0;
};

Oid store_owner() {
	Oid owner = InvalidOid;
	pg_call([&] {
		Oid nsp = get_namespace_oid("pg2d1", false);
		Oid rel = get_relname_relid("jobs", nsp);
		HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
		if (!HeapTupleIsValid(tup)) {
			elog(ERROR, "pg2d1: table pg2d1.jobs not found");
		}
		owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
	});
	return owner;
}

StoreState enter_store() {
	StoreState s;
	Oid owner = store_owner();
	pg_call([&] {
		GetUserIdAndSecContext(&s.saved_user, &s.saved_context);
		s.guc_level = NewGUCNestLevel();
		(void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
		                        0, false);
		SetUserIdAndSecContext(owner, s.saved_context | SECURITY_LOCAL_USERID_CHANGE);
	});
	return s;
}

void leave_store(const StoreState &s) {
	pg_call([&] {
		SetUserIdAndSecContext(s.saved_user, s.saved_context);
		AtEOXact_GUC(true, s.guc_level);
	});
}

// Runs `f` as the extension's owner with search_path = pg_catalog, pg_temp.
template <typename F> auto as_store(F &&f) -> decltype(f()) {
	StoreState s = enter_store();
	try {
		if constexpr (std::is_void_v<decltype(f())>) {
			f();
			leave_store(s);
		} else {
			auto r = f();
			leave_store(s);
			return r;
		}
	} catch (...) {
		// The transaction is aborted next; the identity must not outlive this call.
		SetUserIdAndSecContext(s.saved_user, s.saved_context);
		throw;
	}
}

std::string current_user_name() {
	const char *name = pg_call([] { return static_cast<const char *>(GetUserNameFromId(GetUserId(), false)); });
	return name;
}

// The job columns every JobRow reader selects, in this order.
constexpr const char *kJobColumns =
    "j.job_id, j.table_name, j.relid::oid, j.owner::text, j.status, j.checkpoint_size, j.batch_size, j.resume, "
    "j.mode, coalesce(j.target, ''), coalesce(j.depends_on, 0), j.verify, j.numeric_as_real, "
    "j.requests_per_second, j.max_retries, j.request_timeout_ms, j.max_statement_bytes, j.max_request_bytes, "
    "j.max_statements_per_request, coalesce(j.d1_columns, ''), j.attempts, r.oid, coalesce(r.rolcanlogin, false), "
    "j.kind, j.follow, j.method";
constexpr const char *kJobFrom = " FROM pg2d1.jobs j LEFT JOIN pg_catalog.pg_roles r ON r.rolname = j.owner ";

JobRow read_job_row(uint64 i) {
	JobRow j;
	JobParams &p = j.params;
	std::memset(&p, 0, sizeof(p));
	p.job_id = get_int64(i, 1);
	j.table_name = get_text(i, 2);
	p.relid = get_oid(i, 3);
	j.owner = get_text(i, 4);
	j.status = get_text(i, 5);
	p.checkpoint_size = get_int64(i, 6);
	p.batch_size = get_int32(i, 7);
	bool resume = get_bool(i, 8);
	std::string mode = get_text(i, 9);
	std::string target = get_text(i, 10);
	p.depends_on = get_int64(i, 11);
	bool verify = get_bool(i, 12);
	bool numeric_real = get_bool(i, 13);
	p.requests_per_second = static_cast<float>(get_float8(i, 14));
	p.max_retries = static_cast<int16_t>(get_int32(i, 15));
	p.request_timeout_ms = get_int32(i, 16);
	p.max_statement_bytes = get_int32(i, 17);
	p.max_request_bytes = get_int32(i, 18);
	p.max_statements_per_request = static_cast<int16_t>(get_int32(i, 19));
	j.d1_columns = get_text(i, 20);
	j.attempts = get_int32(i, 21);
	p.owner = get_oid(i, 22);
	j.owner_can_login = get_bool(i, 23);
	bool sync = get_text(i, 24) == "sync";
	bool follow = get_bool(i, 25);
	std::string method = get_text(i, 26);
	p.dboid = MyDatabaseId;
	p.flags = (resume ? uint32_t(kJobResume) : 0u) | (mode == "traditional" ? uint32_t(kJobTraditional) : 0u) |
	          (verify ? uint32_t(kJobVerify) : 0u) | (numeric_real ? uint32_t(kJobNumericReal) : 0u) |
	          (sync ? uint32_t(kJobSync) : 0u) | (sync && follow ? uint32_t(kJobFollow) : 0u) |
	          (method == "import" ? uint32_t(kJobImport) : 0u) | (method == "auto" ? uint32_t(kJobAutoMethod) : 0u);
	if (target.size() >= sizeof(p.target)) {
		target.clear(); // the table's CHECK forbids it; never overflow
	}
	std::strncpy(p.target, target.c_str(), sizeof(p.target) - 1);
	return j;
}

std::string job_query(const std::string &where) {
	return std::string("SELECT ") + kJobColumns + kJobFrom + where;
}

} // namespace

std::string extension_version_mismatch() {
	std::string v;
	if (spi_exec("SELECT extversion FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg2d1'", {},
	             true) > 0) {
		v = get_text(0, 1);
	}
	return v == kExtensionVersion ? std::string() : v;
}

void require_extension_version() {
	std::string v = extension_version_mismatch();
	if (!v.empty()) {
		throw Error(
		    "55000",
		    "the pg2d1 extension here is version " + v + ", but the pg2d1 library is version " + kExtensionVersion,
		    "The library was upgraded and the extension's SQL objects were not.", "ALTER EXTENSION pg2d1 UPDATE;");
	}
}

bool caller_is_admin() {
	return pg_call([] {
		if (superuser()) {
			return true;
		}
		Oid admin = get_role_oid("pg2d1_admin", true);
		return OidIsValid(admin) && is_member_of_role(GetUserId(), admin);
	});
}

// Throws 42501 unless the calling role owns the job or is an admin.
static void require_job_access(const JobRow &job) {
	if (caller_is_admin() || job.owner == current_user_name()) {
		return;
	}
	throw Error("42501", "job " + std::to_string(job.params.job_id) + " belongs to role \"" + job.owner + "\"",
	            "Only the job's owner, members of pg2d1_admin and superusers may act on it.");
}

// --- jobs -----------------------------------------------------------------------------------

int64_t next_job_id() {
	return as_store([] {
		spi_exec("SELECT nextval('pg2d1.jobs_job_id_seq')", {});
		return get_int64(0, 1);
	});
}

void insert_job(const JobParams &p, const std::string &table_name, const char *status) {
	std::string owner = pg_call([&] { return static_cast<const char *>(GetUserNameFromId(p.owner, false)); });
	std::vector<SpiArg> args = {int8_arg(p.job_id),
	                            text_arg(table_name),
	                            oid_arg(p.relid),
	                            text_arg(owner),
	                            text_arg(status),
	                            int8_arg(p.checkpoint_size),
	                            int4_arg(p.batch_size),
	                            bool_arg((p.flags & kJobResume) != 0),
	                            text_arg((p.flags & kJobTraditional) ? "traditional" : "resumable"),
	                            text_arg(p.target, true),
	                            int8_arg(p.depends_on),
	                            float8_arg(p.requests_per_second),
	                            int4_arg(p.max_retries),
	                            int4_arg(p.request_timeout_ms),
	                            int4_arg(p.max_statement_bytes),
	                            int4_arg(p.max_request_bytes),
	                            int4_arg(p.max_statements_per_request),
	                            bool_arg((p.flags & kJobVerify) != 0),
	                            bool_arg((p.flags & kJobNumericReal) != 0),
	                            text_arg((p.flags & kJobSync) ? "sync" : "migrate"),
	                            bool_arg((p.flags & kJobFollow) != 0),
	                            text_arg(method_name(p.flags))};
	as_store([&] {
		spi_exec(
		    "INSERT INTO pg2d1.jobs (job_id, table_name, relid, owner, status, checkpoint_size, batch_size, resume, "
		    "mode, target, depends_on, requests_per_second, max_retries, request_timeout_ms, max_statement_bytes, "
		    "max_request_bytes, max_statements_per_request, verify, numeric_as_real, kind, follow, method) "
		    "VALUES ($1, $2, $3::oid::regclass, $4, $5, $6, $7, $8, $9, $10, nullif($11, 0), $12, $13, $14, $15, "
		    "$16, $17, $18, $19, $20, $21, $22) ON CONFLICT (job_id) DO NOTHING",
		    args);
	});
}

std::optional<JobRow> load_job(int64_t job_id) {
	return as_store([&]() -> std::optional<JobRow> {
		if (spi_exec(job_query("WHERE j.job_id = $1").c_str(), {int8_arg(job_id)}) == 0) {
			return std::nullopt;
		}
		return read_job_row(0);
	});
}

std::optional<int64_t> active_job(Oid relid, bool launcher_serves_db, bool sync) {
	return as_store([&]() -> std::optional<int64_t> {
		if (spi_exec("SELECT j.job_id FROM pg2d1.jobs j WHERE j.relid = $1::oid::regclass AND j.status IN "
		             "('queued','running','waiting') AND j.origin = pg2d1._origin() AND j.kind = $3 AND "
		             "(($2 AND j.status = 'queued') OR pg2d1._job_has_worker(j.relid, j.kind)) ORDER BY j.job_id DESC "
		             "LIMIT 1",
		             {oid_arg(relid), bool_arg(launcher_serves_db), text_arg(sync ? "sync" : "migrate")}) == 0) {
			return std::nullopt;
		}
		return get_int64(0, 1);
	});
}

std::optional<JobRow> latest_job(Oid relid, bool resumable_only) {
	std::string q = job_query(std::string("WHERE j.relid = $1::oid::regclass AND j.kind = 'migrate'") +
	                          (resumable_only ? " AND j.mode = 'resumable'" : "") + " ORDER BY j.job_id DESC LIMIT 1");
	return as_store([&]() -> std::optional<JobRow> {
		if (spi_exec(q.c_str(), {oid_arg(relid)}) == 0) {
			return std::nullopt;
		}
		return read_job_row(0);
	});
}

bool claim_job(int64_t job_id) {
	return as_store([&] {
		return spi_exec("UPDATE pg2d1.jobs SET status = 'running', pid = pg_backend_pid(), phase = 'starting', "
		                "last_error = NULL, next_attempt_at = NULL, updated_at = clock_timestamp() "
		                "WHERE job_id = $1 AND status IN ('queued','running','waiting') AND origin = pg2d1._origin()",
		                {int8_arg(job_id)}) > 0;
	});
}

bool finish_job(int64_t job_id, int64_t rows_done) {
	return as_store([&] {
		return spi_exec(
		           "UPDATE pg2d1.jobs SET status = 'completed', phase = NULL, pid = NULL, rows_done = $2, "
		           "attempts = 0, last_error = NULL, finished_at = clock_timestamp(), updated_at = clock_timestamp() "
		           "WHERE job_id = $1 AND status = 'running'",
		           {int8_arg(job_id), int8_arg(rows_done)}) > 0;
	});
}

bool fail_job(int64_t job_id, const std::string &message) {
	return as_store([&] {
		return spi_exec("UPDATE pg2d1.jobs SET status = 'failed', last_error = $2, pid = NULL, phase = NULL, "
		                "next_attempt_at = NULL, finished_at = clock_timestamp(), updated_at = clock_timestamp() "
		                "WHERE job_id = $1 AND status IN ('queued','running','waiting')",
		                {int8_arg(job_id), text_arg(message)}) > 0;
	});
}

bool set_waiting(int64_t job_id, const std::string &reason, double seconds) {
	return as_store([&] {
		return spi_exec(
		           "UPDATE pg2d1.jobs SET status = 'waiting', last_error = $2, "
		           "next_attempt_at = clock_timestamp() + make_interval(secs => $3), "
		           "phase = 'waiting for D1', updated_at = clock_timestamp() WHERE job_id = $1 AND status = 'running'",
		           {int8_arg(job_id), text_arg(reason), float8_arg(seconds)}) > 0;
	});
}

bool end_waiting(int64_t job_id) {
	return as_store([&] {
		return spi_exec("UPDATE pg2d1.jobs SET status = 'running', next_attempt_at = NULL, phase = 'resuming', "
		                "updated_at = clock_timestamp() WHERE job_id = $1 AND status = 'waiting'",
		                {int8_arg(job_id)}) > 0;
	});
}

void update_progress(int64_t job_id, const JobProgress &p) {
	as_store([&] {
		spi_exec(
		    "UPDATE pg2d1.jobs SET rows_done = $2, requests = $3, retries = $4, bytes_sent = $5, peak_rss_kb = $6, "
		    "updated_at = clock_timestamp() WHERE job_id = $1",
		    {int8_arg(job_id), int8_arg(p.rows_done), int8_arg(p.requests), int8_arg(p.retries), int8_arg(p.bytes_sent),
		     int8_arg(p.peak_rss_kb)});
	});
}

void set_rows_total(int64_t job_id, int64_t rows_total) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET rows_total = $2, updated_at = clock_timestamp() WHERE job_id = $1",
		         {int8_arg(job_id), int8_arg(rows_total)});
	});
}

const char *method_name(uint32_t flags) {
	return (flags & kJobSync) ? "query" : (flags & kJobAutoMethod) ? "auto" : (flags & kJobImport) ? "import" : "query";
}

void set_method(int64_t job_id, const char *method) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET method = $2, updated_at = clock_timestamp() WHERE job_id = $1",
		         {int8_arg(job_id), text_arg(method)});
	});
}

void set_phase(int64_t job_id, const std::string &phase) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET phase = $2, updated_at = clock_timestamp() WHERE job_id = $1",
		         {int8_arg(job_id), text_arg(phase, true)});
	});
}

void set_verify_result(int64_t job_id, bool ok, const std::string &summary) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET verified = $2, verify_summary = $3 WHERE job_id = $1",
		         {int8_arg(job_id), bool_arg(ok), text_arg(summary)});
	});
}

void set_d1_columns(int64_t job_id, const std::string &columns) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET d1_columns = $2 WHERE job_id = $1", {int8_arg(job_id), text_arg(columns)});
	});
}

void reset_attempts(int64_t job_id) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET attempts = 0 WHERE job_id = $1 AND attempts <> 0", {int8_arg(job_id)});
	});
}

namespace {
// pids to send SIGTERM when this transaction commits (pg2d1_cancel).
std::vector<int> terminate_at_commit;
bool xact_callback_registered = false;

void terminate_callback(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT) {
		for (int pid : terminate_at_commit) {
			if (BackendPidGetProc(pid) != nullptr) {
				(void)kill(pid, SIGTERM);
			}
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) {
		terminate_at_commit.clear();
	}
}
} // namespace

bool cancel_job(int64_t job_id, bool check_access) {
	std::optional<JobRow> job = load_job(job_id);
	if (!job) {
		return false;
	}
	if (check_access) {
		require_job_access(*job);
	}
	int pid = 0;
	bool cancelled = as_store([&] {
		if (spi_exec("UPDATE pg2d1.jobs SET status = 'cancelled', finished_at = clock_timestamp(), "
		             "updated_at = clock_timestamp(), phase = NULL, next_attempt_at = NULL "
		             "WHERE job_id = $1 AND status IN ('queued','running','waiting') RETURNING coalesce(pid, 0), "
		             "relid::oid, "
		             "kind = 'sync'",
		             {int8_arg(job_id)}) == 0) {
			return false;
		}
		pid = get_int32(0, 1);
		Oid relid = get_oid(0, 2);
		bool sync = get_bool(0, 3);
		spi_exec("UPDATE pg2d1.checkpoints SET status = 'pending' WHERE job_id = $1 AND status = 'in_progress'",
		         {int8_arg(job_id)});
		// Signal only the process that holds the table's worker lock (never a recycled pid).
		if (pid != 0 &&
		    spi_exec("SELECT 1 FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $1 "
		             "AND l.classid = $3 AND l.objid = $2 AND l.objsubid = 1",
		             {int4_arg(pid), oid_arg(relid), oid_arg(static_cast<Oid>(sync ? kSyncLockClass : kLockClass))}) ==
		        0) {
			pid = 0;
		}
		return true;
	});
	if (cancelled && pid != 0) {
		pg_call([&] {
			if (!xact_callback_registered) {
				RegisterXactCallback(terminate_callback, nullptr);
				xact_callback_registered = true;
			}
		});
		terminate_at_commit.push_back(pid);
	}
	return cancelled;
}

// --- the launcher ---------------------------------------------------------------------------

std::vector<JobRow> launch_candidates() {
	return as_store([] {
		std::vector<JobRow> out;
		uint64 n =
		    spi_exec(job_query("WHERE j.status IN ('queued','running','waiting') AND j.origin = pg2d1._origin() "
		                       "AND NOT pg2d1._job_has_worker(j.relid, j.kind) AND (j.next_attempt_at IS NULL OR "
		                       "j.next_attempt_at <= clock_timestamp()) ORDER BY j.job_id")
		                 .c_str(),
		             {});
		for (uint64 i = 0; i < n; i++) {
			out.push_back(read_job_row(i));
		}
		return out;
	});
}

int pause_restored_jobs() {
	return as_store([] {
		return static_cast<int>(
		    spi_exec("UPDATE pg2d1.jobs SET status = 'paused', pid = NULL, phase = NULL, next_attempt_at = NULL, "
		             "last_error = 'restored from another cluster or database (origin ' || origin || '): call "
		             "pg2d1_migrate(''' || table_name || ''') to resume it here', updated_at = clock_timestamp() "
		             "WHERE status IN ('queued','running','waiting') AND origin <> pg2d1._origin()",
		             {}));
	});
}

void record_launch(int64_t job_id, int attempts, double backoff_seconds) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.jobs SET attempts = $2, next_attempt_at = clock_timestamp() + make_interval(secs => $3) "
		         "WHERE job_id = $1",
		         {int8_arg(job_id), int4_arg(attempts), float8_arg(backoff_seconds)});
	});
}

bool any_active_job() {
	return as_store([] {
		return spi_exec("SELECT 1 FROM pg2d1.jobs WHERE status IN ('queued','running','waiting') LIMIT 1", {}) > 0;
	});
}

// --- checkpoints ----------------------------------------------------------------------------

namespace {

constexpr const char *kCheckpointColumns =
    "SELECT id, start_id, end_id, start_key, end_key, after_key, through_key, last_key, records_processed, status, "
    "skipped FROM pg2d1.checkpoints ";

void damaged(int64_t job_id, int64_t id, const std::string &what) {
	throw Error("XX001",
	            "the ledger of pg2d1 job " + std::to_string(job_id) + " is damaged: checkpoint " + std::to_string(id) +
	                " " + what,
	            "pg2d1.checkpoints holds a row pg2d1 did not write.",
	            "Start the table over with pg2d1_migrate(…, resume => false), or pg2d1_reset(…) first.");
}

std::vector<CheckpointRow> read_checkpoints(uint64 n, int64_t job_id, size_t key_columns) {
	std::vector<CheckpointRow> out;
	for (uint64 i = 0; i < n; i++) {
		CheckpointRow cp;
		cp.id = get_int64(i, 1);
		cp.start_id = get_int64(i, 2);
		cp.end_id = get_int64(i, 3);
		auto sk = get_text_array(i, 4);
		auto ek = get_text_array(i, 5);
		cp.after_key = get_text_array(i, 6);
		cp.through_key = get_text_array(i, 7);
		cp.last_key = get_text_array(i, 8);
		cp.records = get_int64(i, 9);
		cp.status = get_text(i, 10);
		cp.skipped = get_bool(i, 11);
		cp.start_key = sk.value_or(std::vector<std::string>{});
		cp.end_key = ek.value_or(std::vector<std::string>{});
		if (cp.status != "pending" && cp.status != "in_progress" && cp.status != "completed" && cp.status != "failed") {
			damaged(job_id, cp.id, "has status \"" + cp.status + "\"");
		}
		for (auto *k : {&cp.after_key, &cp.through_key, &cp.last_key}) {
			if (*k && (*k)->size() != key_columns) {
				damaged(job_id, cp.id,
				        "has a key of " + std::to_string((*k)->size()) + " values for a key of " +
				            std::to_string(key_columns) + " columns");
			}
		}
		if (cp.records < 0) {
			damaged(job_id, cp.id, "has a negative row count");
		}
		out.push_back(std::move(cp));
	}
	// Contiguous: each range starts where the previous one ended.
	for (size_t i = 0; i < out.size(); i++) {
		bool first = i == 0;
		bool last = i + 1 == out.size();
		if (first != !out[i].after_key.has_value() || last != !out[i].through_key.has_value() ||
		    (!first && out[i].after_key != out[i - 1].through_key)) {
			damaged(job_id, out[i].id, "does not continue the previous range (ranges must be contiguous)");
		}
	}
	return out;
}

} // namespace

std::vector<CheckpointRow> load_checkpoints(int64_t job_id, size_t key_columns) {
	return as_store([&] {
		uint64 n = spi_exec(
		    (std::string(kCheckpointColumns) + "WHERE job_id = $1 ORDER BY after_key IS NOT NULL, start_id, id")
		        .c_str(),
		    {int8_arg(job_id)});
		return read_checkpoints(n, job_id, key_columns);
	});
}

int64_t insert_checkpoint(int64_t job_id, const std::string &table_name, const CheckpointRow &cp) {
	std::vector<SpiArg> args = {int8_arg(job_id),
	                            text_arg(table_name),
	                            int8_arg(cp.start_id),
	                            int8_arg(cp.end_id),
	                            text_array_arg(cp.start_key),
	                            text_array_arg(cp.end_key),
	                            text_array_arg(cp.after_key),
	                            text_array_arg(cp.through_key),
	                            text_array_arg(cp.last_key),
	                            int8_arg(cp.records),
	                            text_arg(cp.status),
	                            bool_arg(cp.skipped)};
	return as_store([&] {
		spi_exec(
		    "INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, start_key, end_key, after_key, "
		    "through_key, last_key, records_processed, status, remote_synced, skipped, completed_at) VALUES ($1, $2, "
		    "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, CASE WHEN $11 = 'completed' THEN clock_timestamp() END) "
		    "RETURNING id",
		    args);
		return get_int64(0, 1);
	});
}

void mark_checkpoint(int64_t id, const char *status, const std::string &error, int64_t rows,
                     const std::optional<std::vector<std::string>> &last_key) {
	std::vector<SpiArg> args = {int8_arg(id), text_arg(status), text_arg(error, true), int8_arg(rows),
	                            text_array_arg(last_key)};
	as_store([&] {
		spi_exec("UPDATE pg2d1.checkpoints SET status = $2, error_message = $3, records_processed = $4, "
		         "last_key = coalesce($5, last_key), "
		         "started_at = CASE WHEN $2 = 'in_progress' THEN clock_timestamp() ELSE started_at END, "
		         "completed_at = CASE WHEN $2 = 'completed' THEN clock_timestamp() END, "
		         "remote_synced = ($2 <> 'in_progress') WHERE id = $1",
		         args);
	});
}

bool has_ledger(int64_t job_id) {
	return as_store(
	    [&] { return spi_exec("SELECT 1 FROM pg2d1.checkpoints WHERE job_id = $1", {int8_arg(job_id)}, true, 1) > 0; });
}

void reset_in_progress(int64_t job_id) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.checkpoints SET status = 'pending' WHERE job_id = $1 AND status = 'in_progress'",
		         {int8_arg(job_id)});
	});
}

std::optional<std::pair<JobRow, std::vector<CheckpointRow>>> previous_plan(Oid relid, int64_t exclude_job,
                                                                           size_t key_columns) {
	std::string q = job_query("WHERE j.relid = $1::oid::regclass AND j.kind = 'migrate' AND j.mode = 'resumable' AND "
	                          "j.job_id <> $2 AND "
	                          "EXISTS (SELECT 1 FROM pg2d1.checkpoints c WHERE c.job_id = j.job_id) "
	                          "ORDER BY j.job_id DESC LIMIT 1"); // restored ledgers too: skips are checked in D1
	std::optional<JobRow> job = as_store([&]() -> std::optional<JobRow> {
		if (spi_exec(q.c_str(), {oid_arg(relid), int8_arg(exclude_job)}) == 0) {
			return std::nullopt;
		}
		return read_job_row(0);
	});
	if (!job) {
		return std::nullopt;
	}
	try {
		return std::make_pair(*job, load_checkpoints(job->params.job_id, key_columns));
	} catch (const Error &) {
		return std::nullopt; // an older ledger that pg2d1 cannot use: plan afresh
	}
}

// --- table-level operations ------------------------------------------------------------------

bool table_has_other_roles_jobs(Oid relid) {
	if (caller_is_admin()) {
		return false;
	}
	std::string user = current_user_name();
	return as_store([&] {
		uint64 n = spi_exec("SELECT 1 FROM pg2d1.jobs j WHERE j.relid = $1::oid::regclass AND j.owner <> $2",
		                    {oid_arg(relid), text_arg(user)}, false, 1);
		return n > 0;
	});
}

namespace {
// Runs each statement over the table's jobs `j` ($1 = the table) that the caller may act on:
// its own ($2 = its name) or, for admins, all. Returns the rows of the first statement.
int on_callers_jobs(Oid relid, std::initializer_list<const char *> statements) {
	std::string user = current_user_name();
	std::string filter = caller_is_admin() ? " AND $2 IS NOT NULL" : " AND j.owner = $2";
	return as_store([&] {
		int first = -1;
		for (const char *sql : statements) {
			int n = static_cast<int>(spi_exec(sql + filter, {oid_arg(relid), text_arg(user)}));
			first = first < 0 ? n : first;
		}
		return first;
	});
}
} // namespace

bool table_has_active_job(Oid relid, bool own_only) {
	std::string user = current_user_name();
	std::string q =
	    std::string(
	        "SELECT 1 FROM pg2d1.jobs j WHERE j.relid = $1::oid::regclass AND j.kind = 'migrate' AND j.status IN ") +
	    kActive + (own_only && !caller_is_admin() ? " AND j.owner = $2" : " AND $2 IS NOT NULL");
	return as_store([&] { return spi_exec(q, {oid_arg(relid), text_arg(user)}, false, 1) > 0; });
}

int reset_stuck_local(Oid relid) {
	return on_callers_jobs(
	    relid, {"UPDATE pg2d1.checkpoints c SET status = 'pending' FROM pg2d1.jobs j WHERE j.job_id = c.job_id AND "
	            "j.relid = $1::oid::regclass AND c.status = 'in_progress'",
	            "UPDATE pg2d1.jobs j SET status = 'failed', last_error = 'worker gone (reset by pg2d1_reset_stuck)', "
	            "finished_at = clock_timestamp(), pid = NULL, phase = NULL WHERE j.relid = $1::oid::regclass AND "
	            "j.kind = 'migrate' AND j.status IN ('running','waiting')"});
}

int retry_failed_local(Oid relid) {
	return on_callers_jobs(relid, {"UPDATE pg2d1.checkpoints c SET status = 'pending', error_message = NULL FROM "
	                               "pg2d1.jobs j WHERE j.job_id = c.job_id AND j.relid = $1::oid::regclass AND "
	                               "c.status = 'failed'"});
}

int delete_table_jobs(Oid relid) {
	return on_callers_jobs(relid,
	                       {"DELETE FROM pg2d1.jobs j WHERE j.relid = $1::oid::regclass AND j.kind = 'migrate'"});
}

// --- table keys -------------------------------------------------------------------------------

void set_table_key(Oid relid, Oid key_index) {
	as_store([&] {
		if (!OidIsValid(key_index)) {
			spi_exec("DELETE FROM pg2d1.table_keys WHERE relid = $1::oid::regclass", {oid_arg(relid)});
		} else {
			spi_exec("INSERT INTO pg2d1.table_keys VALUES ($1::oid::regclass, $2::oid::regclass) "
			         "ON CONFLICT (relid) DO UPDATE SET key_index = excluded.key_index",
			         {oid_arg(relid), oid_arg(key_index)});
		}
	});
}

// --- sync -------------------------------------------------------------------------------------

std::optional<SyncRow> load_sync(Oid relid) {
	return as_store([&]() -> std::optional<SyncRow> {
		// A sync restored into another cluster or database compares both sides first.
		spi_exec("UPDATE pg2d1.sync_tables SET reconcile = true, origin = pg2d1._origin() "
		         "WHERE relid = $1::oid::regclass AND origin <> pg2d1._origin()",
		         {oid_arg(relid)});
		if (spi_exec("SELECT owner::text, coalesce(target, ''), key_attnums::int4[]::text[], columns, "
		             "coalesce(pg2d1._columns($1), ''), status, coalesce(stop_reason, ''), reconcile "
		             "FROM pg2d1.sync_tables WHERE relid = $1::oid::regclass",
		             {oid_arg(relid)}) == 0) {
			return std::nullopt;
		}
		SyncRow r;
		r.owner = get_text(0, 1);
		r.target = get_text(0, 2);
		for (auto &a : get_text_array(0, 3).value_or(std::vector<std::string>{})) {
			r.key_attnums.push_back(std::stoi(a));
		}
		r.columns = get_text(0, 4);
		r.columns_now = get_text(0, 5);
		r.status = get_text(0, 6);
		r.stop_reason = get_text(0, 7);
		r.reconcile = get_bool(0, 8);
		return r;
	});
}

void upsert_sync(Oid relid, const std::string &target, const std::vector<int> &key_attnums, bool reconcile) {
	std::vector<std::string> attnums;
	for (int a : key_attnums) {
		attnums.push_back(std::to_string(a));
	}
	std::string owner = current_user_name();
	as_store([&] {
		spi_exec(
		    "INSERT INTO pg2d1.sync_tables AS s (relid, owner, target, key_attnums, columns, reconcile) "
		    "VALUES ($1::oid::regclass, $2, $3, $4::int2[], pg2d1._columns($1), $5) "
		    "ON CONFLICT (relid) DO UPDATE SET owner = excluded.owner, target = excluded.target, "
		    "key_attnums = excluded.key_attnums, columns = excluded.columns, status = 'enabled', "
		    "stop_reason = NULL, reconcile = s.reconcile OR excluded.reconcile, origin = pg2d1._origin()",
		    {oid_arg(relid), text_arg(owner), text_arg(target, true), text_array_arg(attnums), bool_arg(reconcile)});
	});
}

bool delete_sync(Oid relid) {
	return as_store([&] {
		spi_exec("DELETE FROM pg2d1.changes WHERE relid = $1", {oid_arg(relid)});
		return spi_exec("DELETE FROM pg2d1.sync_tables WHERE relid = $1::oid::regclass", {oid_arg(relid)}) > 0;
	});
}

void stop_sync(Oid relid, const std::string &reason) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.sync_tables SET status = 'stopped', stop_reason = $2 WHERE relid = $1::oid::regclass",
		         {oid_arg(relid), text_arg(reason)});
	});
}

void end_reconcile(Oid relid) {
	as_store([&] {
		spi_exec("UPDATE pg2d1.sync_tables SET reconcile = false WHERE relid = $1::oid::regclass", {oid_arg(relid)});
	});
}

bool table_has_migrate_job(Oid relid) {
	return as_store([&] {
		return spi_exec("SELECT 1 FROM pg2d1.jobs WHERE relid = $1::oid::regclass AND kind = 'migrate' AND "
		                "(status <> 'cancelled' OR rows_done > 0)",
		                {oid_arg(relid)}, false, 1) > 0;
	});
}

namespace {
// Prepared once per backend (the capture trigger runs for every statement on a synced table).
SPIPlanPtr keep_plan(SPIPlanPtr &slot, const char *sql, std::vector<Oid> types) {
	if (slot == nullptr) {
		slot = pg_call([&] {
			SPIPlanPtr p = SPI_prepare(sql, static_cast<int>(types.size()), types.data());
			if (p == nullptr) {
				elog(ERROR, "pg2d1: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			}
			SPI_keepplan(p);
			return p;
		});
	}
	return slot;
}

uint64 run_plan(SPIPlanPtr plan, std::vector<Datum> values) {
	return pg_call([&] {
		int rc = SPI_execute_plan(plan, values.data(), nullptr, false, 0);
		if (rc < 0) {
			elog(ERROR, "pg2d1: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		}
		return SPI_processed;
	});
}

SPIPlanPtr key_plan = nullptr;
} // namespace

std::optional<std::vector<int>> capture_key_attnums(Oid relid) {
	return as_store([&]() -> std::optional<std::vector<int>> {
		SPIPlanPtr plan =
		    keep_plan(key_plan,
		              "SELECT s.key_attnums::pg_catalog.int4[]::pg_catalog.text[] FROM pg2d1.sync_tables s "
		              "WHERE s.relid OPERATOR(pg_catalog.=) $1",
		              {REGCLASSOID});
		if (run_plan(plan, {ObjectIdGetDatum(relid)}) == 0) {
			return std::nullopt;
		}
		std::vector<int> out;
		for (auto &a : get_text_array(0, 1).value_or(std::vector<std::string>{})) {
			out.push_back(std::stoi(a));
		}
		return out;
	});
}

// Rows go straight into the heap and the primary-key index (no SQL: the capture trigger runs
// this for every statement on a synced table, and SPI's parse-free execution still cost a
// third of a single-row UPDATE). Only this module writes pg2d1.changes; the layout is checked.
void log_changes(Oid relid, char op, const std::vector<std::vector<std::string>> &keys) {
	const size_t ncols = keys.size();
	const size_t n = op == 'T' ? 1 : (ncols == 0 ? 0 : keys[0].size());
	if (n == 0) {
		return;
	}
	std::vector<Datum> elems(ncols);
	const char op_char = op == 'R' ? 'U' : op;
	// One pg_call: the lambda owns no C++ object across a PostgreSQL call (elems is sized
	// before), so an elog(ERROR) skips nothing.
	pg_call([&] {
		Oid nsp = get_namespace_oid("pg2d1", false);
		Oid changes = get_relname_relid("changes", nsp);
		Oid seq = get_relname_relid("changes_change_id_seq", nsp);
		if (!OidIsValid(changes) || !OidIsValid(seq)) {
			elog(ERROR, "pg2d1: pg2d1.changes or its sequence is missing");
		}
		Relation rel = table_open(changes, RowExclusiveLock);
		TupleDesc desc = RelationGetDescr(rel);
		if (desc->natts != 5 || TupleDescAttr(desc, 0)->atttypid != OIDOID ||
		    TupleDescAttr(desc, 1)->atttypid != INT8OID || TupleDescAttr(desc, 2)->atttypid != CHAROID ||
		    TupleDescAttr(desc, 3)->atttypid != TEXTARRAYOID || TupleDescAttr(desc, 4)->atttypid != TIMESTAMPTZOID) {
			elog(ERROR, "pg2d1: pg2d1.changes does not have the columns of this library's version");
		}
		CatalogIndexState indexes = CatalogOpenIndexes(rel);
		TimestampTz now = GetCurrentTimestamp();
		for (size_t i = 0; i < n; i++) {
			Datum values[5];
			bool nulls[5] = {false, false, false, false, false};
			values[0] = ObjectIdGetDatum(relid);
			values[1] = Int64GetDatum(nextval_internal(seq, false));
			values[2] = CharGetDatum(op_char);
			if (op == 'T') {
				nulls[3] = true;
				values[3] = (Datum)0;
			} else {
				for (size_t k = 0; k < ncols; k++) {
					elems[k] = CStringGetTextDatum(keys[k][i].c_str());
				}
				values[3] = PointerGetDatum(
				    construct_array(elems.data(), static_cast<int>(ncols), TEXTOID, -1, false, TYPALIGN_INT));
			}
			values[4] = TimestampTzGetDatum(now);
			HeapTuple tup = heap_form_tuple(desc, values, nulls);
			CatalogTupleInsertWithInfo(rel, tup, indexes);
			heap_freetuple(tup);
			if (op != 'T') {
				pfree(DatumGetPointer(values[3]));
				for (size_t k = 0; k < ncols; k++) {
					pfree(DatumGetPointer(elems[k]));
				}
			}
		}
		CatalogCloseIndexes(indexes);
		table_close(rel, NoLock); // the lock is kept to the end of the transaction
	});
}

std::vector<Change> fetch_changes(Oid relid, int64_t up_to, long limit) {
	return as_store([&] {
		uint64 n = spi_exec("SELECT change_id, op::text, key FROM pg2d1.changes WHERE relid = $1 AND change_id <= $2 "
		                    "ORDER BY change_id LIMIT $3",
		                    {oid_arg(relid), int8_arg(up_to), int8_arg(limit)});
		std::vector<Change> out;
		out.reserve(n);
		for (uint64 i = 0; i < n; i++) {
			Change c;
			c.id = get_int64(i, 1);
			std::string op = get_text(i, 2);
			c.op = op.empty() ? 'U' : op[0];
			c.key = get_text_array(i, 3).value_or(std::vector<std::string>{});
			out.push_back(std::move(c));
		}
		return out;
	});
}

int64_t max_change_id(Oid relid) {
	return as_store([&] {
		spi_exec("SELECT coalesce(max(change_id), 0) FROM pg2d1.changes WHERE relid = $1", {oid_arg(relid)});
		return get_int64(0, 1);
	});
}

int64_t pending_changes(Oid relid, int64_t up_to) {
	return as_store([&] {
		spi_exec("SELECT count(*) FROM pg2d1.changes WHERE relid = $1 AND change_id <= $2",
		         {oid_arg(relid), int8_arg(up_to)});
		return get_int64(0, 1);
	});
}

int64_t pending_changes_of_others(Oid relid, int64_t up_to) {
	TransactionId own = pg_call([] { return GetCurrentTransactionIdIfAny(); });
	return as_store([&] {
		spi_exec("SELECT count(*) FROM pg2d1.changes WHERE relid = $1 AND change_id <= $2 AND NOT xmin = $3::text::xid",
		         {oid_arg(relid), int8_arg(up_to), text_arg(std::to_string(own))});
		return get_int64(0, 1);
	});
}

void finish_changes(Oid relid, const std::vector<int64_t> &ids, int64_t upserts, int64_t deletes, int64_t truncates) {
	as_store([&] {
		spi_exec("WITH d AS (DELETE FROM pg2d1.changes WHERE relid = $1 AND change_id = ANY ($2) RETURNING changed_at) "
		         "UPDATE pg2d1.sync_tables SET upserts = upserts + $3, deletes = deletes + $4, "
		         "truncates = truncates + $5, last_sync_at = clock_timestamp(), "
		         "last_change_at = greatest(last_change_at, (SELECT max(changed_at) FROM d)) "
		         "WHERE relid = $1::oid::regclass",
		         {oid_arg(relid), int8_array_arg(ids), int8_arg(upserts), int8_arg(deletes), int8_arg(truncates)});
	});
}

} // namespace pg2d1
