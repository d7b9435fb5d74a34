// ddl.hpp — PostgreSQL → SQLite type mapping, CREATE TABLE / CREATE INDEX translation (with
// CHECK and FOREIGN KEY constraints) and the comparison of an existing D1 table with PostgreSQL.
// Must never map a type to one that changes its values silently (DESIGN.md type mapping), nor
// create a constraint that refuses a row PostgreSQL accepted: what cannot be translated exactly
// is reported in `warnings`, never dropped without a word.
// Called by pg2d1_setup_schema / pg2d1_ddl and by the row encoder (value kinds).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2d1 {

// How values of a PostgreSQL type are written to D1.
enum class ValueKind {
	Integer, // int2/int4/int8/oid → INTEGER literal
	Boolean, // bool → 0/1
	Real,    // float4/float8 → REAL literal (shortest exact)
	Blob,    // bytea → X'..'
	Text,    // everything else → its text output as a TEXT literal
};

// `typname` is pg_type.typname of the column's base type (domains resolved), e.g. "int4",
// "float8", "numeric", "bytea", "_int4" for arrays; `typcategory` is pg_type.typcategory.
ValueKind value_kind_for(std::string_view typname, char typcategory);

// SQLite column type for that kind: INTEGER, REAL, BLOB or TEXT.
const char *sqlite_type_for(ValueKind kind);

struct ColumnDef {
	std::string name;    // unquoted
	std::string typname; // base typname
	char typcategory = 'S';
	bool not_null = false;
	std::optional<std::string> pg_default; // pg_get_expr() text of the default, if any
};

struct IndexDef {
	std::string name;                 // unquoted
	std::vector<std::string> columns; // plain columns only
	bool unique = false;
	std::optional<std::string> where = std::nullopt; // reserved; partial indexes are reported by the caller
};

struct CheckDef {
	std::string name;    // constraint name, unquoted
	std::string pg_expr; // pg_get_expr(conbin, conrelid), e.g. "((price > (0)::numeric) AND (qty >= 0))"
};

struct ForeignKeyDef {
	std::string name;                 // unquoted
	std::vector<std::string> columns; // in this table
	std::string ref_table;            // D1 (unqualified) name of the referenced table
	std::vector<std::string> ref_columns;
	char on_delete = 'a'; // pg_constraint.confdeltype: a no action, r restrict, c cascade, n set null, d set default
	char on_update = 'a'; // confupdtype, same codes
};

struct TableDef {
	std::string name; // unquoted D1 table name
	std::vector<ColumnDef> columns;
	std::vector<std::string> primary_key;
	std::vector<IndexDef> indexes; // secondary indexes (not the primary key's)
	std::vector<CheckDef> checks;
	std::vector<ForeignKeyDef> foreign_keys;
	std::vector<std::string> untranslatable; // found by the catalog reader (expression/partial indexes, exclusion
	                                         // constraints, …): copied into warnings verbatim
};

struct DdlResult {
	std::vector<std::string> statements; // CREATE TABLE IF NOT EXISTS …, CREATE [UNIQUE] INDEX IF NOT EXISTS …
	std::vector<std::string> warnings;   // what was not translated, and why
};

// Translates a PostgreSQL default expression to SQLite, or nullopt when it cannot
// (e.g. nextval(), functions SQLite lacks). Handles numeric and string literals with
// casts ('x'::text), true/false, NULL, now()/CURRENT_TIMESTAMP/CURRENT_DATE.
std::optional<std::string> translate_default(std::string_view pg_expr, ValueKind kind);

struct DdlOptions {
	// Tables that exist (or are being created) in D1 alongside this one. A foreign key is
	// translated only when its ref_table is in this set; otherwise it is reported in warnings.
	// When all_tables_known is false, every foreign key is translated.
	std::vector<std::string> migrated_tables;
	bool all_tables_known = false;
};

// statements[0] is the CREATE TABLE IF NOT EXISTS (columns, primary key, the CHECK and FOREIGN KEY
// constraints that translate exactly); statements[1..] the CREATE [UNIQUE] INDEX IF NOT EXISTS, to
// run after the data is loaded. Every constraint, default or index left out is in `warnings`.
//
// CHECK: only expressions of a whitelisted grammar whose SQLite meaning is the PostgreSQL one for
// every value D1 holds (numbers against INTEGER/REAL columns, text equality, IN lists, IS NULL,
// AND/OR/NOT, + - * /, length()); comparisons of columns that D1 stores as TEXT but PostgreSQL
// does not compare as text (numeric, dates, char(n), …) and ordering comparisons of text are
// reported, never created.
// FOREIGN KEY: not created when self-referencing (rows load in key order, D1 enforces at once),
// when ref_table is not migrated (options), or when a column's equal values may have different
// text in D1 (numeric, char(n), interval, …).
// Note for callers: SQLite needs the referenced columns to be the parent's primary key or to have
// a UNIQUE index when the parent or child is written ("foreign key mismatch" otherwise, even for
// the loader's INSERT … ON CONFLICT DO UPDATE into the parent once the child table exists), and
// loads must go parent first.
DdlResult translate_table(const TableDef &table); // = translate_table(table, DdlOptions{})
DdlResult translate_table(const TableDef &table, const DdlOptions &options);

// One column of D1's `PRAGMA table_info(t)` output.
struct D1Column {
	std::string name;
	std::string type;
	bool notnull = false;
	int pk = 0; // 1-based position in the primary key, 0 when not
};

// Differences between the D1 table and what translate_table would create, one sentence each
// (column missing in D1 / only in D1, different type affinity, NOT NULL in D1 but nullable in
// PostgreSQL, different primary key column set). Empty = compatible. Names compare exactly.
std::vector<std::string> schema_differences(const TableDef &table, const std::vector<D1Column> &d1);

// The remote tracking table, exactly as in DESIGN.md (CREATE TABLE IF NOT EXISTS form),
// and its index on (table_name, start_id).
std::vector<std::string> checkpoint_table_ddl();

} // namespace pg2d1
