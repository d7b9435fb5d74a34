// test_remote_ledger.cpp — every statement pg2d1 sends about D1's migration_checkpoints, run in a real SQLite.
// Must never check only the SQL text: each statement is executed and the ledger's rows are read back.
// Run by ctest (pg2d1_unit_tests).
#include "core/remote_ledger.hpp"

#include "core/ddl.hpp"
#include "core/sqlite_encode.hpp"
#include "sqlite_db.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace pg2d1 {
namespace {

using test::SqliteDb;

// One ledger row as the tests compare it.
struct LedgerRow {
	std::string table;
	int64_t start_id = 0;
	int64_t end_id = 0;
	int64_t records = 0;
	std::string status;
	std::optional<std::string> error;
	bool started = false;   // started_at IS NOT NULL
	bool completed = false; // completed_at IS NOT NULL

	bool operator==(const LedgerRow &o) const {
		return table == o.table && start_id == o.start_id && end_id == o.end_id && records == o.records &&
		       status == o.status && error == o.error && started == o.started && completed == o.completed;
	}
};

std::ostream &operator<<(std::ostream &os, const LedgerRow &r) {
	return os << "{" << r.table << " " << r.start_id << ".." << r.end_id << " " << r.records << " " << r.status << " "
	          << (r.error ? *r.error : "NULL") << " started=" << r.started << " completed=" << r.completed << "}";
}

class RemoteLedger : public ::testing::Test {
  protected:
	void SetUp() override {
		for (const auto &s : remote_ledger::create_sql())
			db.exec(s);
	}

	void run(const std::vector<std::string> &stmts) {
		for (const auto &s : stmts)
			db.exec(s);
	}

	void claim(const std::string &table, int64_t start_id, int64_t end_id) {
		run(remote_ledger::claim_sql(table, start_id, end_id));
	}

	std::vector<LedgerRow> rows() {
		std::vector<LedgerRow> out;
		for (const auto &r : db.query("SELECT table_name, start_id, end_id, records_processed, status, error_message, "
		                              "started_at IS NOT NULL, completed_at IS NOT NULL FROM migration_checkpoints "
		                              "ORDER BY table_name, start_id, end_id")) {
			LedgerRow row;
			row.table = r[0].bytes;
			row.start_id = r[1].i;
			row.end_id = r[2].i;
			row.records = r[3].i;
			row.status = r[4].bytes;
			if (r[5].type != SQLITE_NULL)
				row.error = r[5].bytes;
			row.started = r[6].i != 0;
			row.completed = r[7].i != 0;
			out.push_back(std::move(row));
		}
		return out;
	}

	// The completed ranges as pg2d1 reads them back: {start, end} → records, all three columns as TEXT
	// or INTEGER exactly as D1 returns them.
	std::vector<std::tuple<std::string, std::string, int64_t>> completed(const std::string &table) {
		std::vector<std::tuple<std::string, std::string, int64_t>> out;
		for (const auto &r : db.query(remote_ledger::completed_ranges_sql(table) + " ORDER BY start_id")) {
			EXPECT_EQ(r[0].type, SQLITE_TEXT);
			EXPECT_EQ(r[1].type, SQLITE_TEXT);
			EXPECT_EQ(r[2].type, SQLITE_INTEGER);
			out.emplace_back(r[0].bytes, r[1].bytes, r[2].i);
		}
		return out;
	}

