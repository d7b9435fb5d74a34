// migrate.cpp — the migration driver run by a pg2d1 worker (see migrate.hpp).
// Must never hold a transaction open while waiting on D1, and never mark a checkpoint
// completed unless D1 acknowledged the request that carried its last rows.
// Called by pg2d1_worker_main in worker.cpp.
#include "migrate.hpp"

#include "boundary.hpp"
#include "spi.hpp"
#include "catalog.hpp"
#include "rows.hpp"
#include "verify.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "txn.hpp"
#include "core/async_sender.hpp"
#include "core/batch_planner.hpp"
#include "core/d1_schema.hpp"
#include "core/error.hpp"
#include "core/sqlite_encode.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"
}

#include <sys/resource.h>

#include <chrono>
#include <map>
#include <set>
#include <utility>

namespace pg2d1 {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kFetchRows = 5000;
constexpr size_t kSenderQueue = 2; // requests waiting for the sender thread (≈ 2 MB)

// Peak resident set of this worker process, in kB (includes shared buffers it touched).
int64_t peak_rss_kb() {
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? static_cast<int64_t>(ru.ru_maxrss) : 0;
}

struct Checkpoint {
	int64_t ledger_id = 0; // pg2d1.checkpoints.id
	int64_t first = 0;     // ids: the key for one integer key column, else row ordinals
	int64_t last = 0;
	std::vector<std::string> first_key; // text output of each key column of the first row
	std::vector<std::string> last_key;  // … and of the last row
	int64_t count = 0;
	std::string status;
};

// A text[] datum (inside pg_call).
Datum text_array(const std::vector<std::string> &values) {
	std::vector<Datum> elems;
	for (auto &v : values) {
		elems.push_back(CStringGetTextDatum(v.c_str()));
	}
	return PointerGetDatum(
	    construct_array(elems.data(), static_cast<int>(elems.size()), TEXTOID, -1, false, TYPALIGN_INT));
}

// Column `col` of SPI result row `row` as a vector of strings (inside pg_call).
std::vector<std::string> spi_text_array(uint64 row, int col) {
	bool isnull;
	Datum d = spi_datum(row, col, &isnull);
	return isnull ? std::vector<std::string>{} : text_array_values(d);
}

// Runs `sql` with text parameters $1…$n (inside pg_call).
void spi_run_text_params(const std::string &sql, const std::vector<const std::vector<std::string> *> &groups,
                         bool read_only) {
	std::vector<Oid> types;
	std::vector<Datum> values;
	for (auto *g : groups) {
		for (auto &v : *g) {
			types.push_back(TEXTOID);
			values.push_back(CStringGetTextDatum(v.c_str()));
		}
	}
	if (SPI_execute_with_args(sql.c_str(), static_cast<int>(values.size()), types.data(), values.data(), nullptr,
	                          read_only, 0) < 0) {
		elog(ERROR, "pg2d1: internal query failed: %s", sql.c_str());
	}
}

class Migration {
  public:
	Migration(const JobParams &p) : p_(p) {}
	void run();

  private:
	bool claim_job();
	void wait_for_dependency();
	void prepare();
	void plan(const Checkpoint *after);
	void copy(Checkpoint &cp, size_t index);
	void mark_local(const Checkpoint &cp, const char *status, const std::string &error, int64_t rows);
	void mark_remote_failed(const Checkpoint &cp, const std::string &message);
	void update_job_progress(bool force);
	void set_phase(const std::string &phase);
	std::string where_range(const Checkpoint &cp) const;
	std::string range_display(const Checkpoint &cp) const;
	void verify();

