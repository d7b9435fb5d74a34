// functions.cpp — the SQL-callable functions: pg2d1_validate, pg2d1_setup_schema, pg2d1_ddl,
// pg2d1_migrate, pg2d1_query, and the boundary self-test used by the regression tests.
// Must never receive or return a secret; every entry goes through PG2D1_FUNCTION.
// Called by PostgreSQL (declared in sql/pg2d1--0.1.0.sql).
#include "boundary.hpp"
#include "spi.hpp"
#include "catalog.hpp"
#include "compat.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "job_store.hpp"
#include "jobs.hpp"
#include "spi_guarded.hpp"
#include "verify.hpp"
#include "core/checksum.hpp"
#include "core/d1_client.hpp"
#include "core/sqlite_encode.hpp"
#include "core/d1_schema.hpp"
#include "core/ddl.hpp"
#include "core/remote_ledger.hpp"
#include "core/error.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "utils/syscache.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/wait_event.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

#include <cmath>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pg2d1 {
namespace {

std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n) {
	std::optional<std::string> out;
	pg_call([&] {
		if (PG_NARGS() > n && !PG_ARGISNULL(n)) {
			char *s = text_to_cstring(PG_GETARG_TEXT_PP(n));
			out.emplace(s);
		}
	});
	return out;
}

// Rows for a function declared RETURNS TABLE(... text/bool ...), all columns as text
// (nullopt = NULL); bool columns are given as "true"/"false".
class ResultSet {
  public:
	explicit ResultSet(FunctionCallInfo fcinfo) : fcinfo_(fcinfo) {
		pg_call([&] { InitMaterializedSRF(fcinfo_, MAT_SRF_USE_EXPECTED_DESC); });
	}
	void add(const std::vector<std::optional<std::string>> &values) {
		pg_call([&] {
			ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo_->resultinfo;
			TupleDesc desc = rsinfo->setDesc;
			int n = desc->natts;
			Datum *datums = (Datum *)palloc0(sizeof(Datum) * n);
			bool *nulls = (bool *)palloc0(sizeof(bool) * n);
			for (int i = 0; i < n; i++) {
				if (i >= (int)values.size() || !values[i]) {
					nulls[i] = true;
					continue;
				}
				Oid typid = TupleDescAttr(desc, i)->atttypid;
				Oid input;
				Oid ioparam;
				getTypeInputInfo(typid, &input, &ioparam);
				datums[i] = OidInputFunctionCall(input, const_cast<char *>(values[i]->c_str()), ioparam, -1);
			}
			tuplestore_putvalues(rsinfo->setResult, desc, datums, nulls);
		});
	}

  private:
	FunctionCallInfo fcinfo_;
};

std::string error_text(const Error &e) {
	return std::string(e.what()) + (e.detail().empty() ? "" : " — " + e.detail());
}

std::vector<Oid> regclass_array_arg(FunctionCallInfo fcinfo, int n) {
	std::vector<Oid> out;
	pg_call([&] {
		if (PG_ARGISNULL(n)) {
			return;
		}
		ArrayType *arr = PG_GETARG_ARRAYTYPE_P(n);
		Datum *elems;
		bool *nulls;
		int count;
		deconstruct_array(arr, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &count);
		for (int i = 0; i < count; i++) {
			if (!nulls[i]) {
				out.push_back(DatumGetObjectId(elems[i]));
			}
		}
	});
	return out;
}

// Runs `f` with SPI connected (in the caller's transaction).
template <typename F> auto with_spi(F &&f) -> decltype(f()) {
	pg_call([] { spi_connect(); });
	if constexpr (std::is_void_v<decltype(f())>) {
		f();
		pg_call([] { SPI_finish(); });
	} else {
		auto r = f();
		pg_call([] { SPI_finish(); });
		return r;
	}
}

SourceTable load_table_spi(Oid relid) {
	return with_spi([&] { return load_source_table(relid); });
}

void notice(const std::string &msg) {
	pg_call([&] { ereport(NOTICE, (errmsg("pg2d1: %s", msg.c_str()))); });
}

} // namespace
} // namespace pg2d1

using namespace pg2d1;

// pg2d1_validate(target text) → TABLE(check text, ok boolean, detail text)
PG2D1_FUNCTION(pg2d1_validate) {
	ResultSet rs(fcinfo);
	std::optional<Target> target;
	try {
		target.emplace(resolve_target(text_arg(fcinfo, 0)));
		rs.add({"credentials", "true", "from " + target->label + ", API at " + target->config.api_url});
	} catch (const Error &e) {
		rs.add({"credentials", "false", error_text(e)});
		return (Datum)0;
	}
	D1Client client(target->config, interrupt_requested);
	bool token_ok = false;
	try {
		TokenInfo tok = client.verify_token();
		token_ok = tok.status == "active";
		rs.add({"token", token_ok ? "true" : "false", "token status: " + tok.status});
	} catch (const Error &e) {
		rs.add({"token", "false", error_text(e)});
	}
	try {
		DatabaseInfo info = client.database_info();
		rs.add({"database", "true",
		        "\"" + info.name + "\" (" + info.uuid + "), " + std::to_string(info.num_tables) + " tables, " +
		            std::to_string(info.file_size) + " bytes"});
	} catch (const Error &e) {
		rs.add({"database", "false", error_text(e)});
	}
	try {
		std::vector<Statement> stmts;
		for (auto &s : checkpoint_table_ddl()) {
			stmts.push_back({s, {}});
		}
		stmts.push_back({remote_ledger::probe_sql(), {}});
		auto results = client.batch(stmts);
		rs.add({"write", "true", "created or found migration_checkpoints in a batch request"});
	} catch (const Error &e) {
		rs.add({"write", "false", error_text(e)});
	}
	Limits l = limits_from_gucs(0);
	rs.add({"limits", "true",
	        "statements up to " + std::to_string(l.max_statement_bytes) + " bytes, requests up to " +
	            std::to_string(l.max_request_bytes) + " bytes / " + std::to_string(l.max_statements_per_request) +
	            " statements, " +
	            (target->config.requests_per_second > 0
	                 ? std::to_string(target->config.requests_per_second).substr(0, 6) + " requests/s"
	                 : std::string("no request rate limit"))});
	return (Datum)0;
}

