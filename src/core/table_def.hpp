// table_def.hpp — a PostgreSQL table as the DDL translation sees it: columns, keys, indexes, CHECK and
// FOREIGN KEY constraints, filled by the catalog reader (src/pg/catalog.cpp).
// Must never carry PostgreSQL headers or catalog OIDs: src/core is pure C++ and unit tested without a server.
// Used by ddl.hpp (translate_table), check_translation.hpp, schema_compare.hpp and src/pg.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

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

} // namespace pg2d1
