// check_translation.hpp — one PostgreSQL CHECK expression (pg_get_expr text) translated to SQLite.
// Must never translate an expression whose SQLite meaning differs from PostgreSQL's for a value D1 holds:
// anything outside the whitelisted grammar is refused with the reason.
// Called by translate_table (ddl.cpp); see ddl.hpp for the grammar's rules.
#pragma once

#include "table_def.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pg2d1 {

struct CheckTranslation {
	std::optional<std::string> sql; // the SQLite expression, for CONSTRAINT … CHECK (sql); nullopt when refused
	std::string reason;             // why it was refused (empty when translated)
};

// Only expressions of a whitelisted grammar whose SQLite meaning is the PostgreSQL one for every
// value D1 holds (numbers against INTEGER/REAL columns, text equality, IN lists, IS NULL,
// AND/OR/NOT, + - * /, length()); comparisons of columns that D1 stores as TEXT but PostgreSQL
// does not compare as text (numeric, dates, char(n), …) and ordering comparisons of text are refused.
// Column references are resolved against `table`.
CheckTranslation translate_check(const TableDef &table, std::string_view pg_expr);

} // namespace pg2d1