// pg2d1_ddl(tbl regclass) → text
PG2D1_FUNCTION(pg2d1_ddl) {
	Oid relid = InvalidOid;
	pg_call([&] { relid = PG_GETARG_OID(0); });
	SourceTable t = load_table_spi(relid);
	DdlResult ddl = translate_table(t.def); // every foreign key: which tables will be in D1 is not known here
	std::string out;
	for (auto &w : ddl.warnings) {
		out += "-- " + w + "\n";
	}
	for (auto &s : ddl.statements) {
		out += s + ";\n";
	}
	text *result = nullptr;
	pg_call([&] { result = cstring_to_text_with_len(out.data(), (int)out.size()); });
	PG_RETURN_TEXT_P(result);
}

// pg2d1_setup_schema(tables regclass[], target text, create_indexes boolean)
//   → TABLE(table_name text, statement text)
PG2D1_FUNCTION(pg2d1_setup_schema) {
	std::vector<Oid> relids = regclass_array_arg(fcinfo, 0);
	Target target = resolve_target(text_arg(fcinfo, 1));
	// NULL (the default): indexes at once only for a table D1 already holds rows of; an empty
	// table gets them from pg2d1_migrate right after its first load (4–5× faster).
	std::optional<bool> create_indexes;
	pg_call([&] {
		if (PG_NARGS() >= 3 && !PG_ARGISNULL(2)) {
			create_indexes = PG_GETARG_BOOL(2);
		}
	});
	ResultSet rs(fcinfo);
	std::vector<Statement> stmts;
	std::vector<std::pair<std::string, std::string>> rows;
	for (auto &s : checkpoint_table_ddl()) {
		stmts.push_back({s, {}});
		rows.push_back({"migration_checkpoints", s});
	}
	D1Client client(target.config, interrupt_requested);
	std::vector<SourceTable> tables;
	DdlOptions options;
	options.all_tables_known = true;
	options.migrated_tables = d1_table_names(client); // foreign keys only between tables D1 will have
	for (Oid relid : relids) {
		tables.push_back(load_table_spi(relid));
		options.migrated_tables.push_back(tables.back().def.name);
	}
	for (const SourceTable &t : tables) {
		check_d1_table_matches(client, t.def, t.display_name);
		DdlResult ddl = translate_table(t.def, options);
		for (auto &w : ddl.warnings) {
			notice(t.display_name + ": " + w);
		}
		bool indexes_now = create_indexes.value_or(false);
		if (!create_indexes && ddl.statements.size() > 1 &&
		    std::find(options.migrated_tables.begin(), options.migrated_tables.end() - relids.size(), t.def.name) !=
		        options.migrated_tables.end() - relids.size()) {
			StatementResult r = client.raw({"SELECT EXISTS (SELECT 1 FROM " + quote_ident(t.def.name) + ")", {}});
			indexes_now = !r.rows.empty() && !r.rows[0].empty() && r.rows[0][0] && *r.rows[0][0] == "1";
		}
		for (size_t i = 0; i < ddl.statements.size(); i++) {
			if (i > 0 && !indexes_now) {
				rows.push_back({t.def.name, "-- after the first load, by pg2d1_migrate: " + ddl.statements[i]});
				continue;
			}
			stmts.push_back({ddl.statements[i], {}});
			rows.push_back({t.def.name, ddl.statements[i]});
		}
	}
	client.batch(stmts);
	for (auto &r : rows) {
		rs.add({r.first, r.second});
	}
	return (Datum)0;
}

