// catalog.hpp — reads what pg2d1 needs to know about a PostgreSQL table: columns, base
// types, output functions, primary key, secondary indexes.
// Must never guess a primary key: a table without one is an error with a HINT.
// Called by pg2d1_ddl / pg2d1_setup_schema / pg2d1_migrate.
#pragma once

#include "core/ddl.hpp"

extern "C" {
#include "postgres.h"
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
	ValueKind kind = ValueKind::Text;
	Oid output_fn = InvalidOid; // of the declared type
	bool plain_text = false;    // text/varchar/bpchar: bytes are the text output
};

struct SourceTable {
	Oid relid = InvalidOid;
	std::string qualified_name; // quoted schema.table, for SQL run in PostgreSQL
	std::string display_name;   // schema.table as the user sees it (regclass output)
	TableDef def;               // D1 side (name = relname)
	std::vector<SourceColumn> columns;
	std::vector<int> key_columns; // indexes into columns, primary key order
};

// Requires an open SPI connection.
SourceTable load_source_table(Oid relid);

// One column value, read the way both the migration and pg2d1_verify read it. Call inside
// pg_call (they may elog); text is palloc'd or points into the datum, valid until the
// current memory context is reset.
int64_t column_integer(const SourceColumn &col, Datum d);            // ValueKind::Integer
double column_real(const SourceColumn &col, Datum d);                // ValueKind::Real
std::string_view column_text_utf8(const SourceColumn &col, Datum d); // ValueKind::Text

// TimeZone UTC, DateStyle ISO, IntervalStyle postgres, extra_float_digits 1: text output
// of dates and times that does not depend on the session (GUC_ACTION_SET or _SAVE).
void set_fixed_output_settings(int guc_action);

} // namespace pg2d1
