// ddl.hpp — PostgreSQL → SQLite type mapping and CREATE TABLE / CREATE INDEX translation.
// Must never map a type to one that changes its values silently (DESIGN.md type mapping);
// what cannot be translated is reported in `warnings`, never dropped without a word.
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
};

struct TableDef {
	std::string name; // unquoted D1 table name
	std::vector<ColumnDef> columns;
	std::vector<std::string> primary_key;
	std::vector<IndexDef> indexes; // secondary indexes (not the primary key's)
};

struct DdlResult {
	std::vector<std::string> statements; // CREATE TABLE IF NOT EXISTS …, CREATE [UNIQUE] INDEX IF NOT EXISTS …
	std::vector<std::string> warnings;   // what was not translated, and why
};

// Translates a PostgreSQL default expression to SQLite, or nullopt when it cannot
// (e.g. nextval(), functions SQLite lacks). Handles numeric and string literals with
// casts ('x'::text), true/false, NULL, now()/CURRENT_TIMESTAMP/CURRENT_DATE.
std::optional<std::string> translate_default(std::string_view pg_expr, ValueKind kind);

DdlResult translate_table(const TableDef &table);

// The remote tracking table, exactly as in DESIGN.md (CREATE TABLE IF NOT EXISTS form),
// and its index on (table_name, start_id).
std::vector<std::string> checkpoint_table_ddl();

} // namespace pg2d1