namespace pg2d1 {
namespace {

struct WaitJob {
	bool found = false;
	std::string status;
	std::string last_error;
	int64_t rows_done = 0;
	int64_t rows_total = 0;
	int64_t requests = 0;
	int64_t retries = 0;
	int64_t bytes_sent = 0;
	double seconds = 0;
	bool sync = false;
};

WaitJob read_job(int64_t job_id) {
	WaitJob j;
	pg_call([&] {
		Oid types[1] = {INT8OID};
		Datum values[1] = {Int64GetDatum(job_id)};
		SPI_execute_with_args("SELECT status, coalesce(last_error, ''), rows_done, coalesce(rows_total, 0), requests, "
		                      "retries, bytes_sent, extract(epoch FROM coalesce(finished_at, clock_timestamp()) - "
		                      "started_at)::float8, kind FROM pg2d1.jobs WHERE job_id = $1",
		                      1, types, values, nullptr, false, 0); // not read-only: a fresh snapshot each time
		if (SPI_processed == 0) {
			return;
		}
		bool isnull;
		j.found = true;
		j.status = spi_text(0, 1);
		j.last_error = spi_text(0, 2);
		j.rows_done = spi_int64(0, 3);
		j.rows_total = spi_int64(0, 4);
		j.requests = spi_int64(0, 5);
		j.retries = spi_int64(0, 6);
		j.bytes_sent = spi_int64(0, 7);
		j.seconds = DatumGetFloat8(spi_datum(0, 8, &isnull));
		const char *kind = spi_text(0, 9);
		j.sync = kind != nullptr && strcmp(kind, "sync") == 0;
	});
	return j;
}

struct WaitCheckpoint {
	int64_t id;
	int64_t start_id;
	int64_t end_id;
	int64_t rows;
	bool skipped;
	std::string range; // "ids 1..50000" or "keys (a, 1)..(c, 7)"
};

// Completed checkpoints of the job, and the number of planned ones.
std::vector<WaitCheckpoint> completed_checkpoints(int64_t job_id, int64_t &planned) {
	std::vector<WaitCheckpoint> out;
	pg_call([&] {
		Oid types[1] = {INT8OID};
		Datum values[1] = {Int64GetDatum(job_id)};
		SPI_execute_with_args("SELECT id, start_id, end_id, records_processed, skipped, status = 'completed', "
		                      "count(*) OVER (), CASE WHEN start_key = ARRAY[start_id::text] AND end_key = "
		                      "ARRAY[end_id::text] THEN 'ids ' || start_id || '..' || end_id ELSE 'keys ' || "
		                      "CASE WHEN cardinality(start_key) = 1 THEN start_key[1] || '..' || end_key[1] ELSE "
		                      "'(' || array_to_string(start_key, ', ') || ')..(' || array_to_string(end_key, ', ') || "
		                      "')' END END FROM pg2d1.checkpoints WHERE job_id = $1 ORDER BY start_id",
		                      1, types, values, nullptr, false, 0);
		planned = 0;
		for (uint64 i = 0; i < SPI_processed; i++) {
			planned = spi_int64(i, 7);
			if (!spi_bool(i, 6)) {
				continue;
			}
			out.push_back(
			    {spi_int64(i, 1), spi_int64(i, 2), spi_int64(i, 3), spi_int64(i, 4), spi_bool(i, 5), spi_text(i, 8)});
		}
	});
	return out;
}

std::string format_eta(double seconds) {
	if (seconds < 0 || seconds > 1e7) {
		return "unknown";
	}
	long s = static_cast<long>(seconds + 0.5);
	char buf[64];
	snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
	return buf;
}

// Waits for a job run by a worker, reporting each completed checkpoint as a NOTICE.
// Raises when the job fails or the worker disappears.
void wait_for_job(int64_t job_id, const std::string &table, BackgroundWorkerHandle *handle) {
	std::set<int64_t> reported;
	bool skip_note_done = false;
	int missing_after_stop = 0;
	int not_visible = 0;
	for (;;) {
		pg_call([] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			spi_connect();
		});
		WaitJob job = read_job(job_id);
		int64_t planned = 0;
		std::vector<WaitCheckpoint> done = completed_checkpoints(job_id, planned);
		pg_call([] { SPI_finish(); });
		size_t skipped = 0;
		for (auto &c : done) {
			skipped += c.skipped ? 1 : 0;
		}
		if (skipped && !skip_note_done) {
			notice(table + ": " + std::to_string(skipped) + " checkpoints already completed in D1 and the ledger");
			skip_note_done = true;
		}
		size_t ordinal = 0;
		for (auto &c : done) {
			ordinal++;
			if (c.skipped || reported.count(c.id)) {
				continue;
			}
			reported.insert(c.id);
			double rate = job.seconds > 0 ? job.rows_done / job.seconds : 0;
			double eta = rate > 0 ? (job.rows_total - job.rows_done) / rate : -1;
			char buf[400];
			snprintf(buf, sizeof buf, "%s checkpoint %zu/%lld: %s, %lld rows; %lld of %lld rows, %.0f rows/s, ETA %s",
			         table.c_str(), ordinal, (long long)planned, c.range.substr(0, 200).c_str(), (long long)c.rows,
			         (long long)job.rows_done, (long long)job.rows_total, rate, format_eta(eta).c_str());
			notice(buf);
		}
		if (job.found && job.status == "completed" && job.sync) {
			notice("synced " + table + ": " + std::to_string(job.rows_done) + " writes to D1 (upserts, deletes) in " +
			       std::to_string(job.seconds).substr(0, 7) + " s, " + std::to_string(job.requests) + " requests, " +
			       std::to_string(job.retries) + " retries");
			return;
		}
		if (job.found && job.status == "completed") {
			// The rate counts the rows this job sent, not those of checkpoints it skipped.
			int64_t copied = 0;
			for (auto &c : done) {
				copied += c.skipped ? 0 : c.rows;
			}
			double rate = job.seconds > 0 ? copied / job.seconds : 0;
			notice("migrated " + std::to_string(copied) + " rows in " + std::to_string(job.seconds).substr(0, 7) +
			       " s (" + std::to_string((long long)rate) + " rows/s; " + std::to_string(job.rows_done) +
			       " rows in D1), " + std::to_string(reported.size()) + " checkpoints copied, " +
			       std::to_string(skipped) + " already complete, " + std::to_string(job.requests) + " requests, " +
			       std::to_string(job.retries) + " retries, " + std::to_string(job.bytes_sent) + " bytes sent");
			return;
		}
		if (job.found && (job.status == "failed" || job.status == "cancelled")) {
			throw Error(job.status == "failed" ? "38000" : "57014",
			            "pg2d1 job " + std::to_string(job_id) + " for \"" + table + "\" " + job.status, job.last_error,
			            job.status == "failed"
			                ? (job.sync ? "Fix the cause and call pg2d1_sync again: no change is lost."
			                            : "Fix the cause and call pg2d1_migrate again: completed checkpoints are kept.")
			                : "");
		}
		if (!job.found && handle == nullptr && ++not_visible > 25) {
			// Another role's job (row-level security hides it): nothing to follow from here.
			throw Error("42501", "job " + std::to_string(job_id) + " for \"" + table + "\" belongs to another role",
			            "It is migrating the table now; this call returned its id instead of starting another.",
			            "Its owner, a member of pg2d1_admin or a superuser can follow it in pg2d1_progress.");
		}
		pid_t pid;
		if (handle && GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED && ++missing_after_stop > 2) {
			throw Error("XX000", "the pg2d1 worker for job " + std::to_string(job_id) + " exited unexpectedly",
			            job.found ? "The job is " + job.status + "." : "The job never started.",
			            "See the server log; calling pg2d1_migrate again resumes the job.");
		}
	}
}

std::optional<int64_t> previous_checkpoint_size(Oid relid) {
	std::optional<JobRow> job = with_spi([&] { return latest_job(relid, true); });
	return job ? std::optional<int64_t>(job->params.checkpoint_size) : std::nullopt;
}

// pg2d1.numeric_as_real of the table's last job (how its numeric columns are in D1).
std::optional<bool> previous_numeric_as_real(Oid relid) {
	std::optional<JobRow> job = with_spi([&] { return latest_job(relid, false); });
	return job ? std::optional<bool>((job->params.flags & kJobNumericReal) != 0) : std::nullopt;
}

// Sets a bool for the lifetime of the object.
struct BoolOverride {
	bool &target;
	bool saved;
	BoolOverride(bool &t, bool value) : target(t), saved(t) {
		target = value;
	}
	~BoolOverride() {
		target = saved;
	}
};

// The calling role must be able to log in: the worker runs as it.
void require_login_role() {
	bool can_login = false;
	std::string name;
	pg_call([&] {
		HeapTuple tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
		if (HeapTupleIsValid(tup)) {
			can_login = ((Form_pg_authid)GETSTRUCT(tup))->rolcanlogin;
			ReleaseSysCache(tup);
		}
	});
	if (!can_login) {
		name = pg_call([] { return static_cast<const char *>(GetUserNameFromId(GetUserId(), false)); });
		throw Error("42501", "role \"" + name + "\" cannot log in, and the migration worker runs as the calling role",
		            {}, "Call pg2d1_migrate as a login role (RESET ROLE, or SET ROLE to a role with LOGIN).");
	}
}

Oid regclass_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	return pg_call([&] {
		if (PG_ARGISNULL(n)) {
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", what)));
		}
		return PG_GETARG_OID(n);
	});
}

