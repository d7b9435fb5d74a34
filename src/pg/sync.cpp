// sync.cpp — the sync job run by a pg2d1 worker (see sync.hpp): applies the changes the
// capture trigger logged in pg2d1.changes to D1, round by round.
// Must never delete a change row before D1 acknowledged the requests that applied its key
// (a crash in between applies it again: every write is the key's current state, so that is
// harmless), never write the table while a migration worker copies it (the table lock is
// taken for each round), and never apply a row to a D1 table whose columns no longer match
// the table's (the sync stops with the change named).
// Called by pg2d1_worker_main in worker.cpp.
#include "sync.hpp"

#include "boundary.hpp"
#include "catalog.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "job_store.hpp"
#include "migrate.hpp"
#include "rows.hpp"
#include "spi_guarded.hpp"
#include "txn.hpp"
#include "verify.hpp"
#include "core/async_sender.hpp"
#include "core/request_sizer.hpp"
#include "core/batch_planner.hpp"
#include "core/d1_schema.hpp"
#include "core/error.hpp"
#include "core/sqlite_encode.hpp"
#include "core/sync_sql.hpp"

extern "C" {
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"
}

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <unordered_set>

namespace pg2d1 {
namespace {

using Clock = std::chrono::steady_clock;
using Key = std::vector<std::string>;
constexpr long kRoundChanges = 20000;            // change rows read per round
constexpr size_t kLookupKeys = 5000;             // keys looked up in PostgreSQL per query
constexpr size_t kKeyPage = 10000;               // D1 keys per page when reconciling
constexpr long kComparePage = 5000;              // PostgreSQL rows compared with D1 per request
constexpr size_t kCompareStatementBytes = 90000; // under D1's 100 KB statement limit
constexpr double kBusySleepS = 1;                // a migration worker holds the table
constexpr size_t kSenderQueue = 1;               // upsert requests waiting for the sender thread

enum class Round { Applied, Empty, Busy };

class Sync {
  public:
	explicit Sync(const JobParams &p) : p_(p) {}
	void run();

  private:
	bool claim();
	void prepare();
	Round round(int64_t &up_to);
	struct KeySql {
		std::string unnest_args; // unnest($1::text[]), … — one text array per key column
		std::string alias;       // pg2d1_k0, …
		std::string match_u;     // pg2d1_t.a = pg2d1_u.pg2d1_k0::type AND …
		std::string match_d;     // pg2d1_t.a = pg2d1_d.a AND …
		std::string casts;       // pg2d1_u.pg2d1_k0::type AS a, …
		std::string d1_exprs;    // each key column's select_expr (D1's form)
	};
	KeySql key_sql() const;
	std::vector<SpiArg> key_args(const std::vector<Key> &keys, size_t from, size_t to) const;
	void apply(const std::vector<Key> &keys, bool truncate, int64_t &upserts, int64_t &deletes);
	std::vector<Key> gone_keys(const std::vector<Key> &keys);
	int64_t upsert_present(const std::vector<Key> &keys);
	void start_sender();
	void reconcile();
	void send(std::vector<Statement> statements);
	bool lock_table();
	void unlock_table() noexcept;
	bool check_sync();
	void report_activity(const std::string &phase);
	void update_progress(bool force);
	template <typename F> void with_d1_retry(F &&f);

