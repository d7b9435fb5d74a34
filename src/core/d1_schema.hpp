// d1_schema.hpp — what D1 already has: its tables, and whether a table there matches the
// one pg2d1 would create from PostgreSQL.
// Must never let CREATE TABLE IF NOT EXISTS hide a D1 table of a different shape: the
// differences are reported before any row is written.
// Called by pg2d1_setup_schema (functions.cpp) and the migration worker (migrate.cpp).
#pragma once

#include "d1_client.hpp"
#include "ddl.hpp"

#include <string>
#include <vector>

namespace pg2d1 {

// Names of the user tables in D1 (not sqlite_*, _cf_*).
std::vector<std::string> d1_table_names(D1Client &client);

// schema_differences() of the D1 table named table.name; empty when it does not exist yet
// or matches.
std::vector<std::string> d1_table_differences(D1Client &client, const TableDef &table);

// Throws Error 42P07 listing the differences (DETAIL) when there are any.
void check_d1_table_matches(D1Client &client, const TableDef &table, const std::string &display_name);

} // namespace pg2d1