	SqliteDb db;
};

TEST(RemoteLedgerSql, CheckpointTableDdlIsTheLedgerCreate) {
	EXPECT_EQ(remote_ledger::create_sql(), checkpoint_table_ddl());
	EXPECT_EQ(remote_ledger::probe_sql(), "SELECT count(*) AS n FROM migration_checkpoints");
}

// The statements' text is what older workers sent: a changed text is a changed ledger protocol.
TEST(RemoteLedgerSql, ExactText) {
	const auto claim = remote_ledger::claim_sql("t", 1, 50000);
	ASSERT_EQ(claim.size(), 2u);
	const std::string where = " WHERE table_name = 't' AND start_id = 1 AND end_id = 50000";
	EXPECT_EQ(claim[0], "INSERT INTO migration_checkpoints (table_name, start_id, end_id, records_processed, status, "
	                    "started_at) SELECT 't', 1, 50000, 0, 'in_progress', datetime('now') WHERE NOT EXISTS "
	                    "(SELECT 1 FROM migration_checkpoints" +
	                        where + ")");
	EXPECT_EQ(claim[1], "UPDATE migration_checkpoints SET status = 'in_progress', started_at = datetime('now'), "
	                    "completed_at = NULL, error_message = NULL" +
	                        where);
	EXPECT_EQ(remote_ledger::complete_sql("t", 1, 50000, 49999),
	          "UPDATE migration_checkpoints SET status = 'completed', records_processed = 49999, completed_at = "
	          "datetime('now'), error_message = NULL" +
	              where);
	EXPECT_EQ(remote_ledger::fail_sql("t", 1, 50000, "boom"),
	          "UPDATE migration_checkpoints SET status = 'failed', error_message = 'boom'" + where);
	EXPECT_EQ(remote_ledger::reset_stuck_sql("t"),
	          "UPDATE migration_checkpoints SET status = 'pending' WHERE table_name = 't' AND status = 'in_progress'");
	EXPECT_EQ(remote_ledger::retry_failed_sql("t"),
	          "UPDATE migration_checkpoints SET status = 'pending', "
	          "error_message = NULL WHERE table_name = 't' AND status = 'failed'");
	EXPECT_EQ(remote_ledger::forget_table_sql("t"), "DELETE FROM migration_checkpoints WHERE table_name = 't'");
	EXPECT_EQ(remote_ledger::completed_ranges_sql("t"),
	          "SELECT CAST(start_id AS TEXT), CAST(end_id AS TEXT), records_processed FROM migration_checkpoints "
	          "WHERE status = 'completed' AND table_name = 't'");
}

TEST(RemoteLedgerSql, ExtremeIdsAreExactLiterals) {
	const auto claim = remote_ledger::claim_sql("t", INT64_MIN, INT64_MAX);
	EXPECT_TRUE(test::contains(claim[0], "-9223372036854775808, 9223372036854775807, 0"));
}

TEST(RemoteLedgerSql, CutErrorMessage) {
	using remote_ledger::cut_error_message;
	using remote_ledger::kMaxErrorMessageBytes;
	EXPECT_EQ(cut_error_message(""), "");
	EXPECT_EQ(cut_error_message("short"), "short");
	const std::string exact(kMaxErrorMessageBytes, 'x');
	EXPECT_EQ(cut_error_message(exact), exact);
	EXPECT_EQ(cut_error_message(exact + "y"), exact);
	// A character of 2, 3 or 4 bytes that straddles the limit is dropped whole.
	for (const uint32_t cp : {0xE9u, 0x20ACu, 0x1F600u}) {
		const std::string ch = test::utf8(cp);
		for (size_t before = kMaxErrorMessageBytes - ch.size() + 1; before < kMaxErrorMessageBytes; ++before) {
			const std::string head(before, 'a');
			EXPECT_EQ(cut_error_message(head + ch + "tail"), head) << cp << " at " << before;
		}
		// One that ends exactly at the limit is kept.
		const std::string head(kMaxErrorMessageBytes - ch.size(), 'a');
		EXPECT_EQ(cut_error_message(head + ch + "tail"), head + ch) << cp;
	}
}

TEST_F(RemoteLedger, CreateTwiceIsIdempotent) {
	for (const auto &s : remote_ledger::create_sql())
		db.exec(s);
	EXPECT_EQ(db.count("migration_checkpoints"), 0);
	EXPECT_EQ(db.query(remote_ledger::probe_sql())[0][0].i, 0);
}

TEST_F(RemoteLedger, ClaimTwiceLeavesOneInProgressRow) {
	claim("orders", 1, 50000);
	claim("orders", 1, 50000);
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"orders", 1, 50000, 0, "in_progress", std::nullopt, true, false}}));
	EXPECT_EQ(db.query(remote_ledger::probe_sql())[0][0].i, 1);
}

TEST_F(RemoteLedger, CompleteRecordsTheRowsAndClaimAgainReopens) {
	claim("orders", 1, 50000);
	db.exec(remote_ledger::complete_sql("orders", 1, 50000, 49876));
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"orders", 1, 50000, 49876, "completed", std::nullopt, true, true}}));
	// A range copied again (resume => true after a changed table) is claimed again: in_progress,
	// completed_at cleared, still one row.
	claim("orders", 1, 50000);
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"orders", 1, 50000, 49876, "in_progress", std::nullopt, true, false}}));
	db.exec(remote_ledger::complete_sql("orders", 1, 50000, 50000));
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"orders", 1, 50000, 50000, "completed", std::nullopt, true, true}}));
}

TEST_F(RemoteLedger, RangesAreIdentifiedByTableStartAndEnd) {
	claim("orders", 1, 100);
	claim("orders", 1, 200); // same start, other end: another range
	claim("orders_2", 1, 100);
	db.exec(remote_ledger::complete_sql("orders", 1, 200, 7));
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"orders", 1, 100, 0, "in_progress", std::nullopt, true, false},
	                                          {"orders", 1, 200, 7, "completed", std::nullopt, true, true},
	                                          {"orders_2", 1, 100, 0, "in_progress", std::nullopt, true, false}}));
}

