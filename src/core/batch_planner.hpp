// batch_planner.hpp — packs encoded rows into multi-row upsert statements and statements
// into D1 requests, as large as D1's limits allow.
// Must never emit a statement over max_statement_bytes or a request over
// max_request_bytes / max_statements_per_request / max_rows_per_request; a single row that
// cannot fit throws pg2d1::Error (54000) instead of being cut.
// Called by the migration driver (src/pg/migrate.*) once per row and once per checkpoint.
#pragma once

#include "statement.hpp"

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2d1 {

struct Limits {
	size_t max_statement_bytes = 100000;    // D1: per statement, UTF-8 bytes of the SQL text
	size_t max_bound_params = 100;          // D1: bound parameters per statement
	size_t max_request_bytes = 1000000;     // our cap on the sum of statement bytes per request
	size_t max_statements_per_request = 50; // our cap on statements in one `batch` request
	size_t max_rows_per_request = 0;        // 0 = no cap (the batch_size argument)
};

// Target of an idempotent upsert: INSERT INTO t (cols) VALUES … ON CONFLICT (key) DO UPDATE.
struct UpsertTarget {
	std::string table;                    // unquoted SQLite table name
	std::vector<std::string> columns;     // unquoted, in tuple order
	std::vector<std::string> key_columns; // unquoted primary key columns (subset of columns)
};

// `INSERT INTO "t" ("a","b") VALUES ` (with the trailing space)
std::string upsert_prefix(const UpsertTarget &t);
// ` ON CONFLICT ("id") DO UPDATE SET "a"=excluded."a",…` — or ` ON CONFLICT ("id") DO NOTHING`
// when every column is a key column.
std::string upsert_suffix(const UpsertTarget &t);

struct Request {
	std::vector<std::string> statements; // each a complete SQL statement without trailing ';'
	// Bound parameters (?1, ?2, …) of statements[i], when a row carries values too large for
	// inline literals; empty or shorter than `statements` for statements without any.
	std::vector<std::vector<std::string>> params;
	size_t rows = 0;  // data rows carried by this request
	size_t bytes = 0; // sum of statement and parameter sizes

	std::vector<Statement> to_statements() &&; // for D1Client::batch
};

class BatchPlanner {
  public:
	BatchPlanner(UpsertTarget target, Limits limits);

	// Adds one encoded row tuple, e.g. "(1,'a',NULL)". Throws Error 54000 naming the
	// limit when the tuple alone cannot fit in one statement.
	void add_row(std::string_view tuple);

	// Adds one row whose tuple refers to bound parameters (?1 … ?n, e.g. "(1,?1,unhex(?2))")
	// holding values too large for a literal. It becomes a statement of its own; a request
	// may exceed max_request_bytes only when this row alone does. Throws Error 54000 when the
	// statement text or the parameter count exceeds D1's limits.
	void add_row_with_params(std::string_view tuple, std::vector<std::string> params);

	// Closes the statement being built and queues every pending statement into requests.
	// When `trailer` is given it is appended as the last statement of the last request
	// (a new request is made for it only if there is no pending data at all, or the last
	// request is full). Used to mark a checkpoint completed in the same request as its
	// last rows.
	void finish(std::optional<std::string> trailer = std::nullopt);

	// Requests that are complete and may be sent now (full requests appear while rows
	// are added; the rest after finish()).
	bool has_request() const {
		return !ready_.empty();
	}
	Request pop_request();

	size_t pending_rows() const; // rows added but not yet in a popped request
	// The largest tuple add_row() accepts (the statement limit less INSERT … ON CONFLICT …).
	size_t max_tuple_bytes() const {
		return limits_.max_statement_bytes - prefix_.size() - suffix_.size();
	}
	const Limits &limits() const {
		return limits_;
	}

  private:
	void close_statement();
	void close_request();

	UpsertTarget target_;
	Limits limits_;
	std::string prefix_;
	std::string suffix_;
	std::string stmt_; // statement being built ("" when none)
	size_t stmt_rows_ = 0;
	Request req_; // request being built
	std::deque<Request> ready_;
};

} // namespace pg2d1
