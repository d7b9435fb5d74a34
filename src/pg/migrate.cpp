// migrate.cpp — the migration driver run by a pg2d1 worker (see migrate.hpp).
// Must never hold a transaction open while waiting on D1, never mark a checkpoint completed
// unless D1 acknowledged the request that carried its last rows, and never skip a range
// D1 no longer holds (ranges are contiguous over the whole key space; a skip is checked
// against PostgreSQL's count, D1's ledger and D1's data).
// Called by pg2d1_worker_main in worker.cpp.
#include "migrate.hpp"

#include "boundary.hpp"
#include "catalog.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "job_store.hpp"
#include "rows.hpp"
#include "spi.hpp"
#include "spi_guarded.hpp"
#include "txn.hpp"
#include "verify.hpp"
#include "core/async_sender.hpp"
#include "core/request_sizer.hpp"
#include "core/batch_planner.hpp"
#include "core/d1_schema.hpp"
#include "core/error.hpp"
#include "core/import_file.hpp"
#include "core/remote_ledger.hpp"
#include "core/sqlite_encode.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"
}

#include <unistd.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <utility>

namespace pg2d1 {
namespace {

using Clock = std::chrono::steady_clock;
using Key = std::vector<std::string>;
constexpr int kFetchRows = 5000;
constexpr size_t kSenderQueue = 1;       // requests waiting for the sender thread (one more is in flight)
constexpr double kWaitFirstS = 5;        // first pause while D1 is unreachable …
constexpr double kWaitMaxS = 300;        // … doubling up to this
constexpr size_t kCountsPerRequest = 50; // D1 range counts checked per request

// Peak resident set of this worker process, in kB (includes shared buffers it touched).
int64_t peak_rss_kb() {
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? static_cast<int64_t>(ru.ru_maxrss) : 0;
}

} // namespace

void sleep_interruptibly(double seconds) {
	auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
	while (Clock::now() < until) {
		long ms = static_cast<long>(
		    std::min(1000.0, std::chrono::duration<double, std::milli>(until - Clock::now()).count()));
		pg_call([&] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, std::max(ms, 1L),
			                PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		});
	}
}

// D1 is unreachable or overloaded past the retry budget: the job shows `waiting` with the
// reason and the next attempt (5 s, doubling to 5 min), and goes on by itself.
void wait_for_d1(int64_t job_id, int &waits, const Error &e) {
	abort_transaction();
	double seconds = std::min(kWaitMaxS, kWaitFirstS * std::ldexp(1.0, std::min(waits, 16)));
	waits++;
	std::string reason = "D1 unavailable, next attempt in " + std::to_string(static_cast<int>(seconds)) +
	                     " s: " + describe_exception(e, ": ");
	bool waiting = false;
	in_transaction([&] { waiting = set_waiting(job_id, reason.substr(0, 4000), seconds); });
	if (!waiting) {
		throw Error("57014", "job " + std::to_string(job_id) + " is no longer running");
	}
	pg_call([&] {
		ereport(LOG, (errmsg("pg2d1: job %lld waits %.0f s for D1: %s", (long long)job_id, seconds, e.what())));
	});
	sleep_interruptibly(seconds);
	bool back = false;
	in_transaction([&] { back = end_waiting(job_id); });
	if (!back) {
		throw Error("57014", "job " + std::to_string(job_id) + " was cancelled while waiting for D1");
	}
}

bool take_job_row(const JobParams &p, SourceTable &table) {
	// The job row: inserted by us (wait => true) or by the caller (wait for its commit).
	std::optional<JobRow> job;
	for (int attempt = 0; attempt < 600 && !job; attempt++) {
		in_transaction([&] {
			table = load_source_table(p.relid);
			if (p.flags & kJobCreateRow) {
				insert_job(p, table.display_name, "running");
			}
			job = load_job(p.job_id);
		});
		if (!job) {
			sleep_interruptibly(0.1);
		}
	}
	if (!job) {
		return false; // never committed by its caller
	}
	bool claimed = false;
	in_transaction([&] { claimed = claim_job(p.job_id); });
	return claimed;
}

namespace {

std::string error_text(const std::exception &e) {
	return describe_exception(e, ": ");
}

// The integer in the first cell of a one-row result (a count), -1 when there is none.
int64_t first_cell_int(const StatementResult &r) {
	return (!r.rows.empty() && !r.rows[0].empty() && r.rows[0][0]) ? std::stoll(*r.rows[0][0]) : -1;
}

class Migration {
  public:
	explicit Migration(const JobParams &p) : p_(p) {}
	void run();

  private:
	bool claim_job();
	void wait_for_dependency();
	void prepare();
	void start_sender();
	std::string fingerprint() const;
	std::vector<CheckpointRow> plan_ranges(const std::optional<Key> &after, int64_t label_base);
	void plan(bool have_ledger, bool d1_created, bool start_over);
	void check_skips(std::vector<CheckpointRow> &cps, bool carried);
	int64_t pg_count(const std::optional<Key> &after, const std::optional<Key> &through);
	std::string key_range_sql(const std::optional<Key> &after, const std::optional<Key> &through,
	                          std::vector<SpiArg> &args) const;
	int64_t read_range(const CheckpointRow &cp, size_t max_tuple, const std::function<void(EncodedRow &)> &add,
	                   const std::function<void()> &after_page, std::optional<Key> &seen);
	void copy(CheckpointRow &cp, size_t index);
	void choose_method();
	void import_all();
	struct FileGroup;
	bool write_file(size_t &next, FileGroup &g);
	void claim_group(const FileGroup &g);
	bool group_in_d1(const FileGroup &g);
	void complete_group(FileGroup &g);
	void refresh_import_phase(bool force);
	void wait_out(const Error &e);
	void fail_checkpoint(CheckpointRow &cp, const std::string &message);
	void mark_remote_failed(const CheckpointRow &cp, const std::string &message);
	void update_progress(bool force);
	void report_activity(const std::string &phase);
	void set_job_phase(const std::string &phase);
	std::string range_display(const CheckpointRow &cp) const;
	std::string key_text(const Key &k) const;
	void verify();
	void report_duplicates(const Error &e);