TEST_F(RemoteLedger, FailKeepsQuotesAndCutsUtf8AtTheLimit) {
	claim("it's", 1, 10);
	claim("it's", 11, 20);
	db.exec(remote_ledger::complete_sql("it's", 1, 10, 10));
	// Quotes of both kinds, multi-byte UTF-8, and a 4-byte character straddling the 2,000-byte limit.
	std::string message = "D1 said: 'no such table: \"x\"' — résumé ";
	const std::string emoji = test::utf8(0x1F600);
	while (message.size() + 2 <= remote_ledger::kMaxErrorMessageBytes - 2)
		message += "é";
	message.resize(remote_ledger::kMaxErrorMessageBytes - 2, 'x');
	ASSERT_TRUE(is_valid_utf8(message));
	message += emoji + " and more";
	db.exec(remote_ledger::fail_sql("it's", 11, 20, message));
	const auto got = rows();
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(got[0], (LedgerRow{"it's", 1, 10, 10, "completed", std::nullopt, true, true}));
	EXPECT_EQ(got[1].status, "failed");
	ASSERT_TRUE(got[1].error.has_value());
	EXPECT_EQ(*got[1].error, message.substr(0, remote_ledger::kMaxErrorMessageBytes - 2));
	EXPECT_TRUE(is_valid_utf8(*got[1].error));
	EXPECT_EQ(db.select("length(CAST(error_message AS BLOB)) FROM migration_checkpoints WHERE status = 'failed'").i,
	          static_cast<int64_t>(remote_ledger::kMaxErrorMessageBytes - 2));
	EXPECT_TRUE(test::contains(*got[1].error, "'no such table: \"x\"'"));
}

TEST_F(RemoteLedger, ResetStuckTurnsOnlyThatTablesInProgressToPending) {
	claim("a", 1, 10);
	claim("a", 11, 20);
	claim("a", 21, 30);
	claim("b", 1, 10);
	db.exec(remote_ledger::complete_sql("a", 1, 10, 10));
	db.exec(remote_ledger::fail_sql("a", 21, 30, "x"));
	db.exec(remote_ledger::reset_stuck_sql("a"));
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"a", 1, 10, 10, "completed", std::nullopt, true, true},
	                                          {"a", 11, 20, 0, "pending", std::nullopt, true, false},
	                                          {"a", 21, 30, 0, "failed", "x", true, false},
	                                          {"b", 1, 10, 0, "in_progress", std::nullopt, true, false}}));
}

TEST_F(RemoteLedger, RetryFailedTurnsOnlyThatTablesFailedToPending) {
	claim("a", 1, 10);
	claim("a", 11, 20);
	claim("b", 1, 10);
	db.exec(remote_ledger::fail_sql("a", 1, 10, "timeout"));
	db.exec(remote_ledger::fail_sql("b", 1, 10, "timeout"));
	db.exec(remote_ledger::retry_failed_sql("a"));
	EXPECT_EQ(rows(), (std::vector<LedgerRow>{{"a", 1, 10, 0, "pending", std::nullopt, true, false},
	                                          {"a", 11, 20, 0, "in_progress", std::nullopt, true, false},
	                                          {"b", 1, 10, 0, "failed", "timeout", true, false}}));
	// A retried range is claimed and completed like any other.
	claim("a", 1, 10);
	db.exec(remote_ledger::complete_sql("a", 1, 10, 3));
	EXPECT_EQ(rows()[0], (LedgerRow{"a", 1, 10, 3, "completed", std::nullopt, true, true}));
}

TEST_F(RemoteLedger, ForgetTableDeletesOnlyThatTable) {
	claim("a", 1, 10);
	claim("a", 11, 20);
	claim("a'b", 1, 10);
	claim("b", 1, 10);
	db.exec(remote_ledger::forget_table_sql("a"));
	const auto got = rows();
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(got[0].table, "a'b");
	EXPECT_EQ(got[1].table, "b");
	db.exec(remote_ledger::forget_table_sql("a'b"));
	db.exec(remote_ledger::forget_table_sql("b"));
	EXPECT_EQ(db.count("migration_checkpoints"), 0);
	db.exec(remote_ledger::forget_table_sql("nothing here")); // no rows: no error
}

TEST_F(RemoteLedger, CompletedRangesReadBack) {
	claim("t", 1, 50000);
	claim("t", 50001, 100000);
	claim("t", 100001, 9223372036854775807);
	claim("other", 1, 50000);
	db.exec(remote_ledger::complete_sql("t", 1, 50000, 50000));
	db.exec(remote_ledger::complete_sql("t", 100001, 9223372036854775807, 12));
	db.exec(remote_ledger::complete_sql("other", 1, 50000, 1));
	db.exec(remote_ledger::fail_sql("t", 50001, 100000, "x"));
	using Range = std::tuple<std::string, std::string, int64_t>;
	EXPECT_EQ(completed("t"), (std::vector<Range>{{"1", "50000", 50000}, {"100001", "9223372036854775807", 12}}));
	EXPECT_EQ(completed("other"), (std::vector<Range>{{"1", "50000", 1}}));
	EXPECT_TRUE(completed("none").empty());
}

TEST_F(RemoteLedger, NonAsciiTableNames) {
	const std::string name = "café_" + test::utf8(0x1F600);
	claim(name, -5, 5);
	db.exec(remote_ledger::complete_sql(name, -5, 5, 11));
	using Range = std::tuple<std::string, std::string, int64_t>;
	EXPECT_EQ(completed(name), (std::vector<Range>{{"-5", "5", 11}}));
	EXPECT_TRUE(completed("café_").empty());
}

} // namespace
} // namespace pg2d1