std::string relation_display(Oid relid) {
	return pg_call([&] {
		return static_cast<const char *>(DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid))));
	});
}

// The caller needs SELECT on the table to act on its jobs.
void require_select(Oid relid) {
	bool ok = pg_call([&] { return pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK; });
	if (!ok) {
		throw Error("42501", "permission denied for table " + relation_display(relid),
		            "pg2d1 acts on a table's jobs only for roles that may read the table.");
	}
}

} // namespace
} // namespace pg2d1

namespace pg2d1 {
namespace {
// Creates the job row and starts it: through the launcher when there is one (it restarts
// the job after a crash), else in a worker of its own. wait => true waits for the end.
int64_t submit_job(JobParams &p, const std::string &display, bool wait) {
	p.job_id = with_spi([] { return next_job_id(); });
	if (wait) {
		p.flags |= kJobCreateRow;
		BackgroundWorkerHandle *handle = start_job_worker(p, true);
		wait_for_job(p.job_id, display, handle);
		return p.job_id;
	}
	with_spi([&] { insert_job(p, display, "queued"); });
	std::string why_no_launcher;
	if (launcher_serves_database(MyDatabaseId)) {
		wake_launcher_at_commit(); // the launcher takes the job
	} else if (launcher_expected_for_database(MyDatabaseId)) {
		// The launcher is (re)starting for this database (e.g. it was created after the server
		// started): a worker starts now, and the launcher restarts the job if ever needed.
		start_job_worker(p, false);
		wake_launcher_at_commit();
	} else {
		start_job_worker(p, false);
		why_no_launcher = guc_database == nullptr ? "pg2d1 is not in shared_preload_libraries"
		                                          : "the launcher watches database \"" + std::string(guc_database) +
		                                                "\" (pg2d1.database), not this one";
		notice("job " + std::to_string(p.job_id) + " runs in a background worker now; it is not restarted after a " +
		       "server restart because " + why_no_launcher + ": call " +
		       ((p.flags & kJobSync) ? "pg2d1_sync" : "pg2d1_migrate") + " again to resume");
	}
	return p.job_id;
}
} // namespace
} // namespace pg2d1

