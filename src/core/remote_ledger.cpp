// remote_ledger.cpp — the SQL text of D1's migration_checkpoints statements (remote_ledger.hpp).
// Must never change what a statement means without the unit tests that run it in SQLite
// (test/unit/test_remote_ledger.cpp): workers of older and newer versions share the same ledger.
// Called by src/pg/migrate.cpp and src/pg/functions.cpp.
#include "remote_ledger.hpp"

#include "sqlite_encode.hpp"

namespace pg2d1 {

namespace {

std::string table_literal(std::string_view table) {
	std::string lit;
	append_text_literal(lit, table);
	return lit;
}

// " WHERE table_name = 't' AND start_id = 1 AND end_id = 50000"
std::string where_range(std::string_view table, int64_t start_id, int64_t end_id) {
	std::string sql = " WHERE table_name = ";
	append_text_literal(sql, table);
	sql.append(" AND start_id = ");
	append_integer_literal(sql, start_id);
	sql.append(" AND end_id = ");
	append_integer_literal(sql, end_id);
	return sql;
}

} // namespace

std::vector<std::string> checkpoint_table_ddl() {
	return {
	    "CREATE TABLE IF NOT EXISTS migration_checkpoints (\n"
	    "  id INTEGER PRIMARY KEY AUTOINCREMENT, table_name TEXT NOT NULL,\n"
	    "  start_id INTEGER NOT NULL, end_id INTEGER NOT NULL, records_processed INTEGER DEFAULT 0,\n"
	    "  status TEXT CHECK(status IN ('pending','in_progress','completed','failed')),\n"
	    "  error_message TEXT, started_at TEXT, completed_at TEXT,\n"
	    "  created_at TEXT DEFAULT (datetime('now')))",
	    "CREATE INDEX IF NOT EXISTS \"idx_migration_checkpoints_table\" ON migration_checkpoints (table_name, "
	    "start_id)",
	};
}

namespace remote_ledger {

std::vector<std::string> create_sql() {
	return checkpoint_table_ddl();
}

std::string probe_sql() {
	return "SELECT count(*) AS n FROM migration_checkpoints";
}

std::vector<std::string> claim_sql(std::string_view table, int64_t start_id, int64_t end_id) {
	const std::string where = where_range(table, start_id, end_id);
	std::string insert = "INSERT INTO migration_checkpoints (table_name, start_id, end_id, records_processed, status, "
	                     "started_at) SELECT ";
	append_text_literal(insert, table);
	insert.append(", ");
	append_integer_literal(insert, start_id);
	insert.append(", ");
	append_integer_literal(insert, end_id);
	insert.append(", 0, 'in_progress', datetime('now') WHERE NOT EXISTS (SELECT 1 FROM migration_checkpoints")
	    .append(where)
	    .append(")");
	std::string update = "UPDATE migration_checkpoints SET status = 'in_progress', started_at = datetime('now'), "
	                     "completed_at = NULL, error_message = NULL" +
	                     where;
	return {std::move(insert), std::move(update)};
}

std::string complete_sql(std::string_view table, int64_t start_id, int64_t end_id, int64_t records) {
	std::string sql = "UPDATE migration_checkpoints SET status = 'completed', records_processed = ";
	append_integer_literal(sql, records);
	sql.append(", completed_at = datetime('now'), error_message = NULL").append(where_range(table, start_id, end_id));
	return sql;
}

std::string cut_error_message(std::string_view message) {
	std::string cut(message.substr(0, kMaxErrorMessageBytes));
	while (!cut.empty() && !is_valid_utf8(cut)) {
		cut.pop_back(); // never split a UTF-8 character
	}
	return cut;
}

std::string fail_sql(std::string_view table, int64_t start_id, int64_t end_id, std::string_view message) {
	std::string sql = "UPDATE migration_checkpoints SET status = 'failed', error_message = ";
	append_text_literal(sql, cut_error_message(message));
	sql.append(where_range(table, start_id, end_id));
	return sql;
}

std::string reset_stuck_sql(std::string_view table) {
	return "UPDATE migration_checkpoints SET status = 'pending' WHERE table_name = " + table_literal(table) +
	       " AND status = 'in_progress'";
}

std::string retry_failed_sql(std::string_view table) {
	return "UPDATE migration_checkpoints SET status = 'pending', error_message = NULL WHERE table_name = " +
	       table_literal(table) + " AND status = 'failed'";
}

std::string forget_table_sql(std::string_view table) {
	return "DELETE FROM migration_checkpoints WHERE table_name = " + table_literal(table);
}

std::string completed_ranges_sql(std::string_view table) {
	return "SELECT CAST(start_id AS TEXT), CAST(end_id AS TEXT), records_processed "
	       "FROM migration_checkpoints WHERE status = 'completed' AND table_name = " +
	       table_literal(table);
}

} // namespace remote_ledger
} // namespace pg2d1
