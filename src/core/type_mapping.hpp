// type_mapping.hpp — how values of a PostgreSQL type are written to D1 (value kind, SQLite column type)
// and the translation of a column's default expression.
// Must never map a type or default to one that changes its values silently (DESIGN.md type mapping):
// a default it cannot translate exactly is nullopt, and the caller warns.
// Called by translate_table (ddl.cpp), the CHECK translator, schema_differences and the row encoder (src/pg/rows.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

// Translates a PostgreSQL default expression to SQLite, or nullopt when it cannot
// (e.g. nextval(), functions SQLite lacks). Handles numeric and string literals with
// casts ('x'::text), true/false, NULL, now()/CURRENT_TIMESTAMP/CURRENT_DATE.
std::optional<std::string> translate_default(std::string_view pg_expr, ValueKind kind);

} // namespace pg2d1
