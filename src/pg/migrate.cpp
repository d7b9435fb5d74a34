// migrate.cpp — the migration driver: plans checkpoints by keyset on the primary key,
// streams rows through an SPI cursor into the batch planner, sends requests to D1, and
// keeps the remote (migration_checkpoints) and local (pg2d1.*) ledgers.
// Must never mark a checkpoint completed unless D1 acknowledged the request carrying its
// last rows (the completion UPDATE rides in that same, atomic request).
// Called by pg2d1_migrate in functions.cpp.
#include "migrate.hpp"

#include "boundary.hpp"
#include "catalog.hpp"
#include "guc.hpp"
#include "core/batch_planner.hpp"
#include "core/error.hpp"
#include "core/sqlite_encode.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
}

#include <chrono>
#include <map>
#include <utility>

namespace pg2d1 {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
	return std::chrono::duration<double>(Clock::now() - t0).count();
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

// Where the encoder is, so an error can name the row and column.
struct EncodePosition {
	int column = -1;
	int64_t key = 0;
};

int64_t integer_value(Oid base_type, Datum d) {
	switch (base_type) {
	case INT2OID:
		return DatumGetInt16(d);
	case INT4OID:
		return DatumGetInt32(d);
	case OIDOID:
		return DatumGetObjectId(d);
	default:
		return DatumGetInt64(d);
	}
}

// Appends one value's SQLite literal. Runs inside pg_call (may elog).
void append_value(std::string &out, const SourceColumn &col, Datum d) {
	switch (col.kind) {
	case ValueKind::Integer:
		append_integer_literal(out, integer_value(col.base_type_oid, d));
		return;
	case ValueKind::Boolean:
		out.push_back(DatumGetBool(d) ? '1' : '0');
		return;
	case ValueKind::Real:
		append_real_literal(out, col.base_type_oid == FLOAT4OID ? static_cast<double>(DatumGetFloat4(d))
		                                                        : DatumGetFloat8(d));
		return;
	case ValueKind::Blob: {
		bytea *b = DatumGetByteaPP(d);
		append_blob_literal(out, reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
		return;
	}
	case ValueKind::Text:
		break;
	}
	const char *s;
	size_t len;
	if (col.plain_text) {
		text *t = DatumGetTextPP(d);
		s = VARDATA_ANY(t);
		len = VARSIZE_ANY_EXHDR(t);
	} else {
		s = OidOutputFunctionCall(col.output_fn, d);
		len = strlen(s);
	}
	if (GetDatabaseEncoding() != PG_UTF8) {
		s = pg_server_to_any(s, static_cast<int>(len), PG_UTF8);
		len = strlen(s);
	}
	append_text_literal(out, std::string_view(s, len));
}

std::string checkpoint_where(const std::string &table_lit, int64_t start, int64_t end) {
	return " WHERE table_name = " + table_lit + " AND start_id = " + std::to_string(start) +
	       " AND end_id = " + std::to_string(end);
}

class Migration {
  public:
	Migration(Oid relid, const Target &target, const MigrateOptions &opt)
	    : relid_(relid), target_(target), opt_(opt), client_(target.config, interrupt_requested) {
	}

	MigrateResult run();

  private:
	struct Chunk {
		int64_t first = 0;
		int64_t last = 0;
		int64_t count = 0;
	};

	void load_table();
	void prepare_remote();
	bool next_chunk(std::optional<int64_t> after, Chunk &chunk);
	uint64_t copy_chunk(const Chunk &chunk);
	void send(Request &&req);
	void mark_remote_failed(const Chunk &chunk, const std::string &message);
	void notice_progress(const Chunk &chunk, uint64_t chunk_no);
	// local ledger
	void ledger_start();
	void ledger_checkpoint(const Chunk &chunk, uint64_t rows, const char *status, double started_epoch);
	void ledger_finish();
	std::string table_literal() const;

	Oid relid_;
	const Target &target_;
	MigrateOptions opt_;
	D1Client client_;
	SourceTable table_;
	std::string pk_name_;
	std::map<std::pair<int64_t, int64_t>, int64_t> completed_remote_;
	MigrateResult result_;
	int64_t rows_total_ = 0;
	Clock::time_point t0_ = Clock::now();
	MemoryContext batch_context_ = nullptr;
	int guc_nest_level_ = 0;
};

std::string Migration::table_literal() const {
	std::string lit;
	append_text_literal(lit, table_.def.name);
	return lit;
}

void Migration::load_table() {
	table_ = load_source_table(relid_);
	if (table_.key_columns.size() != 1 || table_.columns[table_.key_columns[0]].kind != ValueKind::Integer) {
		throw Error("0A000",
		            "table \"" + table_.display_name + "\" does not have a single-column integer primary key",
		            "This version of pg2d1 walks tables by a single integer key (smallint, integer, bigint).",
		            "Composite and non-integer keys are planned; until then migrate a table with an integer key.");
	}
	pk_name_ = table_.columns[table_.key_columns[0]].name;
	pg_call([&] {
		std::string sql = "SELECT count(*) FROM " + table_.qualified_name;
		if (SPI_execute(sql.c_str(), true, 0) != SPI_OK_SELECT) {
			elog(ERROR, "pg2d1: count failed");
		}
		bool isnull;
		rows_total_ = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	});
}

void Migration::prepare_remote() {
	std::vector<Statement> stmts;
	for (auto &ddl : checkpoint_table_ddl()) {
		stmts.push_back({ddl, {}});
	}
	DdlResult ddl = translate_table(table_.def);
	// The table with its primary key first; secondary indexes are built after the load.
	stmts.push_back({ddl.statements.front(), {}});
	if (!opt_.resume || opt_.traditional) {
		stmts.push_back({"DELETE FROM migration_checkpoints WHERE table_name = " + table_literal(), {}});
	}
	client_.batch(stmts);
	if (opt_.resume && !opt_.traditional) {
		StatementResult r = client_.raw({"SELECT CAST(start_id AS TEXT), CAST(end_id AS TEXT), records_processed "
		                                 "FROM migration_checkpoints WHERE status = 'completed' AND table_name = ?1",
		                                 {table_.def.name}});
		for (auto &row : r.rows) {
			if (row.size() == 3 && row[0] && row[1] && row[2]) {
				completed_remote_[{std::stoll(*row[0]), std::stoll(*row[1])}] = std::stoll(*row[2]);
			}
		}
	}
}

bool Migration::next_chunk(std::optional<int64_t> after, Chunk &chunk) {
	std::string qpk = quote_ident(pk_name_);
	std::string sql = "SELECT min(k), max(k), count(*) FROM (SELECT " + qpk + "::int8 AS k FROM " +
	                  table_.qualified_name + " WHERE ($1::int8 IS NULL OR " + qpk + " > $1) ORDER BY " + qpk +
	                  " LIMIT $2) s";
	int64_t limit = opt_.traditional ? INT64_MAX : opt_.checkpoint_size;
	bool found = false;
	pg_call([&] {
		Oid types[2] = {INT8OID, INT8OID};
		Datum values[2] = {Int64GetDatum(after.value_or(0)), Int64GetDatum(limit)};
		const char nulls[2] = {after ? ' ' : 'n', ' '};
		if (SPI_execute_with_args(sql.c_str(), 2, types, values, nulls, true, 0) != SPI_OK_SELECT) {
			elog(ERROR, "pg2d1: checkpoint planning query failed");
		}
		HeapTuple tup = SPI_tuptable->vals[0];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool isnull;
		chunk.count = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		if (chunk.count > 0) {
			chunk.first = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			chunk.last = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			found = true;
		}
	});
	return found;
}

void Migration::send(Request &&req) {
	std::vector<Statement> stmts;
	stmts.reserve(req.statements.size());
	for (auto &s : req.statements) {
		stmts.push_back({std::move(s), {}});
	}
	client_.batch(stmts);
	check_for_interrupts();
}

uint64_t Migration::copy_chunk(const Chunk &chunk) {
	UpsertTarget target{table_.def.name, {}, {pk_name_}};
	for (auto &c : table_.columns) {
		target.columns.push_back(c.name);
	}
	BatchPlanner planner(target, limits_from_gucs(static_cast<size_t>(opt_.batch_size)));
	std::string tlit = table_literal();
	std::string where = checkpoint_where(tlit, chunk.first, chunk.last);
	if (!opt_.traditional) {
		client_.batch({{"INSERT INTO migration_checkpoints (table_name, start_id, end_id, records_processed, status, "
		                "started_at) SELECT " +
		                    tlit + ", " + std::to_string(chunk.first) + ", " + std::to_string(chunk.last) +
		                    ", 0, 'in_progress', datetime('now') WHERE NOT EXISTS (SELECT 1 FROM "
		                    "migration_checkpoints" +
		                    where + ")",
		                {}},
		               {"UPDATE migration_checkpoints SET status = 'in_progress', started_at = datetime('now'), "
		                "completed_at = NULL, error_message = NULL" +
		                    where,
		                {}}});
	}

	std::string cols;
	for (auto &c : table_.columns) {
		cols += (cols.empty() ? "" : ", ") + quote_ident(c.name);
	}
	std::string qpk = quote_ident(pk_name_);
	std::string sql = "SELECT " + cols + " FROM " + table_.qualified_name + " WHERE " + qpk + " >= $1 AND " + qpk +
	                  " <= $2 ORDER BY " + qpk;
	Portal portal = nullptr;
	pg_call([&] {
		Oid types[2] = {INT8OID, INT8OID};
		Datum values[2] = {Int64GetDatum(chunk.first), Int64GetDatum(chunk.last)};
		portal = SPI_cursor_open_with_args(nullptr, sql.c_str(), 2, types, values, nullptr, true, 0);
	});

	uint64_t rows = 0;
	std::string tuple;
	EncodePosition pos;
	const int key_index = table_.key_columns[0];
	for (;;) {
		uint64_t fetched = 0;
		try {
			pg_call([&] {
				SPI_cursor_fetch(portal, true, 2000);
				fetched = SPI_processed;
				MemoryContext old = MemoryContextSwitchTo(batch_context_);
				TupleDesc desc = SPI_tuptable->tupdesc;
				for (uint64 i = 0; i < fetched; i++) {
					HeapTuple tup = SPI_tuptable->vals[i];
					bool isnull;
					pos.column = key_index;
					pos.key = integer_value(table_.columns[key_index].base_type_oid,
					                        SPI_getbinval(tup, desc, key_index + 1, &isnull));
					tuple.assign(1, '(');
					for (size_t c = 0; c < table_.columns.size(); c++) {
						pos.column = static_cast<int>(c);
						Datum d = SPI_getbinval(tup, desc, static_cast<int>(c) + 1, &isnull);
						if (c) {
							tuple.push_back(',');
						}
						if (isnull) {
							append_null_literal(tuple);
						} else {
							append_value(tuple, table_.columns[c], d);
						}
					}
					tuple.push_back(')');
					pos.column = -1;
					planner.add_row(tuple);
				}
				MemoryContextSwitchTo(old);
				MemoryContextReset(batch_context_);
				SPI_freetuptable(SPI_tuptable);
			});
		} catch (const Error &e) {
			std::string where_col = pos.column >= 0 ? "column \"" + table_.columns[pos.column].name + "\" of " : "";
			throw Error(e.sqlstate(),
			            std::string(e.what()) + " (" + where_col + "table \"" + table_.display_name + "\", " +
			                pk_name_ + " = " + std::to_string(pos.key) + ")",
			            e.detail(), e.hint());
		}
		rows += fetched;
		while (planner.has_request()) {
			send(planner.pop_request());
		}
		if (fetched == 0) {
			break;
		}
	}
	pg_call([&] { SPI_cursor_close(portal); });
	std::optional<std::string> trailer;
	if (!opt_.traditional) {
		trailer = "UPDATE migration_checkpoints SET status = 'completed', records_processed = " +
		          std::to_string(rows) + ", completed_at = datetime('now'), error_message = NULL" + where;
	}
	planner.finish(trailer);
	while (planner.has_request()) {
		send(planner.pop_request());
	}
	return rows;
}

void Migration::mark_remote_failed(const Chunk &chunk, const std::string &message) {
	std::string msg;
	append_text_literal(msg, message.substr(0, 2000));
	try {
		client_.batch({{"UPDATE migration_checkpoints SET status = 'failed', error_message = " + msg +
		                    checkpoint_where(table_literal(), chunk.first, chunk.last),
		                {}}});
	} catch (const std::exception &) {
		// D1 is unreachable or refusing: the original error is what the user needs.
	}
}

void Migration::notice_progress(const Chunk &chunk, uint64_t chunk_no) {
	if (!opt_.report_progress) {
		return;
	}
	double secs = seconds_since(t0_);
	double rate = secs > 0 ? static_cast<double>(result_.rows) / secs : 0;
	double remaining = rate > 0 ? static_cast<double>(rows_total_ - static_cast<int64_t>(result_.rows)) / rate : -1;
	std::string eta = format_eta(remaining);
	pg_call([&] {
		ereport(NOTICE, (errmsg("pg2d1: %s checkpoint %llu: %s %lld..%lld, %llu of %lld rows, %.0f rows/s, ETA %s",
		                        table_.display_name.c_str(), static_cast<unsigned long long>(chunk_no),
		                        pk_name_.c_str(), static_cast<long long>(chunk.first),
		                        static_cast<long long>(chunk.last), static_cast<unsigned long long>(result_.rows),
		                        static_cast<long long>(rows_total_), rate, eta.c_str())));
	});
}

void Migration::ledger_start() {
	std::string opts = std::string("checkpoint_size=") + std::to_string(opt_.checkpoint_size) +
	                   " batch_size=" + std::to_string(opt_.batch_size) + " resume=" + (opt_.resume ? "true" : "false") +
	                   " mode=" + (opt_.traditional ? "traditional" : "resumable");
	pg_call([&] {
		Oid types[5] = {TEXTOID, OIDOID, INT8OID, TEXTOID, TEXTOID};
		Datum values[5] = {CStringGetTextDatum(table_.display_name.c_str()), ObjectIdGetDatum(relid_),
		                   Int64GetDatum(rows_total_), CStringGetTextDatum(target_.label.c_str()),
		                   CStringGetTextDatum(opts.c_str())};
		if (SPI_execute_with_args("INSERT INTO pg2d1.jobs (table_name, relid, status, rows_total, target, options) "
		                          "VALUES ($1, $2, 'running', $3, $4, $5) RETURNING job_id",
		                          5, types, values, nullptr, false, 0) != SPI_OK_INSERT_RETURNING) {
			elog(ERROR, "pg2d1: could not record the job");
		}
		bool isnull;
		result_.job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	});
}

void Migration::ledger_checkpoint(const Chunk &chunk, uint64_t rows, const char *status, double started_epoch) {
	pg_call([&] {
		Oid types[7] = {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID, FLOAT8OID};
		Datum values[7] = {Int64GetDatum(result_.job_id),  CStringGetTextDatum(table_.def.name.c_str()),
		                   Int64GetDatum(chunk.first),     Int64GetDatum(chunk.last),
		                   Int64GetDatum((int64)rows),     CStringGetTextDatum(status),
		                   Float8GetDatum(started_epoch)};
		if (SPI_execute_with_args(
		        "INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, records_processed, status, "
		        "started_at, completed_at, remote_synced) VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7), clock_timestamp(), "
		        "true)",
		        7, types, values, nullptr, false, 0) != SPI_OK_INSERT) {
			elog(ERROR, "pg2d1: could not record the checkpoint");
		}
		Oid t2[2] = {INT8OID, INT8OID};
		Datum v2[2] = {Int64GetDatum(result_.job_id), Int64GetDatum((int64)result_.rows)};
		SPI_execute_with_args("UPDATE pg2d1.jobs SET rows_done = $2, updated_at = clock_timestamp() WHERE job_id = $1", 2, t2, v2,
		                      nullptr, false, 0);
	});
}

void Migration::ledger_finish() {
	pg_call([&] {
		Oid types[2] = {INT8OID, INT8OID};
		Datum values[2] = {Int64GetDatum(result_.job_id), Int64GetDatum((int64)result_.rows)};
		SPI_execute_with_args("UPDATE pg2d1.jobs SET status = 'completed', rows_done = $2, finished_at = clock_timestamp(), "
		                      "updated_at = clock_timestamp() WHERE job_id = $1",
		                      2, types, values, nullptr, false, 0);
	});
}

MigrateResult Migration::run() {
	pg_call([&] {
		if (SPI_connect() != SPI_OK_CONNECT) {
			elog(ERROR, "pg2d1: SPI_connect failed");
		}
		batch_context_ = AllocSetContextCreate(CurrentMemoryContext, "pg2d1 row batch", ALLOCSET_DEFAULT_SIZES);
		// Text output of dates and times must not depend on the caller's session settings.
		guc_nest_level_ = NewGUCNestLevel();
		set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		set_config_option("DateStyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	});
	load_table();
	prepare_remote();
	ledger_start();

	std::optional<int64_t> after;
	Chunk chunk;
	uint64_t chunk_no = 0;
	while (next_chunk(after, chunk)) {
		chunk_no++;
		auto done = completed_remote_.find({chunk.first, chunk.last});
		if (done != completed_remote_.end() && done->second == chunk.count) {
			result_.checkpoints_skipped++;
			result_.rows += static_cast<uint64_t>(chunk.count);
			after = chunk.last;
			continue;
		}
		double started = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
		uint64_t rows = 0;
		try {
			rows = copy_chunk(chunk);
		} catch (const Error &e) {
			std::string msg = std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail());
			if (!opt_.traditional) {
				mark_remote_failed(chunk, msg);
			}
			throw Error(e.sqlstate(),
			            std::string(e.what()) + " (table \"" + table_.display_name + "\", checkpoint " + pk_name_ +
			                " " + std::to_string(chunk.first) + ".." + std::to_string(chunk.last) + ")",
			            e.detail(), e.hint());
		} catch (const PgError &e) {
			if (!opt_.traditional) {
				mark_remote_failed(chunk, e.what());
			}
			throw;
		}
		result_.rows += rows;
		result_.checkpoints_done++;
		ledger_checkpoint(chunk, rows, "completed", started);
		notice_progress(chunk, chunk_no);
		after = chunk.last;
	}

	// Secondary indexes are cheaper to build once the rows are in.
	DdlResult ddl = translate_table(table_.def);
	if (ddl.statements.size() > 1) {
		std::vector<Statement> idx;
		for (size_t i = 1; i < ddl.statements.size(); i++) {
			idx.push_back({ddl.statements[i], {}});
		}
		client_.batch(idx);
	}
	ledger_finish();
	pg_call([&] {
		AtEOXact_GUC(true, guc_nest_level_);
		SPI_finish();
	});
	result_.seconds = seconds_since(t0_);
	result_.stats = client_.stats();
	return result_;
}

} // namespace

MigrateResult migrate_table(Oid relid, const Target &target, const MigrateOptions &options) {
	Migration m(relid, target, options);
	return m.run();
}

} // namespace pg2d1