	JobParams p_;
	std::optional<D1Client> client_;        // bookkeeping requests, on this thread
	std::optional<D1Client> sender_client_; // data requests, on the sender thread only
	std::optional<AsyncSender> sender_;     // declared after its client: destroyed first
	ClientStats sender_stats_;              // snapshot taken while the sender is idle
	Target target_;
	SourceTable table_;
	DdlOptions ddl_options_;
	std::string table_lit_;
	std::vector<Checkpoint> checkpoints_;
	std::map<std::pair<int64_t, int64_t>, int64_t> remote_completed_;
	int64_t rows_total_ = 0;
	int64_t rows_done_ = 0; // acknowledged by D1 (or completed earlier)
	Clock::time_point last_progress_ = Clock::now();
	MemoryContext batch_context_ = nullptr;
};

std::string Migration::where_range(const Checkpoint &cp) const {
	return " WHERE table_name = " + table_lit_ + " AND start_id = " + std::to_string(cp.first) +
	       " AND end_id = " + std::to_string(cp.last);
}

// "id 1..5000" or "(a, b) (1, x)..(9, z)", for the progress and errors.
std::string Migration::range_display(const Checkpoint &cp) const {
	if (table_.integer_key) {
		return table_.columns[table_.key_columns[0]].name + " " + std::to_string(cp.first) + ".." +
		       std::to_string(cp.last);
	}
	auto row = [](const std::vector<std::string> &v) {
		std::string out;
		for (auto &x : v) {
			out += (out.empty() ? "" : ", ") + x;
		}
		return v.size() == 1 ? out : "(" + out + ")";
	};
	std::string names;
	for (int k : table_.key_columns) {
		names += (names.empty() ? "" : ", ") + table_.columns[k].name;
	}
	if (table_.key_columns.size() > 1) {
		names = "(" + names + ")";
	}
	return names + " " + row(cp.first_key) + ".." + row(cp.last_key) + " (rows " + std::to_string(cp.first) + ".." +
	       std::to_string(cp.last) + ")";
}

void Migration::set_phase(const std::string &phase) {
	std::string activity = "pg2d1 job " + std::to_string(p_.job_id) + ": " + table_.display_name + ": " + phase;
	pg_call([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
}

// Takes the table lock and the job row. False when the job is not ours to run.
bool Migration::claim_job() {
	bool locked = false;
	in_transaction([&] {
		pg_call([&] {
			spi_run("SELECT pg_catalog.pg_try_advisory_lock($1)", {{INT8OID, Int64GetDatum(table_lock_key(p_.relid))}},
			        false);
			locked = spi_bool(0, 1);
		});
	});
	if (!locked) {
		throw Error("55006", "another pg2d1 worker is migrating this table", {},
		            "Watch it in pg2d1_progress; pg2d1_migrate returns the running job's id.");
	}
	// The job row: inserted by us (wait => true) or by the caller (wait for its commit).
	std::string status;
	for (int attempt = 0; attempt < 600 && status.empty(); attempt++) {
		in_transaction([&] {
			table_ = load_source_table(p_.relid);
			pg_call([&] {
				if (p_.flags & kJobCreateRow) {
					spi_run(
					    "INSERT INTO pg2d1.jobs (job_id, table_name, relid, owner, status, checkpoint_size, "
					    "batch_size, resume, mode, target, depends_on, requests_per_second, max_retries, "
					    "request_timeout_ms, max_statement_bytes, max_request_bytes, max_statements_per_request, "
					    "verify, numeric_as_real) "
					    "VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $8, nullif($9, ''), nullif($10, 0), $11, $12, "
					    "$13, $14, $15, $16, $17, $18) ON CONFLICT (job_id) DO NOTHING",
					    {{INT8OID, Int64GetDatum(p_.job_id)},
					     {TEXTOID, CStringGetTextDatum(table_.display_name.c_str())},
					     {OIDOID, ObjectIdGetDatum(p_.relid)},
					     {OIDOID, ObjectIdGetDatum(p_.owner)},
					     {INT8OID, Int64GetDatum(p_.checkpoint_size)},
					     {INT4OID, Int32GetDatum(p_.batch_size)},
					     {BOOLOID, BoolGetDatum((p_.flags & kJobResume) != 0)},
					     {TEXTOID, CStringGetTextDatum((p_.flags & kJobTraditional) ? "traditional" : "resumable")},
					     {TEXTOID, CStringGetTextDatum(p_.target)},
					     {INT8OID, Int64GetDatum(p_.depends_on)},
					     {FLOAT8OID, Float8GetDatum(p_.requests_per_second)},
					     {INT4OID, Int32GetDatum(p_.max_retries)},
					     {INT4OID, Int32GetDatum(p_.request_timeout_ms)},
					     {INT4OID, Int32GetDatum(p_.max_statement_bytes)},
					     {INT4OID, Int32GetDatum(p_.max_request_bytes)},
					     {INT4OID, Int32GetDatum(p_.max_statements_per_request)},
					     {BOOLOID, BoolGetDatum((p_.flags & kJobVerify) != 0)},
					     {BOOLOID, BoolGetDatum((p_.flags & kJobNumericReal) != 0)}},
					    false);
				}
				// read_only = false: a new command id, so the row inserted just above is seen.
				spi_run("SELECT status FROM pg2d1.jobs WHERE job_id = $1", {{INT8OID, Int64GetDatum(p_.job_id)}},
				        false);
				if (SPI_processed > 0) {
					status = spi_text(0, 1);
				}
			});
		});
		if (status.empty()) {
			pg_call([] {
				(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			});
		}
	}
	if (status != "queued" && status != "running") {
		return false; // cancelled, finished, or never committed by its caller
	}
	in_transaction([&] {
		pg_call([&] {
			spi_run("UPDATE pg2d1.jobs SET status = 'running', pid = pg_backend_pid(), phase = 'starting', "
			        "last_error = NULL, updated_at = clock_timestamp() WHERE job_id = $1",
			        {{INT8OID, Int64GetDatum(p_.job_id)}}, false);
		});
	});
	return true;
}

void Migration::wait_for_dependency() {
	if (p_.depends_on == 0) {
		return;
	}
	set_phase("waiting for job " + std::to_string(p_.depends_on));
	for (;;) {
		std::string status;
		in_transaction([&] {
			pg_call([&] {
				spi_run("SELECT status FROM pg2d1.jobs WHERE job_id = $1", {{INT8OID, Int64GetDatum(p_.depends_on)}},
				        true);
				status = SPI_processed ? spi_text(0, 1) : "missing";
			});
		});
		if (status == "completed") {
			return;
		}
		if (status == "failed" || status == "cancelled" || status == "missing") {
			throw Error("55000", "job " + std::to_string(p_.depends_on) + ", which this job follows, is " + status, {},
			            "Fix that table first; pg2d1_migrate_all copies tables in foreign-key order.");
		}
		pg_call([] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 500L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		});
	}
}

void Migration::prepare() {
	set_phase("preparing");
	in_transaction([&] {
		target_ = resolve_target(p_.target[0] ? std::optional<std::string>(p_.target) : std::nullopt);
		pg_call([&] {
			std::string sql = "SELECT count(*) FROM " + table_.qualified_name;
			spi_run(sql.c_str(), {}, true);
			rows_total_ = spi_int64(0, 1);
			spi_run("UPDATE pg2d1.jobs SET rows_total = $2, phase = 'planning' WHERE job_id = $1",
			        {{INT8OID, Int64GetDatum(p_.job_id)}, {INT8OID, Int64GetDatum(rows_total_)}}, false);
			batch_context_ = AllocSetContextCreate(TopMemoryContext, "pg2d1 row batch", ALLOCSET_DEFAULT_SIZES);
		});
	});
	table_lit_.clear();
	append_text_literal(table_lit_, table_.def.name);
	client_.emplace(target_.config, interrupt_requested);
	// The sender thread's own client: polls only flags (never PostgreSQL) to stop early.
	sender_client_.emplace(target_.config,
	                       [this] { return interrupt_requested() || (sender_ && sender_->stopping()); });
	sender_.emplace([this](std::vector<Statement> &&statements) { sender_client_->batch(statements); }, kSenderQueue,
	                [] { return interrupt_requested(); });

	bool traditional = p_.flags & kJobTraditional;
	bool have_ledger = false;
	in_transaction([&] {
		pg_call([&] {
			spi_run("SELECT 1 FROM pg2d1.checkpoints WHERE job_id = $1", {{INT8OID, Int64GetDatum(p_.job_id)}}, true,
			        1);
			have_ledger = SPI_processed > 0;
		});
	});
	std::vector<Statement> stmts;
	for (auto &ddl : checkpoint_table_ddl()) {
		stmts.push_back({ddl, {}});
	}
	// A D1 table of another shape is reported, never written into; foreign keys are created
	// to tables D1 already has (pg2d1_migrate_all loads parents first).
	check_d1_table_matches(*client_, table_.def, table_.display_name);
	ddl_options_.all_tables_known = true;
	ddl_options_.migrated_tables = d1_table_names(*client_);
	ddl_options_.migrated_tables.push_back(table_.def.name);
	DdlResult ddl = translate_table(table_.def, ddl_options_);
	stmts.push_back({ddl.statements.front(), {}}); // the table; indexes come after the load
	bool start_over = !have_ledger && (!(p_.flags & kJobResume) || traditional);
	if (start_over) {
		stmts.push_back({"DELETE FROM migration_checkpoints WHERE table_name = " + table_lit_, {}});
	}
	client_->batch(stmts);
	if (!start_over) {
		StatementResult r = client_->raw({"SELECT CAST(start_id AS TEXT), CAST(end_id AS TEXT), records_processed "
		                                  "FROM migration_checkpoints WHERE status = 'completed' AND table_name = ?1",
		                                  {table_.def.name}});
		for (auto &row : r.rows) {
			if (row.size() == 3 && row[0] && row[1] && row[2]) {
				remote_completed_[{std::stoll(*row[0]), std::stoll(*row[1])}] = std::stoll(*row[2]);
			}
		}
	}
	if (have_ledger) {
		// Resuming this job (restart, crash): its own ledger is the plan. A checkpoint counts
		// as done only when both the ledger and D1 say so.
		in_transaction([&] {
			pg_call([&] {
				spi_run("UPDATE pg2d1.checkpoints SET status = 'pending' WHERE job_id = $1 AND status = 'in_progress'",
				        {{INT8OID, Int64GetDatum(p_.job_id)}}, false);
				spi_run("SELECT id, start_id, end_id, records_processed, status, start_key, end_key "
				        "FROM pg2d1.checkpoints WHERE job_id = $1 ORDER BY start_id",
				        {{INT8OID, Int64GetDatum(p_.job_id)}}, true);
				for (uint64 i = 0; i < SPI_processed; i++) {
					Checkpoint cp;
					cp.ledger_id = spi_int64(i, 1);
					cp.first = spi_int64(i, 2);
					cp.last = spi_int64(i, 3);
					cp.count = spi_int64(i, 4);
					cp.status = spi_text(i, 5);
					cp.first_key = spi_text_array(i, 6);
					cp.last_key = spi_text_array(i, 7);
					checkpoints_.push_back(cp);
				}
			});
		});
		for (auto &cp : checkpoints_) {
			auto it = remote_completed_.find({cp.first, cp.last});
			if (cp.status == "completed" && !traditional && (it == remote_completed_.end() || it->second != cp.count)) {
				cp.status = "pending"; // D1 disagrees: send the range again
			}
			if (cp.status == "completed") {
				rows_done_ += cp.count;
			}
		}
	} else {
		plan(nullptr);
	}
}

// Plans checkpoints after the checkpoint `after` (all when null) and records them in the
// ledger: every checkpoint_size-th row of the key order starts one. Ids are the key for a
// single integer key, else row ordinals counted on from `after`.
void Migration::plan(const Checkpoint *after) {
	set_phase("planning checkpoints");
	bool traditional = p_.flags & kJobTraditional;
	int64_t size = traditional ? INT64_MAX : p_.checkpoint_size;
	const std::string keys = table_.key_list();
	std::string sql = "SELECT pg2d1_rn, pg2d1_last";
	for (size_t k = 0; k < table_.key_columns.size(); k++) {
		sql += ", " + quote_ident(table_.columns[table_.key_columns[k]].name);
	}
	sql += " FROM (SELECT " + keys +
	       ", row_number() OVER w AS pg2d1_rn, lead(true) OVER w IS NULL AS pg2d1_last FROM " + table_.qualified_name +
	       (after ? " WHERE " + table_.key_compare(">", 1) : "") + " WINDOW w AS (ORDER BY " + keys +
	       ")) s WHERE (pg2d1_rn - 1) % " + std::to_string(size) + " = 0 OR pg2d1_rn % " + std::to_string(size) +
	       " = 0 OR pg2d1_last ORDER BY pg2d1_rn";
	const int64_t base = after ? after->last : 0;
	std::vector<Checkpoint> planned;
	in_transaction([&] {
		pg_call([&] {
			std::vector<std::string> none;
			spi_run_text_params(sql, {after ? &after->last_key : &none}, true);
			TupleDesc desc = SPI_tuptable->tupdesc;
			int64_t start_rn = 0;
			for (uint64 i = 0; i < SPI_processed; i++) {
				HeapTuple tup = SPI_tuptable->vals[i];
				int64_t rn = spi_int64(i, 1);
				bool last = spi_bool(i, 2);
				std::vector<std::string> key;
				for (size_t k = 0; k < table_.key_columns.size(); k++) {
					key.emplace_back(SPI_getvalue(tup, desc, static_cast<int>(k) + 3));
				}
				if ((rn - 1) % size == 0) {
					Checkpoint cp;
					cp.first_key = key;
					start_rn = rn;
					planned.push_back(cp);
				}
				if (rn % size == 0 || last) {
					Checkpoint &cp = planned.back();
					cp.last_key = key;
					cp.count = rn - start_rn + 1;
					if (table_.integer_key) {
						cp.first = std::stoll(cp.first_key[0]);
						cp.last = std::stoll(cp.last_key[0]);
					} else {
						cp.first = base + start_rn;
						cp.last = base + rn;
					}
				}
			}
		});
		// Completed by an earlier job, per the ledger and D1 alike: not sent again.
		for (auto &cp : planned) {
			cp.status = "pending";
			auto it = remote_completed_.find({cp.first, cp.last});
			if (!traditional && it != remote_completed_.end() && it->second == cp.count) {
				pg_call([&] {
					spi_run("SELECT 1 FROM pg2d1.checkpoints c JOIN pg2d1.jobs j USING (job_id) WHERE j.relid = $1 "
					        "AND c.status = 'completed' AND c.start_id = $2 AND c.end_id = $3 AND "
					        "c.records_processed = $4 AND c.start_key = $5 AND c.end_key = $6",
					        {{OIDOID, ObjectIdGetDatum(p_.relid)},
					         {INT8OID, Int64GetDatum(cp.first)},
					         {INT8OID, Int64GetDatum(cp.last)},
					         {INT8OID, Int64GetDatum(cp.count)},
					         {TEXTARRAYOID, text_array(cp.first_key)},
					         {TEXTARRAYOID, text_array(cp.last_key)}},
					        true, 1);
					if (SPI_processed > 0) {
						cp.status = "completed";
					}
				});
			}
			pg_call([&] {
				spi_run("INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, start_key, end_key, "
				        "records_processed, status, remote_synced, skipped, completed_at) VALUES ($1, $2, $3, $4, $8, "
				        "$9, $5, $6, $7, $7, CASE WHEN $7 THEN clock_timestamp() END) RETURNING id",
				        {{INT8OID, Int64GetDatum(p_.job_id)},
				         {TEXTOID, CStringGetTextDatum(table_.def.name.c_str())},
				         {INT8OID, Int64GetDatum(cp.first)},
				         {INT8OID, Int64GetDatum(cp.last)},
				         {INT8OID, Int64GetDatum(cp.status == "completed" ? cp.count : 0)},
				         {TEXTOID, CStringGetTextDatum(cp.status.c_str())},
				         {BOOLOID, BoolGetDatum(cp.status == "completed")},
				         {TEXTARRAYOID, text_array(cp.first_key)},
				         {TEXTARRAYOID, text_array(cp.last_key)}},
				        false);
				cp.ledger_id = spi_int64(0, 1);
			});
			if (cp.status == "completed") {
				rows_done_ += cp.count;
			}
			checkpoints_.push_back(cp);
		}
	});
}

void Migration::mark_local(const Checkpoint &cp, const char *status, const std::string &error, int64_t rows) {
	in_transaction([&] {
		pg_call([&] {
			Oid types[5] = {INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID};
			Datum values[5] = {Int64GetDatum(cp.ledger_id), CStringGetTextDatum(status),
			                   CStringGetTextDatum(error.c_str()), Int64GetDatum(rows), Int64GetDatum(p_.job_id)};
			const char nulls[5] = {' ', ' ', error.empty() ? 'n' : ' ', ' ', ' '};
			SPI_execute_with_args(
			    "UPDATE pg2d1.checkpoints SET status = $2, error_message = $3, records_processed = $4, "
			    "started_at = CASE WHEN $2 = 'in_progress' THEN clock_timestamp() ELSE started_at END, "
			    "completed_at = CASE WHEN $2 = 'completed' THEN clock_timestamp() END, "
			    "remote_synced = ($2 <> 'in_progress') WHERE id = $1",
			    5, types, values, nulls, false, 0);
		});
	});
}

void Migration::update_job_progress(bool force) {
	if (!force && std::chrono::duration<double>(Clock::now() - last_progress_).count() < 0.5) {
		return;
	}
	last_progress_ = Clock::now();
	ClientStats st = client_->stats();
	st.requests += sender_stats_.requests;
	st.retries += sender_stats_.retries;
	st.bytes_sent += sender_stats_.bytes_sent;
	in_transaction([&] {
		pg_call([&] {
			spi_run("UPDATE pg2d1.jobs SET rows_done = $2, requests = $3, retries = $4, bytes_sent = $5, "
			        "peak_rss_kb = $6, updated_at = clock_timestamp() WHERE job_id = $1",
			        {{INT8OID, Int64GetDatum(p_.job_id)},
			         {INT8OID, Int64GetDatum(rows_done_)},
			         {INT8OID, Int64GetDatum((int64)st.requests)},
			         {INT8OID, Int64GetDatum((int64)st.retries)},
			         {INT8OID, Int64GetDatum((int64)st.bytes_sent)},
			         {INT8OID, Int64GetDatum(peak_rss_kb())}},
			        false);
		});
	});
}

void Migration::mark_remote_failed(const Checkpoint &cp, const std::string &message) {
	std::string cut = message.substr(0, 2000);
	while (!cut.empty() && !is_valid_utf8(cut)) {
		cut.pop_back(); // never split a UTF-8 character
	}
	std::string msg;
	append_text_literal(msg, cut);
	try {
		client_->batch(
		    {{"UPDATE migration_checkpoints SET status = 'failed', error_message = " + msg + where_range(cp), {}}});
	} catch (const std::exception &) {
		// D1 is unreachable or refusing: the original error is what the user needs.
	}
}

void Migration::copy(Checkpoint &cp, size_t index) {
	bool traditional = p_.flags & kJobTraditional;
	set_phase("checkpoint " + std::to_string(index + 1) + "/" + std::to_string(checkpoints_.size()) + ", " +
	          range_display(cp));
	mark_local(cp, "in_progress", "", 0);
	UpsertTarget target{table_.def.name, {}, table_.def.primary_key};
	for (auto &c : table_.columns) {
		target.columns.push_back(c.name);
	}
	BatchPlanner planner(target, limits_from_gucs(static_cast<size_t>(p_.batch_size)));
	const size_t max_tuple = planner.max_tuple_bytes();
	std::string where = where_range(cp);
	if (!traditional) {
		client_->batch(
		    {{"INSERT INTO migration_checkpoints (table_name, start_id, end_id, records_processed, status, "
		      "started_at) SELECT " +
		          table_lit_ + ", " + std::to_string(cp.first) + ", " + std::to_string(cp.last) +
		          ", 0, 'in_progress', datetime('now') WHERE NOT EXISTS (SELECT 1 FROM migration_checkpoints" + where +
		          ")",
		      {}},
		     {"UPDATE migration_checkpoints SET status = 'in_progress', started_at = datetime('now'), "
		      "completed_at = NULL, error_message = NULL" +
		          where,
		      {}}});
	}
	// Keyset over the key's own order (its index): the first page from the checkpoint's first
	// key, then after the last key read; never past its last key.
	const size_t nkeys = table_.key_columns.size();
	const std::string head = "SELECT " + table_.select_list() + " FROM " + table_.qualified_name + " WHERE ";
	const std::string tail = " AND " + table_.key_compare("<=", static_cast<int>(nkeys) + 1) + " ORDER BY " +
	                         table_.key_list() + " LIMIT " + std::to_string(kFetchRows);
	const std::string first_sql = head + table_.key_compare(">=", 1) + tail;
	const std::string next_sql = head + table_.key_compare(">", 1) + tail;
	std::vector<std::string> seen = cp.first_key;
	bool from_start = true;
	int64_t rows = 0;
	EncodedRow row;
	std::vector<std::string> row_key;
	// Requests go to the sender thread, so the next rows are read while D1 answers.
	const int64_t done_before = rows_done_;
	const size_t sent_before = sender_->rows_sent();
	auto send_ready = [&] {
		while (planner.has_request()) {
			Request req = planner.pop_request();
			size_t n = req.rows;
			sender_->submit(std::move(req).to_statements(), n);
		}
		rows_done_ = done_before + static_cast<int64_t>(sender_->rows_sent() - sent_before);
		check_for_interrupts();
		update_job_progress(false);
	};
	for (;;) {
		uint64_t fetched = 0;
		try {
			in_transaction([&] {
				pg_call([&] {
					spi_run_text_params(from_start ? first_sql : next_sql, {&seen, &cp.last_key}, true);
					fetched = SPI_processed;
					MemoryContext old = MemoryContextSwitchTo(batch_context_);
					TupleDesc desc = SPI_tuptable->tupdesc;
					for (uint64 i = 0; i < fetched; i++) {
						HeapTuple tup = SPI_tuptable->vals[i];
						row_key = key_texts(table_, tup, desc);
						encode_row(table_, tup, desc, max_tuple, row);
						if (row.params.empty()) {
							planner.add_row(row.tuple);
						} else {
							planner.add_row_with_params(row.tuple, std::move(row.params));
						}
						seen = row_key;
					}
					MemoryContextSwitchTo(old);
					MemoryContextReset(batch_context_);
				});
			});
		} catch (const Error &e) {
			std::string col = row.column >= 0 ? "column \"" + table_.columns[row.column].name + "\" of " : "";
			throw Error(e.sqlstate(),
			            std::string(e.what()) + " (" + col + "table \"" + table_.display_name + "\", " +
			                key_display(table_, row_key) + ")",
			            e.detail(), e.hint());
		}
		from_start = false;
		rows += static_cast<int64_t>(fetched);
		send_ready();
		if (fetched < static_cast<uint64_t>(kFetchRows)) {
			break;
		}
	}
	std::optional<std::string> trailer;
	if (!traditional) {
		trailer = "UPDATE migration_checkpoints SET status = 'completed', records_processed = " + std::to_string(rows) +
		          ", completed_at = datetime('now'), error_message = NULL" + where;
	}
	planner.finish(trailer);
	send_ready();
	sender_->drain(); // D1 acknowledged every request of the checkpoint, the trailer last
	sender_stats_ = sender_client_->stats();
	rows_done_ = done_before + rows;
	cp.count = rows;
	cp.status = "completed";
	mark_local(cp, "completed", "", rows);
	update_job_progress(true);
}

void Migration::run() {
	if (!claim_job()) {
		return;
	}
	wait_for_dependency();
	prepare();
	for (size_t i = 0;; i++) {
		if (i == checkpoints_.size()) {
			// Rows added beyond the planned ranges while the job ran.
			if (!(p_.flags & kJobTraditional) && !checkpoints_.empty()) {
				Checkpoint last = checkpoints_.back();
				plan(&last);
			}
			if (i == checkpoints_.size()) {
				break;
			}
		}
		Checkpoint &cp = checkpoints_[i];
		if (cp.status == "completed") {
			continue;
		}
		try {
			copy(cp, i);
		} catch (const Error &e) {
			if (interrupt_requested()) {
				throw; // shutdown or cancel: the checkpoint is resumed later, not failed
			}
			std::string msg = std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail());
			abort_transaction();
			if (!(p_.flags & kJobTraditional)) {
				mark_remote_failed(cp, msg);
			}
			mark_local(cp, "failed", msg, 0);
			std::string where = " (table \"" + table_.display_name + "\", checkpoint " + range_display(cp) + ")";
			throw Error(e.sqlstate(), std::string(e.what()) + where, e.detail(), e.hint());
		} catch (const PgError &e) {
			if (interrupt_requested()) {
				throw; // shutdown or cancel: the checkpoint is resumed later, not failed
			}
			std::string msg = e.what();
			abort_transaction();
			if (!(p_.flags & kJobTraditional)) {
				mark_remote_failed(cp, msg);
			}
			mark_local(cp, "failed", msg, 0);
			throw;
		}
	}
	// Secondary indexes are cheaper to build once the rows are in.
	DdlResult ddl = translate_table(table_.def, ddl_options_);
	if (ddl.statements.size() > 1) {
		set_phase("building indexes");
		in_transaction([&] {
			pg_call([&] {
				spi_run("UPDATE pg2d1.jobs SET phase = 'building indexes' WHERE job_id = $1",
				        {{INT8OID, Int64GetDatum(p_.job_id)}}, false);
			});
		});
		std::vector<Statement> idx;
		for (size_t i = 1; i < ddl.statements.size(); i++) {
			idx.push_back({ddl.statements[i], {}});
		}
		client_->batch(idx);
	}
	update_job_progress(true);
	if (p_.flags & kJobVerify) {
		verify();
	}
	in_transaction([&] {
		pg_call([&] {
			spi_run("UPDATE pg2d1.jobs SET status = 'completed', phase = NULL, pid = NULL, rows_done = $2, "
			        "finished_at = clock_timestamp(), updated_at = clock_timestamp() WHERE job_id = $1",
			        {{INT8OID, Int64GetDatum(p_.job_id)}, {INT8OID, Int64GetDatum(rows_done_)}}, false);
		});
	});
	set_phase("completed");
}

// Reads both sides back (verify.hpp) and records the verdict; a difference fails the job.
void Migration::verify() {
	set_phase("verifying");
	in_transaction([&] {
		pg_call([&] {
			spi_run("UPDATE pg2d1.jobs SET phase = 'verifying' WHERE job_id = $1",
			        {{INT8OID, Int64GetDatum(p_.job_id)}}, false);
		});
	});
	VerifySummary sum;
	in_transaction([&] { sum = verify_table(table_, *client_, p_.checkpoint_size, [](const VerifyRange &) {}); });
	in_transaction([&] {
		pg_call([&] {
			spi_run("UPDATE pg2d1.jobs SET verified = $2, verify_summary = $3 WHERE job_id = $1",
			        {{INT8OID, Int64GetDatum(p_.job_id)},
			         {BOOLOID, BoolGetDatum(sum.ok())},
			         {TEXTOID, CStringGetTextDatum(sum.text().c_str())}},
			        false);
		});
	});
	if (!sum.ok()) {
		throw Error("XX001", "pg2d1_verify found differences between \"" + table_.display_name + "\" and D1",
		            sum.text(),
		            "SELECT * FROM pg2d1_verify('" + table_.display_name +
		                "') WHERE NOT ok; shows each range. Rows changed in PostgreSQL during the copy differ until "
		                "the next run or pg2d1_sync.");
	}
}

} // namespace

void run_job(const JobParams &params) {
	apply_settings(params);
	// Text output of dates and times must not depend on session defaults.
	pg_call([] { set_fixed_output_settings(GUC_ACTION_SET); });
	Migration m(params);
	m.run();
}

} // namespace pg2d1