// pg2d1_migrate(tbl regclass, checkpoint_size int, batch_size int, resume bool, mode text,
//               target text, wait bool, depends_on bigint, verify bool, method text) → bigint job id
PG2D1_FUNCTION(pg2d1_migrate) {
	JobParams p;
	memset(&p, 0, sizeof(p));
	bool wait = false;
	std::string display;
	pg_call([&] {
		if (PG_ARGISNULL(0)) {
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("pg2d1_migrate: table must not be NULL")));
		}
		p.relid = PG_GETARG_OID(0);
		p.checkpoint_size = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
		p.batch_size = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
		p.flags = (PG_ARGISNULL(3) || PG_GETARG_BOOL(3)) ? uint32_t(kJobResume) : 0u;
		wait = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
		p.depends_on = (PG_NARGS() > 7 && !PG_ARGISNULL(7)) ? PG_GETARG_INT64(7) : 0;
		if (PG_NARGS() > 8 && !PG_ARGISNULL(8) && PG_GETARG_BOOL(8)) {
			p.flags |= kJobVerify;
		}
		p.dboid = MyDatabaseId;
		p.owner = GetUserId();
		display = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(p.relid)));
		if (pg_class_aclcheck(p.relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK) {
			ereport(ERROR,
			        (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("permission denied for table %s", display.c_str()),
			         errdetail("The migration worker runs as the role that calls pg2d1_migrate.")));
		}
		if (wait && IsolationUsesXactSnapshot()) {
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			                errmsg("pg2d1_migrate(wait => true) needs READ COMMITTED isolation"),
			                errdetail("It watches the worker's progress, which a transaction snapshot would hide.")));
		}
	});
	std::string mode = text_arg(fcinfo, 4).value_or("resumable");
	if (mode != "resumable" && mode != "traditional") {
		throw Error(sqlstate::kInvalidParameter, "mode must be 'resumable' or 'traditional', not '" + mode + "'");
	}
	p.flags |= mode == "traditional" ? uint32_t(kJobTraditional) : 0u;
	std::string method = pg_call([&] { return PG_NARGS() > 9; }) ? text_arg(fcinfo, 9).value_or("auto") : "auto";
	if (method == "import") {
		p.flags |= kJobImport;
	} else if (method == "auto") {
		p.flags |= kJobAutoMethod;
	} else if (method != "query") {
		throw Error(sqlstate::kInvalidParameter, "method must be 'auto', 'query' or 'import', not '" + method + "'", {},
		            "'auto' imports a first load of a large table into an empty D1 table and sends batches of "
		            "queries otherwise.");
	}
	if (method == "import" && mode == "traditional") {
		throw Error(sqlstate::kInvalidParameter, "method => 'import' needs mode => 'resumable'", {},
		            "An import carries the checkpoints of its ranges; mode => 'traditional' has none.");
	}
	bool size_given = false;
	pg_call([&] { size_given = !PG_ARGISNULL(1); });
	if (!size_given) {
		// A re-run keeps the table's previous checkpoint size, so its ranges line up with the
		// completed ones and are not sent again.
		p.checkpoint_size = previous_checkpoint_size(p.relid).value_or(guc_checkpoint_size);
	}
	if (p.checkpoint_size < 1) {
		throw Error(sqlstate::kInvalidParameter, "checkpoint_size must be at least 1");
	}
	if (p.batch_size < 0) {
		throw Error(sqlstate::kInvalidParameter, "batch_size must not be negative", {},
		            "batch_size caps the rows of one D1 request; NULL or 0 lets the D1 limits decide.");
	}
	std::optional<std::string> target = text_arg(fcinfo, 5);
	if (target && target->size() >= NAMEDATALEN) {
		throw Error(sqlstate::kInvalidParameter, "target server name is too long");
	}
	strlcpy(p.target, target.value_or("").c_str(), sizeof(p.target));
	with_spi([] { require_extension_version(); });
	require_login_role();
	(void)resolve_target(target);  // fail here, in the caller's session, on missing credentials
	(void)load_table_spi(p.relid); // and on a table pg2d1 cannot migrate

	capture_settings(p);
	bool launcher = launcher_serves_database(MyDatabaseId) || launcher_expected_for_database(MyDatabaseId);
	if (auto running = with_spi([&] { return active_job(p.relid, launcher); })) {
		notice("job " + std::to_string(*running) + " is already migrating " + display + "; returning its id");
		if (wait) {
			wait_for_job(*running, display, nullptr);
		}
		PG_RETURN_INT64(*running);
	}
	PG_RETURN_INT64(pg2d1::submit_job(p, display, wait));
}