	JobParams p_;
	Target target_;
	SourceTable table_;
	std::optional<D1Client> client_;        // bookkeeping, deletes and reconcile reads
	std::optional<D1Client> sender_client_; // upserts, on the sender thread only
	std::optional<RequestSizer> sizer_;     // used on the sender thread only
	std::optional<AsyncSender> sender_;     // declared after its client: destroyed first
	ClientStats sender_stats_;              // of sender clients already replaced
	MemoryContext ctx_ = nullptr;
	int64_t applied_ = 0; // D1 writes: upserts, deletes and truncates
	int waits_ = 0;
	Clock::time_point last_progress_ = Clock::now();
	bool locked_ = false;
};

void Sync::report_activity(const std::string &phase) {
	std::string activity = "pg2d1 sync job " + std::to_string(p_.job_id) + ": " + table_.display_name + ": " + phase;
	pg_call([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
}

void Sync::update_progress(bool force) {
	if (!force && std::chrono::duration<double>(Clock::now() - last_progress_).count() < 0.5) {
		return;
	}
	last_progress_ = Clock::now();
	JobProgress pr;
	pr.rows_done = applied_;
	ClientStats st = sender_stats_;
	if (client_) {
		st += client_->stats();
	}
	if (sender_client_ && sender_) {
		st += sender_client_->stats(); // read while the sender is idle (after drain)
	}
	pr.requests = static_cast<int64_t>(st.requests);
	pr.retries = static_cast<int64_t>(st.retries);
	pr.bytes_sent = static_cast<int64_t>(st.bytes_sent);
	struct rusage ru;
	pr.peak_rss_kb = getrusage(RUSAGE_SELF, &ru) == 0 ? static_cast<int64_t>(ru.ru_maxrss) : 0;
	in_transaction([&] { pg2d1::update_progress(p_.job_id, pr); });
}

// Runs f, waiting out D1 outages (the job shows `waiting`) and trying again.
template <typename F> void Sync::with_d1_retry(F &&f) {
	for (;;) {
		try {
			f();
			waits_ = 0;
			return;
		} catch (const Error &e) {
			if (interrupt_requested() || !e.retryable()) {
				throw;
			}
			unlock_table();
			report_activity("waiting for D1");
			wait_for_d1(p_.job_id, waits_, e);
			if (client_) {
				sender_stats_ += client_->stats();
			}
			client_.emplace(target_.config, interrupt_requested);
		}
	}
}

// The sync lock (one sync worker per table) and the job row.
bool Sync::claim() {
	std::string other_version;
	bool locked = false;
	in_transaction([&] {
		other_version = extension_version_mismatch();
		if (other_version.empty()) {
			spi_exec("SELECT pg_catalog.pg_try_advisory_lock($1)", {int8_arg(sync_lock_key(p_.relid))});
			locked = get_bool(0, 1);
		}
	});
	if (!other_version.empty() || !locked) {
		pg_call([&] {
			ereport(LOG, (errmsg("pg2d1: sync job %lld: %s; this worker exits", static_cast<long long>(p_.job_id),
			                     other_version.empty() ? "another worker syncs the table"
			                                           : "the extension's SQL is another version")));
		});
		return false;
	}
	return take_job_row(p_, table_);
}

// Throws when the sync was disabled or stopped, or the table's columns changed (which stops it).
// True when a reconcile is due.
bool Sync::check_sync() {
	std::optional<SyncRow> s = load_sync(p_.relid);
	if (!s) {
		throw Error("55000", "sync of " + table_.display_name + " is not enabled", {},
		            "SELECT pg2d1_enable_sync('" + table_.display_name + "');");
	}
	if (s->status == "enabled" && s->columns_now != s->columns) {
		std::string reason = "the columns of " + table_.display_name + " changed from (" + s->columns + ") to (" +
		                     s->columns_now + "); D1's table has the old ones";
		stop_sync(p_.relid, reason);
		commit_transaction(); // keep the stop
		begin_transaction();
		s->status = "stopped";
		s->stop_reason = reason;
	}
	if (s->status != "enabled") {
		throw Error("55000", "sync of " + table_.display_name + " is stopped: " + s->stop_reason, {},
		            "Change the D1 table to match (pg2d1_ddl shows it), then call pg2d1_enable_sync('" +
		                table_.display_name + "') again: it compares D1 with the table and writes what differs.");
	}
	return s->reconcile;
}

void Sync::prepare() {
	report_activity("preparing");
	in_transaction([&] {
		table_ = load_source_table(p_.relid);
		(void)check_sync();
		target_ = resolve_target(p_.target[0] ? std::optional<std::string>(p_.target) : std::nullopt);
		set_phase(p_.job_id, "preparing");
	});
	if (ctx_ == nullptr) {
		ctx_ = pg_call([] { return AllocSetContextCreate(TopMemoryContext, "pg2d1 sync", ALLOCSET_DEFAULT_SIZES); });
	}
	client_.emplace(target_.config, interrupt_requested);
	std::vector<std::string> d1_tables = d1_table_names(*client_);
	if (std::find(d1_tables.begin(), d1_tables.end(), table_.def.name) == d1_tables.end()) {
		throw Error("55000", "D1 has no table \"" + table_.def.name + "\" to sync " + table_.display_name + " into", {},
		            "Copy the table first: SELECT pg2d1_migrate('" + table_.display_name + "');");
	}
	check_d1_table_matches(*client_, table_.def, table_.display_name);
	in_transaction([&] { reset_attempts(p_.job_id); });
}

bool Sync::lock_table() {
	in_transaction([&] {
		spi_exec("SELECT pg_catalog.pg_try_advisory_lock($1)", {int8_arg(table_lock_key(p_.relid))});
		locked_ = get_bool(0, 1);
	});
	return locked_;
}

void Sync::unlock_table() noexcept {
	if (!locked_) {
		return;
	}
	abort_transaction();
	try {
		in_transaction(
		    [&] { spi_exec("SELECT pg_catalog.pg_advisory_unlock($1)", {int8_arg(table_lock_key(p_.relid))}); });
		locked_ = false;
	} catch (...) {
		abort_transaction(); // the lock goes with the process at worst
	}
}

// The D1 literals of the keys PostgreSQL no longer has (index probes only).
std::vector<Key> Sync::gone_keys(const std::vector<Key> &keys) {
	const KeySql k = key_sql();
	std::vector<Key> out;
	for (size_t from = 0; from < keys.size(); from += kLookupKeys) {
		size_t to = std::min(keys.size(), from + kLookupKeys);
		std::vector<SpiArg> args = key_args(keys, from, to);
		in_transaction([&] {
			uint64 m = spi_exec("SELECT " + k.d1_exprs + " FROM (SELECT " + k.casts + " FROM ROWS FROM (" +
			                        k.unnest_args + ") AS pg2d1_u(" + k.alias +
			                        ")) AS pg2d1_d WHERE NOT EXISTS (SELECT "
			                        "FROM " +
			                        table_.qualified_name + " AS pg2d1_t WHERE " + k.match_d + ")",
			                    args, true);
			const size_t nk = table_.key_columns.size();
			pg_call([&] {
				TupleDesc desc = SPI_tuptable->tupdesc;
				for (uint64 i = 0; i < m; i++) {
					HeapTuple tup = SPI_tuptable->vals[i];
					out.emplace_back();
					for (size_t c = 0; c < nk; c++) {
						bool isnull;
						Datum d = SPI_getbinval(tup, desc, static_cast<int>(c) + 1, &isnull);
						std::string lit;
						append_d1_literal(lit, table_.columns[table_.key_columns[c]], d);
						out.back().push_back(std::move(lit));
					}
				}
			});
		});
	}
	return out;
}

// The current rows of the keys still present, as upserts streamed to the sender thread
// while the next keys are read.
int64_t Sync::upsert_present(const std::vector<Key> &keys) {
	UpsertTarget target{table_.def.name, {}, table_.def.primary_key};
	for (auto &c : table_.columns) {
		target.columns.push_back(c.name);
	}
	BatchPlanner planner(target, limits_from_gucs(static_cast<size_t>(p_.batch_size)));
	const size_t max_tuple = planner.max_tuple_bytes();
	const KeySql k = key_sql();
	int64_t upserts = 0;
	EncodedRow row;
	start_sender();
	auto submit_ready = [&] {
		while (planner.has_request()) {
			Request req = planner.pop_request();
			size_t n = req.rows;
			sender_->submit(std::move(req).to_statements(), n);
		}
	};
	for (size_t from = 0; from < keys.size(); from += kLookupKeys) {
		size_t to = std::min(keys.size(), from + kLookupKeys);
		std::vector<SpiArg> args = key_args(keys, from, to);
		in_transaction([&] {
			// The table as alias pg2d1_t: select_list() names its columns unqualified.
			uint64 n =
			    spi_exec("SELECT " + table_.select_list() + " FROM ROWS FROM (" + k.unnest_args + ") AS pg2d1_u(" +
			                 k.alias + ") JOIN " + table_.qualified_name + " AS pg2d1_t ON " + k.match_u,
			             args, true);
			pg_call([&] {
				MemoryContext old = MemoryContextSwitchTo(ctx_);
				TupleDesc desc = SPI_tuptable->tupdesc;
				for (uint64 i = 0; i < n; i++) {
					encode_row(table_, SPI_tuptable->vals[i], desc, max_tuple, row);
					if (row.params.empty()) {
						planner.add_row(row.tuple);
					} else {
						planner.add_row_with_params(row.tuple, std::move(row.params));
					}
				}
				MemoryContextSwitchTo(old);
				MemoryContextReset(ctx_);
			});
			upserts += static_cast<int64_t>(n);
		});
		submit_ready();
		check_for_interrupts();
	}
	planner.finish();
	submit_ready();
	sender_->drain(); // D1 acknowledged every upsert of the round
	return upserts;
}

Sync::KeySql Sync::key_sql() const {
	KeySql k;
	for (size_t i = 0; i < table_.key_columns.size(); i++) {
		const SourceColumn &c = table_.columns[table_.key_columns[i]];
		std::string u = "pg2d1_k" + std::to_string(i);
		std::string cast = "pg2d1_u." + u + "::" + c.type_sql;
		k.unnest_args +=
		    std::string(i ? ", " : "") + "pg_catalog.unnest($" + std::to_string(i + 1) + "::pg_catalog.text[])";
		k.alias += std::string(i ? ", " : "") + u;
		k.match_u += std::string(i ? " AND " : "") + "pg2d1_t." + quote_ident(c.name) + " = " + cast;
		k.match_d +=
		    std::string(i ? " AND " : "") + "pg2d1_t." + quote_ident(c.name) + " = pg2d1_d." + quote_ident(c.name);
		k.casts += std::string(i ? ", " : "") + cast + " AS " + quote_ident(c.name);
		k.d1_exprs += std::string(i ? ", " : "") + c.select_expr;
	}
	return k;
}

std::vector<SpiArg> Sync::key_args(const std::vector<Key> &keys, size_t from, size_t to) const {
	std::vector<SpiArg> args;
	for (size_t c = 0; c < table_.key_columns.size(); c++) {
		std::vector<std::string> col;
		col.reserve(to - from);
		for (size_t i = from; i < to; i++) {
			col.push_back(keys[i][c]);
		}
		args.push_back(text_array_arg(col));
	}
	return args;
}

void Sync::start_sender() {
	if (sender_client_) {
		sender_stats_ += sender_client_->stats();
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
	auto token = sender_->stop_token();
	D1Config config = target_.config;
	config.size_failures_fail_fast = true; // the sizer splits such a request instead of resending it whole
	sender_client_.emplace(config, [token] { return interrupt_requested() || token->load(); });
	if (!sizer_) {
		Limits lim = limits_from_gucs(0);
		sizer_.emplace(lim.max_request_bytes, lim.max_statements_per_request);
	}
}

void Sync::send(std::vector<Statement> statements) {
	Limits lim = limits_from_gucs(0);
	for (auto &req : pack_requests(std::move(statements), lim.max_statements_per_request, lim.max_request_bytes)) {
		client_->batch(req);
		check_for_interrupts();
	}
}

// Deletes first (a key that moved frees its old key before the new one is written), then
// the upserts of the keys' current rows.
void Sync::apply(const std::vector<Key> &keys, bool truncate, int64_t &upserts, int64_t &deletes) {
	std::vector<Key> gone = truncate ? std::vector<Key>{} : gone_keys(keys);
	deletes += static_cast<int64_t>(gone.size());
	std::vector<Statement> first;
	if (truncate) {
		first.push_back({"DELETE FROM " + quote_ident(table_.def.name), {}});
	}
	std::vector<std::string> key_names;
	for (int k : table_.key_columns) {
		key_names.push_back(table_.columns[k].name);
	}
	for (auto &s : delete_statements(table_.def.name, key_names, gone,
	                                 static_cast<size_t>(limits_from_gucs(0).max_statement_bytes))) {
		first.push_back({std::move(s), {}});
	}
	send(std::move(first));
	upserts += upsert_present(keys);
}

Round Sync::round(int64_t &up_to) {
	if (!lock_table()) {
		return Round::Busy;
	}
	std::vector<Change> changes;
	try {
		bool reconcile_now = false;
		in_transaction([&] {
			reconcile_now = check_sync();
			if (!reconcile_now) {
				changes = fetch_changes(p_.relid, up_to, kRoundChanges);
			}
		});
		if (reconcile_now) {
			// Under the table lock: never while a copy writes the table.
			reconcile();
			if (up_to != INT64_MAX) {
				in_transaction([&] {
					up_to = max_change_id(p_.relid);
					set_rows_total(p_.job_id, pending_changes(p_.relid, up_to));
					set_phase(p_.job_id, "applying changes");
				});
			}
			unlock_table();
			return Round::Applied;
		}
		if (changes.empty()) {
			unlock_table();
			return Round::Empty;
		}
		// After a TRUNCATE only the keys changed later matter (change ids follow the order of
		// the statements: TRUNCATE locks the table against every other writer).
		size_t from = 0;
		bool truncate = false;
		for (size_t i = 0; i < changes.size(); i++) {
			if (changes[i].op == 'T') {
				truncate = true;
				from = i + 1;
			}
		}
		std::vector<Key> keys;
		std::unordered_set<std::string> seen;
		std::string joined;
		for (size_t i = from; i < changes.size(); i++) {
			if (changes[i].key.size() != table_.key_columns.size()) {
				continue; // logged under another key: the stop for it is reported by check_sync
			}
			joined.clear();
			for (auto &v : changes[i].key) {
				joined += v;
				joined.push_back('\0');
			}
			if (seen.insert(joined).second) {
				keys.push_back(changes[i].key);
			}
		}
		report_activity("applying " + std::to_string(keys.size()) + " changed keys");
		int64_t upserts = 0, deletes = 0;
		apply(keys, truncate, upserts, deletes);
		std::vector<int64_t> ids;
		ids.reserve(changes.size());
		for (auto &c : changes) {
			ids.push_back(c.id);
		}
		in_transaction([&] {
			finish_changes(p_.relid, ids, upserts, deletes, truncate ? 1 : 0);
			reset_attempts(p_.job_id);
		});
		applied_ += upserts + deletes + (truncate ? 1 : 0);
		unlock_table();
		update_progress(false);
		return Round::Applied;
	} catch (...) {
		unlock_table();
		throw;
	}
}

// D1 may hold rows that changed before capture began (sync enabled during or after a copy,
// re-enabled, or restored): every row of both sides is compared in verify's canonical form
// (D1 is only read), and the keys that differ — rows missing or different in D1, rows D1
// has and PostgreSQL has not — are logged as changes for the rounds that follow.
void Sync::reconcile() {
	in_transaction([&] { set_phase(p_.job_id, "reconciling: comparing every row with D1"); });
	report_activity("reconciling: comparing PostgreSQL's rows with D1's");
	const size_t nk = table_.key_columns.size();
	std::string d1_exprs, d1_key_list;
	for (auto &c : table_.columns) {
		d1_exprs += (d1_exprs.empty() ? "" : ", ") + d1_canonical_expr(c);
	}
	std::vector<std::string> key_names;
	for (int k : table_.key_columns) {
		key_names.push_back(table_.columns[k].name);
		d1_key_list += (d1_key_list.empty() ? "" : ",") + quote_ident(table_.columns[k].name);
	}
	if (nk > 1) {
		d1_key_list = "(" + d1_key_list + ")";
	}
	const std::string d1_table = quote_ident(table_.def.name);
	auto key_of = [&](const std::vector<std::optional<std::string>> &cells) {
		std::string k;
		for (int c : table_.key_columns) {
			k += cells[c] ? *cells[c] : std::string();
			k.push_back('\0');
		}
		return k;
	};
	int64_t compared = 0, differing = 0, extra = 0;

	// 1. PostgreSQL's rows, a page at a time in key order, against D1's rows of the same keys.
	std::optional<Key> after;
	for (;;) {
		std::vector<SpiArg> args;
		std::string where;
		if (after) {
			where = " WHERE " + table_.key_compare(">", 1);
			for (auto &v : *after) {
				args.push_back(text_arg(v));
			}
		}
		std::vector<std::vector<std::optional<std::string>>> pg_rows;
		std::vector<Key> pg_keys;
		std::vector<std::string> lits;
		in_transaction([&] {
			uint64 n = spi_exec("SELECT " + table_.select_list() + " FROM " + table_.qualified_name + where +
			                        " ORDER BY " + table_.key_list() + " LIMIT " + std::to_string(kComparePage),
			                    args, true);
			std::vector<std::optional<std::string>> cells;
			for (uint64 i = 0; i < n; i++) {
				HeapTuple tup = pg_call([&] { return SPI_tuptable->vals[i]; });
				TupleDesc desc = pg_call([&] { return SPI_tuptable->tupdesc; });
				canonical_row(table_, tup, desc, cells);
				pg_rows.push_back(cells);
				pg_keys.push_back(key_texts(table_, tup, desc));
				lits.push_back(d1_key_literals(table_, tup, desc));
			}
		});
		if (pg_rows.empty()) {
			break;
		}
		after = pg_keys.back();
		// D1's rows of these keys, in statements under D1's size limit, one request.
		std::vector<Statement> stmts;
		std::string in;
		auto close = [&] {
			if (!in.empty()) {
				stmts.push_back({"SELECT " + d1_exprs + " FROM " + d1_table + " WHERE " + d1_key_list + " IN (" +
				                     (nk > 1 ? "VALUES " : "") + in + ")",
				                 {}});
				in.clear();
			}
		};
		size_t terms = 0;
		for (auto &l : lits) {
			if (in.size() + l.size() + d1_exprs.size() + 200 > kCompareStatementBytes || terms >= kMaxInListTerms) {
				close();
				terms = 0;
			}
			in += (in.empty() ? "" : ",") + l;
			terms++;
		}
		close();
		std::vector<StatementResult> results;
		with_d1_retry([&] { results = client_->batch(stmts); });
		std::unordered_map<std::string, std::vector<std::optional<std::string>>> d1_rows;
		for (auto &r : results) {
			for (auto &row : r.rows) {
				if (row.size() == table_.columns.size()) {
					std::string k = key_of(row);
					d1_rows.emplace(std::move(k), std::move(row));
				}
			}
		}
		std::vector<std::vector<std::string>> cols(nk);
		for (size_t i = 0; i < pg_rows.size(); i++) {
			auto it = d1_rows.find(key_of(pg_rows[i]));
			if (it == d1_rows.end() || it->second != pg_rows[i]) {
				for (size_t k = 0; k < nk; k++) {
					cols[k].push_back(pg_keys[i][k]);
				}
			}
		}
		compared += static_cast<int64_t>(pg_rows.size());
		differing += static_cast<int64_t>(cols[0].size());
		if (!cols[0].empty()) {
			in_transaction([&] { log_changes(p_.relid, 'R', cols); });
		}
		report_activity("reconciling: " + std::to_string(compared) + " rows compared, " + std::to_string(differing) +
		                " differ");
		check_for_interrupts();
		if (pg_rows.size() < static_cast<size_t>(kComparePage)) {
			break;
		}
	}

	// 2. D1's keys, in SQLite's order, that PostgreSQL no longer has: deleted by the rounds.
	report_activity("reconciling: looking for rows only D1 has");
	for (int k : table_.key_columns) {
		if (table_.columns[k].kind == ValueKind::Blob) {
			throw Error("0A000",
			            "pg2d1 cannot reconcile " + table_.display_name + ": its key has a bytea column (\"" +
			                table_.columns[k].name + "\")",
			            {},
			            "Re-copy the table instead: SELECT pg2d1_migrate('" + table_.display_name +
			                "', resume => false); after DELETE FROM it in D1.");
		}
	}
	std::optional<std::vector<std::string>> after_lits;
	const KeySql ks = key_sql();
	for (;;) {
		StatementResult r;
		with_d1_retry([&] {
			r = client_->raw({d1_key_page_sql(table_.def.name, key_names, after_lits, kKeyPage), {}});
		});
		std::vector<Key> d1_keys;
		for (auto &row : r.rows) {
			bool ok = row.size() == nk;
			for (auto &cell : row) {
				ok = ok && cell.has_value();
			}
			if (ok) {
				Key k;
				for (auto &cell : row) {
					k.push_back(*cell);
				}
				d1_keys.push_back(std::move(k));
			}
		}
		if (!d1_keys.empty()) {
			after_lits = std::vector<std::string>();
			for (size_t k = 0; k < nk; k++) {
				std::string lit;
				if (table_.columns[table_.key_columns[k]].kind == ValueKind::Integer) {
					append_integer_literal(lit, std::stoll(d1_keys.back()[k]));
				} else {
					append_text_literal(lit, d1_keys.back()[k]);
				}
				after_lits->push_back(lit);
			}
			std::vector<std::vector<std::string>> cols(nk);
			in_transaction([&] {
				uint64 m = spi_exec("SELECT pg2d1_u.pg2d1_n FROM ROWS FROM (" + ks.unnest_args +
				                        ") WITH ORDINALITY AS pg2d1_u(" + ks.alias +
				                        ", pg2d1_n) WHERE NOT EXISTS (SELECT "
				                        "FROM " +
				                        table_.qualified_name + " AS pg2d1_t WHERE " + ks.match_u + ")",
				                    key_args(d1_keys, 0, d1_keys.size()), true);
				for (uint64 i = 0; i < m; i++) {
					const Key &k = d1_keys[static_cast<size_t>(get_int64(i, 1) - 1)];
					for (size_t c = 0; c < nk; c++) {
						cols[c].push_back(k[c]);
					}
				}
				if (m > 0) {
					log_changes(p_.relid, 'R', cols);
				}
				extra += static_cast<int64_t>(m);
			});
		}
		check_for_interrupts();
		if (r.rows.size() < kKeyPage) {
			break;
		}
	}
	in_transaction([&] { end_reconcile(p_.relid); });
	pg_call([&] {
		ereport(
		    LOG,
		    (errmsg("pg2d1: sync job %lld reconciled %s: %lld rows compared, %lld differ in D1, %lld only in D1",
		            static_cast<long long>(p_.job_id), table_.display_name.c_str(), static_cast<long long>(compared),
		            static_cast<long long>(differing), static_cast<long long>(extra))));
	});
}

void Sync::run() {
	if (!claim()) {
		return;
	}
	const bool follow = p_.flags & kJobFollow;
	with_d1_retry([&] { prepare(); });
	int64_t up_to = INT64_MAX;
	bool woken = false;
	if (!follow) {
		in_transaction([&] {
			up_to = max_change_id(p_.relid);
			set_rows_total(p_.job_id, pending_changes(p_.relid, up_to));
			set_phase(p_.job_id, "applying changes");
		});
	} else {
		woken = register_follower(p_.relid);
		in_transaction([&] { set_phase(p_.job_id, woken ? "following" : "following (polling: pg2d1 not preloaded)"); });
	}
	// Without shared memory (pg2d1 not preloaded) a follower polls.
	const long idle_ms = woken ? 10000 : 500;
	for (;;) {
		pg_call([] { ResetLatch(MyLatch); });
		Round r = Round::Empty;
		with_d1_retry([&] { r = round(up_to); });
		if (r == Round::Applied) {
			continue;
		}
		if (r == Round::Busy) {
			report_activity("waiting for the migration of the table");
			sleep_interruptibly(kBusySleepS);
			continue;
		}
		if (!follow) {
			break;
		}
		update_progress(true);
		report_activity("following: up to date");
		pg_call([&] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, idle_ms, PG_WAIT_EXTENSION);
			CHECK_FOR_INTERRUPTS();
		});
	}
	update_progress(true);
	in_transaction([&] { (void)finish_job(p_.job_id, applied_); });
	report_activity("completed");
}

} // namespace

void run_sync_job(const JobParams &params) {
	apply_settings(params);
	pg_call([] {
		set_fixed_output_settings(GUC_ACTION_SET);
		// Key lookups of a few thousand keys: parallel workers cost more than they bring.
		(void)set_config_option("max_parallel_workers_per_gather", "0", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET,
		                        true, 0, false);
	});
	Sync s(params);
	try {
		s.run();
	} catch (...) {
		unregister_follower();
		throw;
	}
	unregister_follower();
}

} // namespace pg2d1
