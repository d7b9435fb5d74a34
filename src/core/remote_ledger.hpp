// remote_ledger.hpp — every SQL statement pg2d1 sends to D1 about its remote ledger, the
// `migration_checkpoints` table (DESIGN.md): create it, claim, complete and fail a range, reset stuck
// ranges, retry failed ones, forget a table, read its completed ranges back. Each function returns SQL text.
// Must never build a statement from unescaped text: table names and messages are SQL literals
// (append_text_literal), and a range is always identified by (table_name, start_id, end_id).
// Called by the migration worker (src/pg/migrate.cpp) and pg2d1_validate / pg2d1_setup_schema /
// pg2d1_reset_stuck / pg2d1_retry_failed / pg2d1_reset (src/pg/functions.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pg2d1 {

// The remote tracking table, exactly as in DESIGN.md (CREATE TABLE IF NOT EXISTS form),
// and its index on (table_name, start_id). Idempotent: sent before every other ledger statement.
std::vector<std::string> checkpoint_table_ddl();

namespace remote_ledger {

// D1's error_message keeps at most this many bytes of a failure's message.
constexpr size_t kMaxErrorMessageBytes = 2000;

// = checkpoint_table_ddl().
std::vector<std::string> create_sql();

// SELECT count(*) AS n FROM migration_checkpoints — pg2d1_validate's write probe (after create_sql()).
std::string probe_sql();

// Claims the range [start_id, end_id] of `table` for copying: [0] inserts it as in_progress unless a row
// for the same range exists, [1] sets that row in_progress (started now, completed_at and error_message
// cleared). Run both in one request; running them again leaves one row.
std::vector<std::string> claim_sql(std::string_view table, int64_t start_id, int64_t end_id);

// The trailer of a range's last request: completed now with `records` rows, error_message cleared.
std::string complete_sql(std::string_view table, int64_t start_id, int64_t end_id, int64_t records);

// Marks the range failed with cut_error_message(message) as error_message.
std::string fail_sql(std::string_view table, int64_t start_id, int64_t end_id, std::string_view message);

// The first kMaxErrorMessageBytes bytes of message, shortened further until it is valid UTF-8
// (a multi-byte character cut at the limit is dropped whole, never split).
std::string cut_error_message(std::string_view message);

// pg2d1_reset_stuck: the table's in_progress ranges back to pending.
std::string reset_stuck_sql(std::string_view table);

// pg2d1_retry_failed: the table's failed ranges back to pending, error_message cleared.
std::string retry_failed_sql(std::string_view table);

// pg2d1_reset, resume => false, and a D1 table pg2d1 just created: every row of the table.
std::string forget_table_sql(std::string_view table);

// The table's completed ranges: CAST(start_id AS TEXT), CAST(end_id AS TEXT), records_processed.
std::string completed_ranges_sql(std::string_view table);

} // namespace remote_ledger
} // namespace pg2d1
