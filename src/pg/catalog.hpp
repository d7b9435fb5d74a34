// catalog.hpp — reads what pg2d1 needs to know about a PostgreSQL table: columns, base
// types, output functions, primary key, secondary indexes.
// Must never guess a primary key: a table without one is an error with a HINT.
// Boundary: functions returning C++ objects run their PostgreSQL calls in their own
// pg_call() (a PostgreSQL error arrives as PgError) and may be called with or without an
// enclosing pg_call; the column_* readers may elog and must be called inside pg_call.
// Called by pg2d1_ddl / pg2d1_setup_schema / pg2d1_migrate / pg2d1_verify.
#pragma once

#include "core/ddl.hpp"

extern "C" {
#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
}

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pg2d1 {

struct SourceColumn {
	std::string name;
	Oid type_oid = InvalidOid;      // declared type
	Oid base_type_oid = InvalidOid; // domains resolved
	std::string type_sql;           // the declared type for casts of key parameters ("bpchar", not
	                                // "character", which would mean character(1))
	ValueKind kind = ValueKind::Text;
	Oid output_fn = InvalidOid; // of the declared type
	// What the row query selects for this column: the column itself, or an expression that
	// turns it into D1's text form (arrays → JSON, dates and times → ISO 8601).
	std::string select_expr;
	bool plain_text = false; // the selected datum is text/varchar/bpchar: its bytes are the value
};

struct SourceTable {
	Oid relid = InvalidOid;
	std::string qualified_name; // quoted schema.table, for SQL run in PostgreSQL
	std::string display_name;   // schema.table as the user sees it (regclass output)
	TableDef def;               // D1 side (name = relname)
	std::vector<SourceColumn> columns;
	std::vector<int> key_columns; // indexes into columns, primary key order
	std::string key_source;       // "primary key" or "unique index \"name\""
	bool integer_key = false;     // one key column of ValueKind::Integer: checkpoint ids are keys

	// "a", "b" — the key columns, quoted, in key order.
	std::string key_list() const;
	// The row query's select list: each column's select_expr, then the raw key columns.
	std::string select_list() const;
	// 1-based position of the raw key column `k` (index into key_columns) in select_list().
	int raw_key_position(size_t k) const {
		return static_cast<int>(columns.size() + k + 1);
	}
	// ("a", "b") <op> ($n::t1, $n+1::t2): compares the key with text parameters.
	std::string key_compare(const char *op, int first_param) const;
};

// Requires an open SPI connection (replaces SPI_tuptable). The key is the primary key, or
// the unique index named with pg2d1_use_key(); a table with neither is an error with a
// HINT. Safe with or without an enclosing pg_call.
SourceTable load_source_table(Oid relid);

// Text output of the raw key columns of a row selected with select_list(). One pg_call
// per call (not per column); the output strings are palloc'd in the current memory
// context. Safe with or without an enclosing pg_call.
std::vector<std::string> key_texts(const SourceTable &t, HeapTuple tup, TupleDesc desc);
// The elements of a text[] datum (NULL elements as ""). Safe with or without pg_call.
std::vector<std::string> text_array_values(Datum d);

// "id = 42" or "(a, b) = (1, x)": how errors and the progress name a key (no PostgreSQL call).
std::string key_display(const SourceTable &t, const std::vector<std::string> &texts);

// One column value, read the way both the migration and pg2d1_verify read it. Call inside
// pg_call: they may elog (output functions, detoasting) and own no C++ object at that
// moment, so a longjmp through them skips nothing; column_real throws Error for a numeric
// beyond the double range. Text is palloc'd or points into the datum, valid until the
// current memory context is reset.
int64_t column_integer(const SourceColumn &col, Datum d);            // ValueKind::Integer
double column_real(const SourceColumn &col, Datum d);                // ValueKind::Real
std::string_view column_text_utf8(const SourceColumn &col, Datum d); // ValueKind::Text

// TimeZone UTC, DateStyle ISO, IntervalStyle iso_8601, extra_float_digits 1: text output
// of dates and times that does not depend on the session (GUC_ACTION_SET or _SAVE). Safe
// with or without an enclosing pg_call.
void set_fixed_output_settings(int guc_action);

} // namespace pg2d1