// pg2d1_query(sql text, target text) → jsonb (D1's result array)
PG2D1_FUNCTION(pg2d1_query) {
	std::optional<std::string> sql = text_arg(fcinfo, 0);
	if (!sql) {
		throw Error(sqlstate::kInvalidParameter, "pg2d1_query: sql must not be NULL");
	}
	Target target = resolve_target(text_arg(fcinfo, 1));
	D1Client client(target.config, interrupt_requested);
	std::string json = client.query_json(*sql);
	Datum result = 0;
	pg_call([&] { result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
	return result;
}

// pg2d1._boundary_selftest(kind text) → text. Proves the boundary: each kind fails in a
// different way inside C++ with live C++ objects on the stack; all must surface as clean
// SQL errors and leave the session usable.
PG2D1_FUNCTION(pg2d1_boundary_selftest) {
	std::string kind = text_arg(fcinfo, 0).value_or("");
	std::vector<std::string> live_objects(3, "destructors must run");
	if (kind == "cpp_error") {
		throw Error(sqlstate::kInvalidParameter, "selftest: a pg2d1::Error thrown in C++", "detail from C++",
		            "hint from C++");
	} else if (kind == "std_exception") {
		throw std::runtime_error("selftest: a std::runtime_error thrown in C++");
	} else if (kind == "bad_alloc") {
		throw std::bad_alloc();
	} else if (kind == "unknown") {
		throw 42;
	} else if (kind == "pg_error") {
		// A PostgreSQL error raised inside pg_call travels through C++ frames as PgError.
		pg_call([] { DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
	} else if (kind == "pg_error_caught") {
		// The PgError can be caught in C++ and the work goes on (used after cleanup).
		try {
			pg_call([] { DirectFunctionCall1(int4in, CStringGetDatum("99999999999")); });
		} catch (const PgError &e) {
			std::string msg = std::string("caught: ") + e.what();
			text *t = nullptr;
			pg_call([&] { t = cstring_to_text(msg.c_str()); });
			PG_RETURN_TEXT_P(t);
		}
	} else if (kind == "cancel") {
		// A pending cancel is honoured through pg_call.
		pg_call([] {
			QueryCancelPending = true;
			InterruptPending = true;
		});
		check_for_interrupts();
	}
	text *t = nullptr;
	pg_call([&] { t = cstring_to_text(("ok: " + kind).c_str()); });
	PG_RETURN_TEXT_P(t);
}

// pg2d1_verify(tbl regclass, target text) → TABLE(start_id, end_id, start_key, end_key,
//   pg_count, d1_count, pg_checksum, d1_checksum, ok): reads both sides back range by range
//   (see verify.hpp); a last row (NULL range) counts D1 rows outside every range.
PG2D1_FUNCTION(pg2d1_verify) {
	Oid relid = InvalidOid;
	pg_call([&] { relid = PG_GETARG_OID(0); });
	Target target = resolve_target(text_arg(fcinfo, 1));
	int64_t size = previous_checkpoint_size(relid).value_or(guc_checkpoint_size);
	// numeric columns are compared the way the table was migrated (TEXT, or REAL on request)
	BoolOverride numeric_mode(guc_numeric_as_real, previous_numeric_as_real(relid).value_or(guc_numeric_as_real));
	ResultSet rs(fcinfo);
	D1Client client(target.config, interrupt_requested);
	int guc_level = 0;
	pg_call([&] {
		// The same text output settings as the migration worker.
		guc_level = NewGUCNestLevel();
		set_fixed_output_settings(GUC_ACTION_SAVE);
		spi_connect();
	});
	SourceTable t = load_source_table(relid);
	auto opt = [](const std::optional<int64_t> &v) {
		return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
	};
	auto opt_text = [](const std::string &v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
	verify_table(t, client, size, [&](const VerifyRange &r) {
		rs.add({opt(r.start_id), opt(r.end_id), opt_text(r.start_key), opt_text(r.end_key), std::to_string(r.pg_count),
		        std::to_string(r.d1_count), opt_text(r.pg_checksum), opt_text(r.d1_checksum), r.ok ? "true" : "false"});
	});
	pg_call([&] {
		SPI_finish();
		AtEOXact_GUC(true, guc_level);
	});
	return (Datum)0;
}

namespace pg2d1 {
namespace {

// The D1 name of a table (its relname), for the remote ledger.
std::string d1_table_name(Oid relid) {
	return pg_call([&] {
		const char *name = get_rel_name(relid);
		if (name == nullptr) {
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
		}
		return name;
	});
}

// Runs one statement on D1's migration_checkpoints with the caller's credentials (the same
// target rules as every other call); `sql_for` (remote_ledger.hpp) builds it from the table's D1 name.
void update_remote_ledger(const std::optional<std::string> &target, std::string (*sql_for)(std::string_view table),
                          Oid relid) {
	Target t = resolve_target(target);
	std::string sql = sql_for(d1_table_name(relid));
	D1Client client(t.config, interrupt_requested);
	std::vector<Statement> stmts;
	for (auto &s : checkpoint_table_ddl()) {
		stmts.push_back({s, {}});
	}
	stmts.push_back({sql, {}});
	client.batch(stmts);
}

} // namespace
} // namespace pg2d1

// pg2d1_cancel(job bigint) → boolean: CAS to 'cancelled'; the worker gets SIGTERM at commit.
PG2D1_FUNCTION(pg2d1_cancel) {
	int64_t job = 0;
	bool null_arg = false;
	pg_call([&] {
		null_arg = PG_ARGISNULL(0);
		if (!null_arg) {
			job = PG_GETARG_INT64(0);
		}
	});
	if (null_arg) {
		PG_RETURN_BOOL(false);
	}
	bool cancelled = with_spi([&] { return cancel_job(job); });
	PG_RETURN_BOOL(cancelled);
}

// pg2d1_reset_stuck(tbl regclass, target text) → integer
PG2D1_FUNCTION(pg2d1_reset_stuck) {
	Oid relid = regclass_arg(fcinfo, 0, "table");
	std::optional<std::string> target = text_arg(fcinfo, 1);
	require_select(relid);
	bool live = with_spi([&] {
		spi_exec("SELECT pg2d1._table_has_worker($1)", {oid_arg(relid)});
		return get_bool(0, 1);
	});
	if (live) {
		throw Error("55006", "a pg2d1 worker is migrating " + relation_display(relid) + " right now", {},
		            "Cancel it first with pg2d1_cancel(job_id).");
	}
	int n = with_spi([&] { return reset_stuck_local(relid); });
	update_remote_ledger(target, remote_ledger::reset_stuck_sql, relid);
	PG_RETURN_INT32(n);
}

// pg2d1_retry_failed(tbl regclass, target text, wait boolean) → bigint job id
PG2D1_FUNCTION(pg2d1_retry_failed) {
	Oid relid = regclass_arg(fcinfo, 0, "table");
	std::optional<std::string> target = text_arg(fcinfo, 1);
	bool wait = pg_call([&] { return PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2); });
	require_select(relid);
	with_spi([&] { (void)retry_failed_local(relid); });
	update_remote_ledger(target, remote_ledger::retry_failed_sql, relid);
	int64_t job = with_spi([&] {
		spi_exec(
		    "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
		    "ON n.oid OPERATOR(pg_catalog.=) e.extnamespace WHERE e.extname OPERATOR(pg_catalog.=) 'pg2d1'",
		    {}, true);
		std::string schema = get_text(0, 1);
		spi_exec("SELECT " + schema +
		             ".pg2d1_migrate($1::pg_catalog.oid::pg_catalog.regclass, target => $2, wait => $3)",
		         {oid_arg(relid), text_arg(target.value_or(""), true), bool_arg(wait)});
		return get_int64(0, 1);
	});
	PG_RETURN_INT64(job);
}

// pg2d1_reset(tbl regclass, target text) → integer: forgets the caller's jobs of the table
// (an admin's: all) and the table's rows of D1's migration_checkpoints.
PG2D1_FUNCTION(pg2d1_reset) {
	Oid relid = regclass_arg(fcinfo, 0, "table");
	std::optional<std::string> target = text_arg(fcinfo, 1);
	require_select(relid);
	if (with_spi([&] { return table_has_active_job(relid, false); })) {
		throw Error("55006", "a pg2d1 job for " + relation_display(relid) + " is queued or running", {},
		            "Cancel it first with pg2d1_cancel(job_id), or pg2d1_reset_stuck if its worker is gone.");
	}
	if (with_spi([&] { return table_has_other_roles_jobs(relid); })) {
		throw Error("42501", "other roles have pg2d1 jobs for " + relation_display(relid),
		            "pg2d1_reset forgets the table's checkpoints in D1 too, which their jobs rely on.",
		            "Ask a member of pg2d1_admin to reset it.");
	}
	int n = with_spi([&] { return delete_table_jobs(relid); });
	update_remote_ledger(target, remote_ledger::forget_table_sql, relid);
	PG_RETURN_INT32(n);
}

// pg2d1_use_key(tbl regclass, key_index regclass) → text: the caller must own the table.
PG2D1_FUNCTION(pg2d1_use_key) {
	Oid relid = regclass_arg(fcinfo, 0, "table");
	Oid index = pg_call([&] { return PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1); });
	std::string tbl = relation_display(relid);
	if (!pg_call([&] { return owns_relation(relid, GetUserId()); })) {
		throw Error("42501", "must be owner of table " + tbl);
	}
	std::string result;
	if (!OidIsValid(index)) {
		with_spi([&] { set_table_key(relid, InvalidOid); });
		result = tbl + ": pg2d1 uses the primary key";
	} else {
		std::string idx = relation_display(index);
		with_spi([&] {
			uint64 n = spi_exec(
			    "SELECT i.indrelid, i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL AND i.indimmediate AND "
			    "(SELECT pg_catalog.bool_and(a.attnotnull) FROM pg_catalog.pg_attribute a WHERE a.attrelid = "
			    "i.indrelid AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[])) "
			    "FROM pg_catalog.pg_index i WHERE i.indexrelid OPERATOR(pg_catalog.=) $1",
			    {oid_arg(index)}, true);
			if (n == 0 || get_oid(0, 1) != relid) {
				throw Error("42704", idx + " is not an index of table " + tbl);
			}
			if (!get_bool(0, 2)) {
				throw Error("42P17", "index " + idx + " cannot be the key of table " + tbl,
				            "A key index must be unique, not deferrable, on plain columns, without a WHERE clause, "
				            "and every column must be NOT NULL.");
			}
			set_table_key(relid, index);
		});
		result = tbl + ": pg2d1 walks and upserts by " + idx;
	}
	text *t = pg_call([&] { return cstring_to_text(result.c_str()); });
	PG_RETURN_TEXT_P(t);
}

// --- incremental sync -------------------------------------------------------------------------

namespace pg2d1 {
namespace {

const char *kCaptureTriggers[] = {"pg2d1_capture_insert", "pg2d1_capture_update", "pg2d1_capture_delete",
                                  "pg2d1_capture_truncate"};

void require_owner(Oid relid, const char *what) {
	if (!pg_call([&] { return owns_relation(relid, GetUserId()); })) {
		throw Error("42501", "must be owner of table " + relation_display(relid),
		            std::string(what) + " creates or drops triggers on the table.");
	}
}

// The attnums of the table's key columns, in key order.
std::vector<int> key_attnums(Oid relid, const SourceTable &t) {
	std::vector<int> out;
	with_spi([&] {
		for (int k : t.key_columns) {
			spi_exec("SELECT attnum::int4 FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) $1 "
			         "AND attname OPERATOR(pg_catalog.=) $2 AND NOT attisdropped",
			         {oid_arg(relid), ::pg2d1::text_arg(t.columns[k].name)}, true);
			out.push_back(get_int32(0, 1));
		}
	});
	return out;
}

// Runs DDL on the table as the calling role (its owner), with search_path pinned.
void run_as_caller(const std::vector<std::string> &statements) {
	with_spi([&] {
		int level = pg_call([] {
			int l = NewGUCNestLevel();
			(void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
			                        true, 0, false);
			return l;
		});
		for (auto &s : statements) {
			spi_exec(s, {});
		}
		pg_call([&] { AtEOXact_GUC(true, level); });
	});
}

// DROP TRIGGER for each capture trigger the table has.
std::vector<std::string> drop_capture_triggers(Oid relid, const std::string &qualified) {
	std::vector<std::string> out;
	with_spi([&] {
		for (const char *name : kCaptureTriggers) {
			if (spi_exec("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) $1 AND "
			             "tgname OPERATOR(pg_catalog.=) $2",
			             {oid_arg(relid), ::pg2d1::text_arg(name)}, true) > 0) {
				out.push_back(std::string("DROP TRIGGER ") + name + " ON " + qualified);
			}
		}
	});
	return out;
}

} // namespace
} // namespace pg2d1

// pg2d1_enable_sync(tbl regclass, target text) → text
PG2D1_FUNCTION(pg2d1_enable_sync) {
	Oid relid = regclass_arg(fcinfo, 0, "table");
	std::optional<std::string> target = text_arg(fcinfo, 1);
	if (target && target->size() >= NAMEDATALEN) {
		throw Error(sqlstate::kInvalidParameter, "target server name is too long");
	}
	with_spi([] { require_extension_version(); });
	std::string tbl = relation_display(relid);
	require_owner(relid, "pg2d1_enable_sync");
	(void)resolve_target(target); // credentials and USAGE on the server, checked now
	SourceTable t = load_table_spi(relid);
	std::vector<int> attnums = key_attnums(relid, t);
	// D1 may already hold rows copied before capture began: the first sync compares first.
	bool had = with_spi([&] { return load_sync(relid).has_value(); });
	bool reconcile = with_spi([&] { return table_has_migrate_job(relid); }) || had;
	with_spi([&] { upsert_sync(relid, target.value_or(""), attnums, reconcile); });
	std::string q = t.qualified_name;
	std::string fn = "pg2d1._capture()";
	std::vector<std::string> ddl = drop_capture_triggers(relid, q);
	ddl.push_back("CREATE TRIGGER pg2d1_capture_insert AFTER INSERT ON " + q +
	              " REFERENCING NEW TABLE AS pg2d1_new FOR EACH STATEMENT EXECUTE FUNCTION " + fn);
	ddl.push_back("CREATE TRIGGER pg2d1_capture_update AFTER UPDATE ON " + q +
	              " REFERENCING OLD TABLE AS pg2d1_old NEW TABLE AS pg2d1_new FOR EACH STATEMENT EXECUTE FUNCTION " +
	              fn);
	ddl.push_back("CREATE TRIGGER pg2d1_capture_delete AFTER DELETE ON " + q +
	              " REFERENCING OLD TABLE AS pg2d1_old FOR EACH STATEMENT EXECUTE FUNCTION " + fn);
	ddl.push_back("CREATE TRIGGER pg2d1_capture_truncate AFTER TRUNCATE ON " + q +
	              " FOR EACH STATEMENT EXECUTE FUNCTION " + fn);
	run_as_caller(ddl);
	std::string msg = tbl + ": changes are captured from now on (key: " + t.key_list() + ")";
	if (reconcile) {
		msg += "; D1 may hold rows copied before, so the first pg2d1_sync compares every row with D1 first (reads "
		       "only) and writes what differs";
	}
	text *result = pg_call([&] { return cstring_to_text(msg.c_str()); });
	PG_RETURN_TEXT_P(result);
}

// pg2d1_disable_sync(tbl regclass) → boolean
PG2D1_FUNCTION(pg2d1_disable_sync) {
	Oid relid = regclass_arg(fcinfo, 0, "table");
	require_owner(relid, "pg2d1_disable_sync");
	std::string q = pg_call([&] {
		return std::string(quote_identifier(get_namespace_name(get_rel_namespace(relid)))) + "." +
		       quote_identifier(get_rel_name(relid));
	});
	run_as_caller(drop_capture_triggers(relid, q));
	// A sync job of the table stops (admins' and other roles' too: the owner removes the sync).
	with_spi([&] {
		for (;;) {
			std::optional<int64_t> job = active_job(relid, true, true);
			if (!job) {
				break;
			}
			if (!cancel_job(*job, false)) {
				break;
			}
		}
	});
	bool had = with_spi([&] { return delete_sync(relid); });
	PG_RETURN_BOOL(had);
}

// pg2d1_sync(tbl regclass, target text, wait boolean, follow boolean) → bigint job id
PG2D1_FUNCTION(pg2d1_sync) {
	JobParams p;
	memset(&p, 0, sizeof(p));
	p.relid = regclass_arg(fcinfo, 0, "table");
	std::optional<std::string> target = text_arg(fcinfo, 1);
	bool wait = pg_call([&] { return !PG_ARGISNULL(2) && PG_GETARG_BOOL(2); });
	bool follow = pg_call([&] { return PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3); });
	std::string display = relation_display(p.relid);
	if (wait && follow) {
		throw Error(sqlstate::kInvalidParameter, "pg2d1_sync: follow => true never finishes, so it cannot wait", {},
		            "Call pg2d1_sync(…, follow => true) without wait, and watch pg2d1_sync_status.");
	}
	if (wait && pg_call([] { return IsolationUsesXactSnapshot(); })) {
		throw Error("0A000", "pg2d1_sync(wait => true) needs READ COMMITTED isolation");
	}
	with_spi([] { require_extension_version(); });
	require_select(p.relid);
	require_login_role();
	std::optional<SyncRow> sync = with_spi([&] { return load_sync(p.relid); });
	if (!sync) {
		throw Error("55000", "sync of " + display + " is not enabled", {},
		            "SELECT pg2d1_enable_sync('" + display + "'); captures its changes from then on.");
	}
	if (sync->status != "enabled") {
		throw Error("55000", "sync of " + display + " is stopped: " + sync->stop_reason, {},
		            "Change the D1 table to match (pg2d1_ddl shows it), then call pg2d1_enable_sync('" + display +
		                "') again.");
	}
	if (!target && !sync->target.empty()) {
		target = sync->target;
	}
	if (target && target->size() >= NAMEDATALEN) {
		throw Error(sqlstate::kInvalidParameter, "target server name is too long");
	}
	strlcpy(p.target, target.value_or("").c_str(), sizeof(p.target));
	(void)resolve_target(target);
	p.dboid = MyDatabaseId;
	p.owner = pg_call([] { return GetUserId(); });
	p.checkpoint_size = 1;
	p.flags = kJobSync | (follow ? uint32_t(kJobFollow) : 0u);
	capture_settings(p);
	bool launcher = launcher_serves_database(MyDatabaseId) || launcher_expected_for_database(MyDatabaseId);
	if (!wait) {
		if (auto running = with_spi([&] { return active_job(p.relid, launcher, true); })) {
			notice("sync job " + std::to_string(*running) + " is already running for " + display +
			       "; returning its id");
			PG_RETURN_INT64(*running);
		}
		PG_RETURN_INT64(submit_job(p, display, false));
	}
	// wait => true: returns once every change committed before the call is in D1 — applied
	// by a sync job already running (a follower, say) or by one started here.
	const int64_t up_to = with_spi([&] { return max_change_id(p.relid); });
	int64_t job = 0;
	for (;;) {
		bool reconcile_due = with_spi([&] {
			std::optional<SyncRow> now = load_sync(p.relid);
			return now && now->reconcile;
		});
		if (!reconcile_due && with_spi([&] { return pending_changes_of_others(p.relid, up_to); }) == 0) {
			if (job == 0) {
				notice(display + ": every change committed before this call is in D1 already");
				fcinfo->isnull = true; // no job was needed
				return (Datum)0;
			}
			PG_RETURN_INT64(job);
		}
		std::optional<int64_t> running = with_spi([&] { return active_job(p.relid, launcher, true); });
		if (!running) {
			JobParams q = p; // a new job each time; submit_job fills its id
			job = submit_job(q, display, true);
			continue;
		}
		if (job != *running) {
			job = *running;
			notice("sync job " + std::to_string(job) + " is running for " + display +
			       "; waiting until it has applied every change committed before this call");
		}
		std::optional<JobRow> row = with_spi([&] { return load_job(job); });
		if (row && row->status == "failed") {
			throw Error(
			    "38000", "pg2d1 sync job " + std::to_string(job) + " for \"" + display + "\" failed", {},
			    "See pg2d1_sync_status.last_error; fix the cause and call pg2d1_sync again: no change is lost.");
		}
		pg_call([] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		});
	}
}
