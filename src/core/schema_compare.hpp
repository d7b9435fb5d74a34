// schema_compare.hpp — an existing D1 table, as PRAGMA table_info reports it, compared with what
// translate_table would create from PostgreSQL.
// Must never let CREATE TABLE IF NOT EXISTS hide a D1 table of a different shape: every difference is a sentence.
// Called by d1_table_differences (d1_schema.cpp), hence by pg2d1_setup_schema and the migration worker.
#pragma once

#include "table_def.hpp"

#include <string>
#include <vector>

namespace pg2d1 {

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

} // namespace pg2d1