	JobParams p_;
	std::optional<D1Client> client_;        // bookkeeping requests, on this thread
	std::optional<D1Client> sender_client_; // data requests, on the sender thread only
	std::optional<RequestSizer> sizer_;     // used on the sender thread only
	std::optional<AsyncSender> sender_;     // declared after its client: destroyed first
	ClientStats sender_stats_;              // of finished senders plus the live one when idle
	ClientStats sender_stats_done_;         // of senders already replaced
	Target target_;
	SourceTable table_;
	DdlOptions ddl_options_;
	std::vector<CheckpointRow> checkpoints_;
	std::map<std::pair<int64_t, int64_t>, int64_t> remote_completed_;
	int64_t rows_total_ = 0;
	int64_t rows_done_ = 0; // acknowledged by D1 (or completed earlier)
	int waits_ = 0;         // consecutive waits for D1
	bool d1_empty_ = false; // the D1 table had no rows when the job prepared (for method 'auto')
	// import
	std::string import_dir_;
	std::optional<ImportRunner> importer_;
	ClientStats import_stats_done_; // of importers already replaced
	std::string writing_phase_;     // "import file 2: writing checkpoint 3/45", "" when not writing
	Clock::time_point last_phase_ = Clock::now();
	std::vector<std::vector<Statement>> param_requests_; // rows too large for a literal: sent by /query
	Clock::time_point last_progress_ = Clock::now();
	MemoryContext batch_context_ = nullptr;
};

std::string Migration::key_text(const Key &k) const {
	std::string out;
	for (auto &x : k) {
		out += (out.empty() ? "" : ", ") + x;
	}
	return k.size() == 1 ? out : "(" + out + ")";
}

// "id 1..5000", "id > 5000", "(a, b) > (1, x) and <= (9, z)", for the progress and errors.
std::string Migration::range_display(const CheckpointRow &cp) const {
	std::string names;
	for (int k : table_.key_columns) {
		names += (names.empty() ? "" : ", ") + table_.columns[k].name;
	}
	if (table_.key_columns.size() > 1) {
		names = "(" + names + ")";
	}
	if (cp.after_key && cp.through_key) {
		return names + " > " + key_text(*cp.after_key) + " and <= " + key_text(*cp.through_key);
	}
	if (cp.after_key) {
		return names + " > " + key_text(*cp.after_key);
	}
	if (cp.through_key) {
		return names + " <= " + key_text(*cp.through_key);
	}
	return "all rows";
}

void Migration::report_activity(const std::string &phase) {
	std::string activity = "pg2d1 job " + std::to_string(p_.job_id) + ": " + table_.display_name + ": " + phase;
	pg_call([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
}

void Migration::set_job_phase(const std::string &phase) {
	report_activity(phase);
	in_transaction([&] { set_phase(p_.job_id, phase); });
}

// Takes the table lock and the job row. False when the job is not ours to run.
bool Migration::claim_job() {
	bool locked = false;
	std::string other_version;
	in_transaction([&] { other_version = extension_version_mismatch(); });
	if (!other_version.empty()) {
		pg_call([&] {
			ereport(WARNING, (errmsg("pg2d1: job %lld waits: the extension is version %s, the library %s",
			                         static_cast<long long>(p_.job_id), other_version.c_str(), kExtensionVersion),
			                  errhint("ALTER EXTENSION pg2d1 UPDATE;")));
		});
		return false;
	}
	// A sync worker holds the table only for a round of changes (seconds): wait for it.
	for (int attempt = 0; attempt < 600 && !locked; attempt++) {
		bool sync_worker = false;
		in_transaction([&] {
			spi_exec("SELECT pg_catalog.pg_try_advisory_lock($1), pg2d1._job_has_worker($2, 'sync')",
			         {int8_arg(table_lock_key(p_.relid)), oid_arg(p_.relid)});
			locked = get_bool(0, 1);
			sync_worker = get_bool(0, 2);
		});
		if (locked || !sync_worker) {
			break;
		}
		report_activity("waiting for the sync of the table to finish its round");
		sleep_interruptibly(0.1);
	}
	if (!locked) {
		// Another live worker has the table (started by the launcher and by pg2d1_migrate at
		// once, say): it does the work; this one leaves the job as it is.
		pg_call([&] {
			ereport(LOG, (errmsg("pg2d1: job %lld: another worker holds table \"%s\"; this one exits",
			                     static_cast<long long>(p_.job_id), get_rel_name(p_.relid))));
		});
		return false;
	}
	return take_job_row(p_, table_);
}

void Migration::wait_for_dependency() {
	if (p_.depends_on == 0) {
		return;
	}
	report_activity("waiting for job " + std::to_string(p_.depends_on));
	for (;;) {
		std::string status;
		in_transaction([&] {
			std::optional<JobRow> dep = load_job(p_.depends_on);
			status = dep ? dep->status : "missing";
		});
		if (status == "completed") {
			return;
		}
		if (status == "failed" || status == "cancelled" || status == "missing" || status == "paused") {
			throw Error("55000", "job " + std::to_string(p_.depends_on) + ", which this job follows, is " + status, {},
			            "Fix that table first; pg2d1_migrate_all copies tables in foreign-key order.");
		}
		sleep_interruptibly(0.5);
	}
}

// What the D1 table's rows were written against: columns, their D1 types, numeric mode. A
// range sent under another fingerprint is sent again.
std::string Migration::fingerprint() const {
	std::string out;
	for (auto &c : table_.def.columns) {
		out += (out.empty() ? "" : ",") + c.name + " " + sqlite_type_for(value_kind_for(c.typname, c.typcategory));
	}
	return out + ((p_.flags & kJobNumericReal) ? "; numeric as REAL" : "");
}

void Migration::start_sender() {
	if (sender_client_) {
		sender_stats_done_ += sender_client_->stats();
	}
	sender_.reset(); // joins the thread before its client goes
	sender_client_.reset();
	sender_.emplace(
	    [this](std::vector<Statement> &&statements) {
		    // A request D1 finds too large or too slow (413, timeout, overload) is split in
		    // halves and later requests stay smaller for a while (request_sizer.hpp).
		    sizer_->send(std::move(statements), [this](std::vector<Statement> &req) { sender_client_->batch(req); });
	    },
	    kSenderQueue, [] { return interrupt_requested(); });
	// The client polls only flags (never PostgreSQL) to stop early; the token outlives the sender.
	auto token = sender_->stop_token();
	D1Config config = target_.config;
	config.size_failures_fail_fast = true; // the sizer splits such a request instead of resending it whole
	sender_client_.emplace(config, [token] { return interrupt_requested() || token->load(); });
	if (!sizer_) {
		Limits lim = limits_from_gucs(0);
		sizer_.emplace(lim.max_request_bytes, lim.max_statements_per_request);
	}
	sender_stats_ = sender_stats_done_;
}

void Migration::prepare() {
	report_activity("preparing");
	in_transaction([&] {
		target_ = resolve_target(p_.target[0] ? std::optional<std::string>(p_.target) : std::nullopt);
		spi_exec("SELECT count(*) FROM " + table_.qualified_name, {}, true);
		rows_total_ = get_int64(0, 1);
		set_rows_total(p_.job_id, rows_total_);
		set_phase(p_.job_id, "planning");
	});
	if (batch_context_ == nullptr) {
		batch_context_ =
		    pg_call([] { return AllocSetContextCreate(TopMemoryContext, "pg2d1 row batch", ALLOCSET_DEFAULT_SIZES); });
	}
	remote_completed_.clear();
	client_.emplace(target_.config, interrupt_requested);
	start_sender();

	bool traditional = p_.flags & kJobTraditional;
	bool have_ledger = false;
	in_transaction([&] { have_ledger = has_ledger(p_.job_id); });
	// A D1 table of another shape is reported, never written into; foreign keys are created
	// to tables D1 already has (pg2d1_migrate_all loads parents first).
	check_d1_table_matches(*client_, table_.def, table_.display_name);
	std::vector<std::string> d1_tables = d1_table_names(*client_);
	bool d1_created = std::find(d1_tables.begin(), d1_tables.end(), table_.def.name) == d1_tables.end();
	ddl_options_.all_tables_known = true;
	ddl_options_.migrated_tables = d1_tables;
	ddl_options_.migrated_tables.push_back(table_.def.name);
	DdlResult ddl = translate_table(table_.def, ddl_options_);
	std::vector<Statement> stmts;
	for (auto &s : checkpoint_table_ddl()) {
		stmts.push_back({s, {}});
	}
	stmts.push_back({ddl.statements.front(), {}}); // the table; indexes come after the load
	bool start_over = !have_ledger && (!(p_.flags & kJobResume) || traditional);
	if (start_over || d1_created) {
		// A table D1 did not have holds none of the ranges its ledger may list: forget them
		// in the same request that creates it.
		stmts.push_back({remote_ledger::forget_table_sql(table_.def.name), {}});
	}
	client_->batch(stmts);
	if (p_.flags & kJobAutoMethod) {
		d1_empty_ =
		    d1_created || client_->raw({"SELECT 1 FROM " + quote_ident(table_.def.name) + " LIMIT 1", {}}).rows.empty();
	}
	if (!start_over && !d1_created) {
		StatementResult r = client_->raw({remote_ledger::completed_ranges_sql(table_.def.name), {}});
		for (auto &row : r.rows) {
			if (row.size() == 3 && row[0] && row[1] && row[2]) {
				remote_completed_[{std::stoll(*row[0]), std::stoll(*row[1])}] = std::stoll(*row[2]);
			}
		}
	}
	plan(have_ledger, d1_created, start_over);
	in_transaction([&] { set_d1_columns(p_.job_id, fingerprint()); });
}

// Plans ranges of checkpoint_size rows in key order after `after` (from the start when
// none): each range is (previous range's last key, its own last key], the last one open
// above. Labels: the first and last key for one integer key column, else row ordinals
// counted on from `label_base`.
std::vector<CheckpointRow> Migration::plan_ranges(const std::optional<Key> &after, int64_t label_base) {
	report_activity("planning checkpoints");
	bool traditional = p_.flags & kJobTraditional;
	int64_t size = traditional ? INT64_MAX : p_.checkpoint_size;
	const size_t nkeys = table_.key_columns.size();
	const std::string keys = table_.key_list();
	std::vector<SpiArg> args;
	std::string sql = "SELECT pg2d1_rn, pg2d1_last";
	for (size_t k = 0; k < nkeys; k++) {
		sql += ", " + quote_ident(table_.columns[table_.key_columns[k]].name) + "::text";
	}
	sql += " FROM (SELECT " + keys +
	       ", row_number() OVER w AS pg2d1_rn, lead(true) OVER w IS NULL AS pg2d1_last FROM " + table_.qualified_name +
	       " WHERE true" + key_range_sql(after, std::nullopt, args) + " WINDOW w AS (ORDER BY " + keys +
	       ")) s WHERE (pg2d1_rn - 1) % " + std::to_string(size) + " = 0 OR pg2d1_rn % " + std::to_string(size) +
	       " = 0 OR pg2d1_last ORDER BY pg2d1_rn";
	std::vector<CheckpointRow> planned;
	in_transaction([&] {
		uint64 n = spi_exec(sql, args, true);
		int64_t start_rn = 0;
		for (uint64 i = 0; i < n; i++) {
			int64_t rn = get_int64(i, 1);
			bool last = get_bool(i, 2);
			Key key;
			for (size_t k = 0; k < nkeys; k++) {
				key.push_back(get_text(i, static_cast<int>(k) + 3));
			}
			if ((rn - 1) % size == 0) {
				CheckpointRow cp;
				cp.start_key = key;
				cp.after_key = planned.empty() ? after : planned.back().through_key;
				start_rn = rn;
				planned.push_back(cp);
			}
			if (rn % size == 0 || last) {
				CheckpointRow &cp = planned.back();
				cp.end_key = key;
				cp.through_key = key;
				if (table_.integer_key) {
					cp.start_id = std::stoll(cp.start_key[0]);
					cp.end_id = std::stoll(cp.end_key[0]);
				} else {
					cp.start_id = label_base + start_rn;
					cp.end_id = label_base + rn;
				}
			}
		}
	});
	if (planned.empty()) {
		// No rows (yet): one range over the whole remaining key space.
		CheckpointRow cp;
		cp.after_key = after;
		cp.start_id = cp.end_id = table_.integer_key && after ? std::stoll((*after)[0]) + 1 : label_base + 1;
		planned.push_back(cp);
	}
	planned.back().through_key.reset(); // the last range is open above
	for (auto &cp : planned) {
		cp.status = "pending";
	}
	return planned;
}

// " AND key > $n… AND key <= $m…": the keys in (after, through], either bound left out when
// absent; the bounds' text values are appended to `args` as the parameters.
std::string Migration::key_range_sql(const std::optional<Key> &after, const std::optional<Key> &through,
                                     std::vector<SpiArg> &args) const {
	std::string sql;
	for (const auto &[op, bound] : {std::pair{">", &after}, std::pair{"<=", &through}}) {
		if (*bound) {
			sql += " AND " + table_.key_compare(op, static_cast<int>(args.size()) + 1);
			for (auto &v : **bound) {
				args.push_back(text_arg(v));
			}
		}
	}
	return sql;
}

// Rows of the table in (after, through] now.
int64_t Migration::pg_count(const std::optional<Key> &after, const std::optional<Key> &through) {
	std::vector<SpiArg> args;
	std::string sql =
	    "SELECT count(*) FROM " + table_.qualified_name + " WHERE true" + key_range_sql(after, through, args);
	int64_t n = 0;
	in_transaction([&] {
		spi_exec(sql, args, true);
		n = get_int64(0, 1);
	});
	return n;
}

// Keeps `completed` only for ranges D1 still holds as they were sent: PostgreSQL still has
// the ledger's number of rows in the range, D1's migration_checkpoints says completed with
// that count, and D1's table has them (a count per range where SQLite orders the key like
// PostgreSQL — integer keys — else the whole table's count).
void Migration::check_skips(std::vector<CheckpointRow> &cps, bool carried) {
	report_activity("checking completed checkpoints");
	bool traditional = p_.flags & kJobTraditional;
	for (size_t i = 0; i < cps.size(); i++) {
		CheckpointRow &cp = cps[i];
		if (cp.status != "completed") {
			cp.status = "pending";
			continue;
		}
		auto it = remote_completed_.find({cp.start_id, cp.end_id});
		bool remote_ok = traditional || (it != remote_completed_.end() && it->second == cp.records);
		int64_t now = remote_ok ? pg_count(cp.after_key, cp.through_key) : -1;
		if (remote_ok && now != cp.records && carried && i + 1 == cps.size() && cp.last_key &&
		    pg_count(cp.after_key, cp.last_key) == cp.records) {
			// The open last range got rows above the last key it copied: close it there and
			// plan the new rows as ranges of their own.
			cp.through_key = cp.last_key;
			std::vector<CheckpointRow> more = plan_ranges(cp.last_key, std::max(cp.end_id, cp.start_id));
			cps.insert(cps.end(), more.begin(), more.end()); // `cp` is not used after this
			continue;
		}
		if (!remote_ok || now != cp.records) {
			cp.status = "pending";
		}
	}
	// The ranges still completed (the vector is not resized below).
	std::vector<CheckpointRow *> candidates;
	for (auto &cp : cps) {
		if (cp.status == "completed") {
			candidates.push_back(&cp);
		}
	}
	if (candidates.empty()) {
		return;
	}
	bool per_range = true;
	for (int k : table_.key_columns) {
		per_range = per_range && table_.columns[k].kind == ValueKind::Integer;
	}
	std::string d1_table = quote_ident(table_.def.name);
	if (!per_range) {
		int64_t expected = 0;
		for (auto *cp : candidates) {
			expected += cp->records;
		}
		if (first_cell_int(client_->raw({"SELECT count(*) FROM " + d1_table, {}})) < expected) {
			for (auto *cp : candidates) {
				cp->status = "pending";
			}
		}
		return;
	}
	const std::string cols = table_.key_list();
	auto lits = [](const Key &k) {
		std::string out;
		for (auto &v : k) {
			out += (out.empty() ? "" : ", ") + std::to_string(std::stoll(v)); // integers only
		}
		return out;
	};
	for (size_t from = 0; from < candidates.size(); from += kCountsPerRequest) {
		std::vector<Statement> stmts;
		size_t to = std::min(candidates.size(), from + kCountsPerRequest);
		for (size_t i = from; i < to; i++) {
			const CheckpointRow &cp = *candidates[i];
			std::string where = " WHERE 1";
			if (cp.after_key) {
				where += " AND (" + cols + ") > (" + lits(*cp.after_key) + ")";
			}
			if (cp.through_key) {
				where += " AND (" + cols + ") <= (" + lits(*cp.through_key) + ")";
			}
			stmts.push_back({"SELECT count(*) AS n FROM " + d1_table + where, {}});
		}
		std::vector<StatementResult> results = client_->batch(stmts);
		for (size_t i = from; i < to; i++) {
			if (first_cell_int(results[i - from]) < candidates[i]->records) {
				candidates[i]->status = "pending"; // D1 lost rows of the range: send it again
			}
		}
	}
}

void Migration::plan(bool have_ledger, bool d1_created, bool start_over) {
	bool traditional = p_.flags & kJobTraditional;
	rows_done_ = 0;
	if (have_ledger) {
		// Resuming this job (restart, crash): its own ledger is the plan.
		in_transaction([&] {
			checkpoints_ = load_checkpoints(p_.job_id, table_.key_columns.size());
			reset_in_progress(p_.job_id);
		});
		std::vector<bool> rescued(checkpoints_.size(), false);
		for (size_t i = 0; i < checkpoints_.size(); i++) {
			CheckpointRow &cp = checkpoints_[i];
			if (d1_created) {
				cp.status = cp.status == "completed" ? "pending" : cp.status;
			}
			if (cp.status == "in_progress") {
				// This job claimed the range in D1 before sending it (a claim resets D1's row
				// to in_progress), so D1 saying completed means the range's last request or
				// its import file landed before the worker died: keep it if the counts agree.
				auto it = remote_completed_.find({cp.start_id, cp.end_id});
				rescued[i] = !d1_created && it != remote_completed_.end();
				cp.status = rescued[i] ? "completed" : "pending";
				cp.records = rescued[i] ? it->second : 0;
			}
		}
		check_skips(checkpoints_, false);
		for (size_t i = 0; i < checkpoints_.size(); i++) {
			CheckpointRow &cp = checkpoints_[i];
			if (cp.status == "pending") {
				in_transaction([&] { mark_checkpoint(cp.id, "pending", "", 0, std::nullopt); });
			} else if (rescued[i]) {
				in_transaction([&] { mark_checkpoint(cp.id, "completed", "", cp.records, std::nullopt); });
			}
		}
	} else {
		std::vector<CheckpointRow> cps;
		bool carried = false;
		if (!start_over && !traditional && !d1_created) {
			std::optional<std::pair<JobRow, std::vector<CheckpointRow>>> prev;
			in_transaction([&] { prev = previous_plan(p_.relid, p_.job_id, table_.key_columns.size()); });
			if (prev && prev->first.params.checkpoint_size == p_.checkpoint_size &&
			    prev->first.d1_columns == fingerprint()) {
				cps = prev->second; // the same ranges: completed ones are checked and skipped
				carried = true;
			}
		}
		if (!carried) {
			cps = plan_ranges(std::nullopt, 0);
		}
		check_skips(cps, carried);
		in_transaction([&] {
			for (auto &cp : cps) {
				cp.skipped = cp.status == "completed";
				if (!cp.skipped) {
					cp.records = 0;
				}
				cp.id = insert_checkpoint(p_.job_id, table_.def.name, cp);
			}
		});
		checkpoints_ = std::move(cps);
	}
	for (auto &cp : checkpoints_) {
		if (cp.status == "completed") {
			rows_done_ += cp.records;
		}
	}
}

void Migration::update_progress(bool force) {
	if (!force && std::chrono::duration<double>(Clock::now() - last_progress_).count() < 0.5) {
		return;
	}
	last_progress_ = Clock::now();
	ClientStats st = client_->stats();
	st += sender_stats_;
	st += import_stats_done_;
	if (importer_) {
		st += importer_->stats();
	}
	JobProgress p;
	p.rows_done = rows_done_;
	p.requests = static_cast<int64_t>(st.requests);
	p.retries = static_cast<int64_t>(st.retries);
	p.bytes_sent = static_cast<int64_t>(st.bytes_sent);
	p.peak_rss_kb = peak_rss_kb();
	in_transaction([&] { pg2d1::update_progress(p_.job_id, p); });
}

void Migration::mark_remote_failed(const CheckpointRow &cp, const std::string &message) {
	try {
		// The claim rode in the failed request and was rolled back with it: insert the row if absent.
		client_->batch({{remote_ledger::claim_sql(table_.def.name, cp.start_id, cp.end_id)[0], {}},
		                {remote_ledger::fail_sql(table_.def.name, cp.start_id, cp.end_id, message), {}}});
	} catch (const std::exception &) {
		// D1 is unreachable or refusing: the original error is what the user needs.
	}
}

// Reads the rows of cp's range in key order, a page of kFetchRows rows per transaction (a
// keyset over the key's own order, its index: each page starts after the last key read and
// never goes past the range's upper bound). `add` gets each encoded row inside the page's
// transaction; `after_page` runs after each page. `seen` ends at the last key read.
int64_t Migration::read_range(const CheckpointRow &cp, size_t max_tuple, const std::function<void(EncodedRow &)> &add,
                              const std::function<void()> &after_page, std::optional<Key> &seen) {
	const std::string head = "SELECT " + table_.select_list() + " FROM " + table_.qualified_name + " WHERE true";
	const std::string tail = " ORDER BY " + table_.key_list() + " LIMIT " + std::to_string(kFetchRows);
	seen = cp.after_key;
	int64_t rows = 0;
	EncodedRow row;
	Key row_key;
	for (;;) {
		std::vector<SpiArg> args;
		const std::string sql = head + key_range_sql(seen, cp.through_key, args) + tail;
		uint64_t fetched = 0;
		try {
			in_transaction([&] {
				fetched = spi_exec(sql, args, true);
				pg_call([&] {
					MemoryContext old = MemoryContextSwitchTo(batch_context_);
					TupleDesc desc = SPI_tuptable->tupdesc;
					for (uint64 i = 0; i < fetched; i++) {
						HeapTuple tup = SPI_tuptable->vals[i];
						row_key = key_texts(table_, tup, desc);
						encode_row(table_, tup, desc, max_tuple, row);
						add(row);
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
		rows += static_cast<int64_t>(fetched);
		after_page();
		if (fetched < static_cast<uint64_t>(kFetchRows)) {
			return rows;
		}
	}
}

void Migration::copy(CheckpointRow &cp, size_t index) {
	bool traditional = p_.flags & kJobTraditional;
	// The phase says which range is being copied (it said "planning" through the whole copy).
	std::string phase = "checkpoint " + std::to_string(index + 1) + "/" + std::to_string(checkpoints_.size()) + ", " +
	                    range_display(cp);
	report_activity(phase);
	in_transaction([&] {
		mark_checkpoint(cp.id, "in_progress", "", 0, std::nullopt);
		set_phase(p_.job_id, phase);
	});
	UpsertTarget target{table_.def.name, {}, table_.def.primary_key};
	for (auto &c : table_.columns) {
		target.columns.push_back(c.name);
	}
	BatchPlanner planner(target, limits_from_gucs(static_cast<size_t>(p_.batch_size)));
	const size_t max_tuple = planner.max_tuple_bytes();
	// The range is claimed in D1 (in_progress) by the first statements of its first request:
	// no request of its own, and nothing of the range lands without the claim.
	std::vector<std::string> claim;
	if (!traditional) {
		claim = remote_ledger::claim_sql(table_.def.name, cp.start_id, cp.end_id);
	}
	// Requests go to the sender thread, so the next rows are read while D1 answers.
	const int64_t done_before = rows_done_;
	const size_t sent_before = sender_->rows_sent();
	auto send_ready = [&] {
		while (planner.has_request()) {
			Request req = planner.pop_request();
			size_t n = req.rows;
			std::vector<Statement> stmts = std::move(req).to_statements();
			if (!claim.empty()) {
				std::vector<Statement> head;
				for (auto &sql : claim) {
					head.push_back({std::move(sql), {}});
				}
				stmts.insert(stmts.begin(), std::make_move_iterator(head.begin()), std::make_move_iterator(head.end()));
				claim.clear();
			}
			sender_->submit(std::move(stmts), n);
		}
		rows_done_ = done_before + static_cast<int64_t>(sender_->rows_sent() - sent_before);
		check_for_interrupts();
		update_progress(false);
	};
	std::optional<Key> seen;
	int64_t rows = read_range(
	    cp, max_tuple,
	    [&](EncodedRow &row) {
		    if (row.params.empty()) {
			    planner.add_row(row.tuple);
		    } else {
			    planner.add_row_with_params(row.tuple, std::move(row.params));
		    }
	    },
	    send_ready, seen);
	std::optional<std::string> trailer;
	if (!traditional) {
		trailer = remote_ledger::complete_sql(table_.def.name, cp.start_id, cp.end_id, rows);
	}
	planner.finish(trailer);
	send_ready();
	sender_->drain(); // D1 acknowledged every request of the checkpoint, the trailer last
	sender_stats_ = sender_stats_done_;
	sender_stats_ += sender_client_->stats(); // the sender is idle after drain()
	rows_done_ = done_before + rows;
	cp.records = rows;
	cp.status = "completed";
	if (rows > 0) {
		cp.last_key = seen;
	}
	in_transaction([&] {
		mark_checkpoint(cp.id, "completed", "", rows, cp.last_key);
		reset_attempts(p_.job_id);
	});
	update_progress(true);
}

// ---- import (D1's import API) ------------------------------------------------------------------

// The ranges of one import file, with what was written for them.
struct Migration::FileGroup {
	int number = 0;
	std::vector<size_t> cps;                  // indexes into checkpoints_
	std::vector<int64_t> rows;                // rows written per range
	std::vector<std::optional<Key>> last;     // last key written per range
	std::unique_ptr<ImportFileWriter> writer; // removes the file when it goes
	ImportFile file;
	int attempts = 0; // imports of this file D1 rolled back
};

// method => 'auto': import a first load of a large table into an empty D1 table; batches of
// queries otherwise (D1 blocks every other query while it imports, and an import rewrites
// nothing it could have skipped).
void Migration::choose_method() {
	if (!(p_.flags & kJobAutoMethod)) {
		return;
	}
	bool any_completed = std::any_of(checkpoints_.begin(), checkpoints_.end(),
	                                 [](const CheckpointRow &cp) { return cp.status == "completed"; });
	bool import = !(p_.flags & kJobTraditional) && d1_empty_ && !any_completed && rows_total_ >= guc_import_min_rows;
	p_.flags = (p_.flags & ~uint32_t(kJobAutoMethod)) | (import ? uint32_t(kJobImport) : 0u);
	std::string why = import       ? "a first load of " + std::to_string(rows_total_) + " rows into an empty D1 table"
	                  : !d1_empty_ ? "the D1 table has rows"
	                  : any_completed                ? "checkpoints were completed before"
	                  : (p_.flags & kJobTraditional) ? "mode => 'traditional'"
	                                                 : std::to_string(rows_total_) +
	                                                       " rows, fewer than "
	                                                       "pg2d1.import_min_rows (" +
	                                                       std::to_string(guc_import_min_rows) + ")";
	in_transaction([&] { set_method(p_.job_id, import ? "import" : "query"); });
	pg_call([&] {
		ereport(LOG, (errmsg("pg2d1: job %lld: method 'auto' chose '%s': %s", static_cast<long long>(p_.job_id),
		                     import ? "import" : "query", why.c_str())));
	});
}

void Migration::refresh_import_phase(bool force) {
	if (!force && std::chrono::duration<double>(Clock::now() - last_phase_).count() < 0.5) {
		return;
	}
	last_phase_ = Clock::now();
	std::string phase = writing_phase_;
	if (importer_ && importer_->busy()) {
		ImportProgress ip = importer_->progress();
		phase +=
		    (phase.empty() ? "" : "; ") + std::string("import file ") + std::to_string(ip.number) + ": " + ip.status;
	}
	if (!phase.empty()) {
		set_job_phase(phase);
	}
}

// Writes the next ranges still to copy, from checkpoints_[next] on, into file g.number until
// the file reaches pg2d1.import_file_size (whole ranges only). False when none was left.
bool Migration::write_file(size_t &next, FileGroup &g) {
	while (next < checkpoints_.size() && checkpoints_[next].status == "completed") {
		next++;
	}
	if (next >= checkpoints_.size()) {
		return false;
	}
	UpsertTarget target{table_.def.name, {}, table_.def.primary_key};
	for (auto &c : table_.columns) {
		target.columns.push_back(c.name);
	}
	Limits file_limits = limits_from_gucs(0);
	file_limits.max_request_bytes = 1000000; // only how often statements go to the file
	file_limits.max_statements_per_request = 10000;
	g.file.number = g.number;
	g.file.path = import_file_path(import_dir_, p_.job_id, g.number);
	::unlink(g.file.path.c_str()); // a file of an earlier run of this job
	g.writer = std::make_unique<ImportFileWriter>(g.file.path);
	const uint64_t limit = static_cast<uint64_t>(guc_import_file_size) * 1024;
	while (next < checkpoints_.size() && g.writer->bytes() < limit) {
		CheckpointRow &cp = checkpoints_[next];
		if (cp.status == "completed") {
			next++;
			continue;
		}
		writing_phase_ = "import file " + std::to_string(g.number) + ": writing checkpoint " +
		                 std::to_string(next + 1) + "/" + std::to_string(checkpoints_.size());
		refresh_import_phase(true);
		in_transaction([&] { mark_checkpoint(cp.id, "in_progress", "", 0, std::nullopt); });
		BatchPlanner planner(target, file_limits);
		BatchPlanner side(target, limits_from_gucs(static_cast<size_t>(p_.batch_size)));
		auto write_ready = [&] {
			while (planner.has_request()) {
				for (auto &st : planner.pop_request().statements) {
					g.writer->write_statement(st);
				}
			}
			while (side.has_request()) {
				param_requests_.push_back(side.pop_request().to_statements());
			}
			check_for_interrupts();
			refresh_import_phase(false);
			update_progress(false);
		};
		std::optional<Key> seen;
		int64_t rows = read_range(
		    cp, planner.max_tuple_bytes(),
		    [&](EncodedRow &row) {
			    if (row.params.empty()) {
				    planner.add_row(row.tuple);
			    } else {
				    side.add_row_with_params(row.tuple, std::move(row.params)); // too large for a literal
			    }
		    },
		    write_ready, seen);
		planner.finish(remote_ledger::complete_sql(table_.def.name, cp.start_id, cp.end_id, rows));
		side.finish();
		write_ready();
		g.cps.push_back(next);
		g.rows.push_back(rows);
		g.last.push_back(rows > 0 ? seen : std::nullopt);
		next++;
	}
	g.writer->finish();
	g.file.md5 = g.writer->md5();
	g.file.bytes = g.writer->bytes();
	writing_phase_.clear();
	return true;
}

// Claims the file's ranges in D1 (in_progress) before its import, so D1's ledger saying
// completed for them can only come from this file; also sends the rows too large for a literal.
void Migration::claim_group(const FileGroup &g) {
	std::vector<Statement> stmts;
	auto flush = [&] {
		if (!stmts.empty()) {
			client_->batch(stmts);
			stmts.clear();
		}
	};
	for (size_t i : g.cps) {
		const CheckpointRow &cp = checkpoints_[i];
		for (auto &sql : remote_ledger::claim_sql(table_.def.name, cp.start_id, cp.end_id)) {
			stmts.push_back({sql, {}});
		}
		if (stmts.size() + 2 > static_cast<size_t>(guc_max_statements_per_request)) {
			flush();
		}
	}
	flush();
	while (!param_requests_.empty()) {
		client_->batch(param_requests_.front());
		param_requests_.erase(param_requests_.begin());
	}
}

// True when D1's ledger holds every range of the file as completed with the rows written for
// it: the import landed though its answer was lost.
bool Migration::group_in_d1(const FileGroup &g) {
	StatementResult r = client_->raw({remote_ledger::completed_ranges_sql(table_.def.name), {}});
	std::map<std::pair<int64_t, int64_t>, int64_t> done;
	for (auto &row : r.rows) {
		if (row.size() == 3 && row[0] && row[1] && row[2]) {
			done[{std::stoll(*row[0]), std::stoll(*row[1])}] = std::stoll(*row[2]);
		}
	}
	for (size_t k = 0; k < g.cps.size(); k++) {
		const CheckpointRow &cp = checkpoints_[g.cps[k]];
		auto it = done.find({cp.start_id, cp.end_id});
		if (it == done.end() || it->second != g.rows[k]) {
			return false;
		}
	}
	return true;
}

// D1 imported the file: its ranges are completed here too, and the file goes.
void Migration::complete_group(FileGroup &g) {
	int64_t rows = 0;
	in_transaction([&] {
		for (size_t k = 0; k < g.cps.size(); k++) {
			CheckpointRow &cp = checkpoints_[g.cps[k]];
			cp.records = g.rows[k];
			cp.status = "completed";
			cp.last_key = g.last[k];
			rows += g.rows[k];
			mark_checkpoint(cp.id, "completed", "", cp.records, cp.last_key);
		}
		reset_attempts(p_.job_id);
	});
	rows_done_ += rows;
	g.writer.reset(); // removes the file
	update_progress(true);
}

// Writes the ranges still to copy into files and has D1 import them one after the other,
// writing the next file while D1 imports the current one.
void Migration::import_all() {
	if (import_dir_.empty()) {
		import_dir_ = (guc_import_directory && guc_import_directory[0]) ? guc_import_directory
		                                                                : std::string(DataDir) + "/pg2d1_import";
	}
	ensure_import_directory(import_dir_);
	remove_import_files(import_dir_, [&](int64_t job) { return job == p_.job_id; });
	size_t next = 0;
	int number = 0;
	std::optional<FileGroup> running; // the file D1 imports now
	std::optional<FileGroup> ready;   // written, waiting for its turn
	auto start = [&](FileGroup &g) {
		claim_group(g);
		if (!importer_) {
			importer_.emplace(target_.config, interrupt_requested);
		}
		importer_->start(g.file);
		refresh_import_phase(true);
	};
	auto finish_running = [&] {
		for (;;) {
			try {
				(void)importer_->wait([&] {
					sleep_interruptibly(0.2);
					refresh_import_phase(false);
					update_progress(false);
				});
				complete_group(*running);
				running.reset();
				waits_ = 0;
				return;
			} catch (const Error &e) {
				if (interrupt_requested()) {
					throw;
				}
				import_stats_done_ += importer_->stats();
				importer_.reset(); // its thread stopped at the failure
				if (!e.retryable()) {
					for (size_t i : running->cps) {
						fail_checkpoint(checkpoints_[i], error_text(e));
					}
					if (ready) { // written, never claimed in D1: back to pending
						in_transaction([&] {
							for (size_t i : ready->cps) {
								mark_checkpoint(checkpoints_[i].id, "pending", "", 0, std::nullopt);
							}
						});
					}
					const CheckpointRow &first = checkpoints_[running->cps.front()];
					const CheckpointRow &last = checkpoints_[running->cps.back()];
					std::string ranges = running->cps.size() == 1 ? range_display(first)
					                                              : "checkpoints " + range_display(first) +
					                                                    " through " + range_display(last);
					throw Error(e.sqlstate(),
					            std::string(e.what()) + " (table \"" + table_.display_name + "\", " + ranges + ")",
					            e.detail(), e.hint());
				}
				pg_call([&] {
					ereport(LOG,
					        (errmsg("pg2d1: job %lld: import of file %d failed: %s", static_cast<long long>(p_.job_id),
					                running->number, describe_exception(e, ": ").c_str())));
				});
				// Retry: D1 rolled the file back, or its answer was lost; its ledger says which.
				for (;;) {
					try {
						if (group_in_d1(*running)) {
							complete_group(*running);
							running.reset();
							return;
						}
						if (++running->attempts > guc_max_retries) {
							running->attempts = 0;
							wait_out(e);
						}
						start(*running);
						break;
					} catch (const Error &e2) {
						if (interrupt_requested() || !e2.retryable()) {
							throw;
						}
						wait_out(e2);
					}
				}
			}
		}
	};
	for (;;) {
		if (!ready) {
			FileGroup g;
			g.number = ++number;
			if (write_file(next, g)) {
				ready.emplace(std::move(g));
			}
		}
		if (running) {
			finish_running();
		}
		if (!ready) {
			break;
		}
		running.emplace(std::move(*ready));
		ready.reset();
		for (;;) {
			try {
				start(*running);
				break;
			} catch (const Error &e) {
				if (interrupt_requested() || !e.retryable()) {
					throw;
				}
				wait_out(e);
			}
		}
	}
	if (importer_) {
		import_stats_done_ += importer_->stats();
		importer_.reset();
	}
	writing_phase_.clear();
}

// D1 is unreachable or overloaded past the retry budget: the job shows `waiting` with the
// reason and the next attempt, keeps its place, and goes on by itself.
void Migration::wait_out(const Error &e) {
	report_activity("waiting for D1");
	wait_for_d1(p_.job_id, waits_, e);
	// The sender stopped at its failure; the client's pause may be long past: start afresh.
	client_.emplace(target_.config, interrupt_requested);
	start_sender();
}

void Migration::fail_checkpoint(CheckpointRow &cp, const std::string &message) {
	abort_transaction();
	if (!(p_.flags & kJobTraditional)) {
		mark_remote_failed(cp, message);
	}
	in_transaction([&] { mark_checkpoint(cp.id, "failed", message, 0, std::nullopt); });
}

void Migration::run() {
	if (!claim_job()) {
		return;
	}
	wait_for_dependency();
	for (;;) {
		try {
			prepare();
			break;
		} catch (const Error &e) {
			if (interrupt_requested() || !e.retryable()) {
				throw;
			}
			wait_out(e);
		}
	}
	choose_method();
	if (p_.flags & kJobImport) {
		import_all();
	}
	for (size_t i = 0; i < checkpoints_.size(); i++) {
		CheckpointRow &cp = checkpoints_[i];
		if (cp.status == "completed") {
			continue;
		}
		try {
			copy(cp, i);
			waits_ = 0;
		} catch (const Error &e) {
			if (interrupt_requested()) {
				throw; // shutdown or cancel: the checkpoint is resumed later, not failed
			}
			if (e.retryable()) {
				wait_out(e);
				i--; // the same checkpoint again (copies are idempotent upserts)
				continue;
			}
			fail_checkpoint(cp, error_text(e));
			std::string where = " (table \"" + table_.display_name + "\", checkpoint " + range_display(cp) + ")";
			throw Error(e.sqlstate(), std::string(e.what()) + where, e.detail(), e.hint());
		} catch (const PgError &e) {
			if (interrupt_requested()) {
				throw;
			}
			fail_checkpoint(cp, error_text(e));
			throw;
		}
	}
	// Secondary indexes are cheaper to build once the rows are in.
	DdlResult ddl = translate_table(table_.def, ddl_options_);
	if (ddl.statements.size() > 1) {
		set_job_phase("building indexes");
		std::vector<Statement> idx;
		for (size_t i = 1; i < ddl.statements.size(); i++) {
			idx.push_back({ddl.statements[i], {}});
		}
		for (;;) {
			try {
				client_->batch(idx);
				break;
			} catch (const Error &e) {
				if (interrupt_requested()) {
					throw;
				}
				if (!e.retryable()) {
					report_duplicates(e);
					throw;
				}
				wait_out(e);
			}
		}
	}
	update_progress(true);
	if (p_.flags & kJobVerify) {
		verify();
	}
	in_transaction([&] { (void)finish_job(p_.job_id, rows_done_); }); // no-op when cancelled meanwhile
	report_activity("completed");
}

// A UNIQUE index D1 could not build: names the duplicate keys (the first five of each such
// index) instead of SQLite's bare "UNIQUE constraint failed".
void Migration::report_duplicates(const Error &e) {
	std::string found;
	for (auto &ix : table_.def.indexes) {
		if (!ix.unique || ix.columns.empty()) {
			continue;
		}
		std::string cols;
		for (auto &c : ix.columns) {
			cols += (cols.empty() ? "" : ", ") + quote_ident(c);
		}
		StatementResult r;
		try {
			r = client_->raw({"SELECT " + cols + ", count(*) FROM " + quote_ident(table_.def.name) + " WHERE " +
			                      [&] {
				                      std::string w;
				                      for (auto &c : ix.columns) {
					                      w += (w.empty() ? "" : " AND ") + quote_ident(c) + " IS NOT NULL";
				                      }
				                      return w;
			                      }() +
			                      " GROUP BY " + cols + " HAVING count(*) > 1 LIMIT 5",
			                  {}});
		} catch (const std::exception &) {
			continue;
		}
		for (auto &row : r.rows) {
			std::string v;
			for (size_t i = 0; i + 1 < row.size(); i++) {
				v += (v.empty() ? "" : ", ") + (row[i] ? *row[i] : std::string("NULL"));
			}
			found += (found.empty() ? "" : "; ") + ix.name + " (" + cols + ") = (" + v + ") " +
			         (row.back() ? *row.back() : std::string("?")) + " times";
		}
	}
	if (found.empty()) {
		return;
	}
	throw Error("23505",
	            "D1 cannot build the unique indexes of \"" + table_.display_name +
	                "\" after the load: duplicate values",
	            found + ". D1 said: " + e.what() + (e.detail().empty() ? "" : " " + e.detail()),
	            "Remove the duplicates in PostgreSQL (or drop the UNIQUE index there) and run pg2d1_migrate again; "
	            "the rows are in D1, only the index is missing.");
}

// Reads both sides back (verify.hpp), committing between ranges, and records the verdict; a
// difference fails the job.
void Migration::verify() {
	set_job_phase("verifying");
	VerifySummary sum;
	in_transaction([&] {
		sum = verify_table(
		    table_, *client_, p_.checkpoint_size, [](const VerifyRange &) {},
		    [] {
			    commit_transaction();
			    begin_transaction();
		    });
	});
	in_transaction([&] { set_verify_result(p_.job_id, sum.ok(), sum.text()); });
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
