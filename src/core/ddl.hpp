// ddl.hpp — PostgreSQL → SQLite CREATE TABLE / CREATE INDEX translation (with CHECK and FOREIGN KEY
// constraints). Includes the parts it is built from, so that one include still gives the whole DDL API:
// table_def.hpp (the table), type_mapping.hpp (value kinds, SQLite types, defaults), check_translation.hpp
// (CHECK grammar), schema_compare.hpp (D1 table vs PostgreSQL) and remote_ledger.hpp (migration_checkpoints).
// Must never create a constraint that refuses a row PostgreSQL accepted, nor a type that changes its values:
// what cannot be translated exactly is reported in `warnings`, never dropped without a word.
// Called by pg2d1_setup_schema / pg2d1_ddl (src/pg/functions.cpp) and the migration worker (src/pg/migrate.cpp).
#pragma once

#include "check_translation.hpp"
#include "remote_ledger.hpp"
#include "schema_compare.hpp"
#include "table_def.hpp"
#include "type_mapping.hpp"

#include <string>
#include <vector>

namespace pg2d1 {

struct DdlResult {
	std::vector<std::string> statements; // CREATE TABLE IF NOT EXISTS …, CREATE [UNIQUE] INDEX IF NOT EXISTS …
	std::vector<std::string> warnings;   // what was not translated, and why
};

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
// CHECK: see translate_check (check_translation.hpp) — a whitelisted grammar; what it refuses is a warning.
// FOREIGN KEY: not created when self-referencing (rows load in key order, D1 enforces at once),
// when ref_table is not migrated (options), or when a column's equal values may have different
// text in D1 (numeric, char(n), interval, …).
// Note for callers: SQLite needs the referenced columns to be the parent's primary key or to have
// a UNIQUE index when the parent or child is written ("foreign key mismatch" otherwise, even for
// the loader's INSERT … ON CONFLICT DO UPDATE into the parent once the child table exists), and
// loads must go parent first.
DdlResult translate_table(const TableDef &table); // = translate_table(table, DdlOptions{})
DdlResult translate_table(const TableDef &table, const DdlOptions &options);

} // namespace pg2d1
