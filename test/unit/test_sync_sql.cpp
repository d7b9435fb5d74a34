// test_sync_sql.cpp — the delete, key-page and packing statements of incremental sync, run in a
// real SQLite: the rows left after the deletes and the keys the pages return are read back.
// Run by ctest (pg2d1_unit_tests).
#include "core/sync_sql.hpp"

#include "core/error.hpp"
#include "sqlite_db.hpp"

#include <gtest/gtest.h>

namespace pg2d1 {
namespace {

using test::SqliteDb;

std::vector<int64_t> ids(SqliteDb &db, const std::string &sql) {
	std::vector<int64_t> out;
	for (auto &row : db.query(sql)) {
		out.push_back(row[0].i);
	}
	return out;
}

TEST(SyncSql, DeletesExactlyTheGivenIntegerKeysAcrossStatements) {
	SqliteDb db;
	db.exec("CREATE TABLE \"t x\" (id INTEGER PRIMARY KEY, v TEXT)");
	for (int i = 1; i <= 500; i++) {
		db.exec("INSERT INTO \"t x\" VALUES (" + std::to_string(i) + ", 'v')");
	}
	std::vector<std::vector<std::string>> keys;
	for (int i = 2; i <= 500; i += 2) {
		keys.push_back({std::to_string(i)});
	}
	keys.push_back({"9999"}); // a key D1 does not have: no error
	auto stmts = delete_statements("t x", {"id"}, keys, 200);
	EXPECT_GT(stmts.size(), 5u);
	for (auto &s : stmts) {
		EXPECT_LE(s.size(), 200u) << s;
		db.exec(s);
	}
	auto left = ids(db, "SELECT id FROM \"t x\" ORDER BY id");
	ASSERT_EQ(left.size(), 250u);
	for (size_t i = 0; i < left.size(); i++) {
		EXPECT_EQ(left[i], static_cast<int64_t>(2 * i + 1));
	}
}

TEST(SyncSql, DeletesCompositeTextKeysWithQuotes) {
	SqliteDb db;
	db.exec("CREATE TABLE t (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))");
	db.exec("INSERT INTO t VALUES ('x', 1, ''), ('x', 2, ''), ('it''s', 1, ''), ('y', 1, '')");
	auto stmts = delete_statements("t", {"a", "b"}, {{"'x'", "2"}, {"'it''s'", "1"}}, 100000);
	ASSERT_EQ(stmts.size(), 1u);
	db.exec(stmts[0]);
	auto rows = db.query("SELECT a || ':' || b FROM t ORDER BY a, b");
	ASSERT_EQ(rows.size(), 2u);
	EXPECT_EQ(rows[0][0].bytes, "x:1");
	EXPECT_EQ(rows[1][0].bytes, "y:1");
}

TEST(SyncSql, AtMostMaxKeysPerStatement) {
	SqliteDb db;
	db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
	db.exec(
	    "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 2500) INSERT INTO t SELECT i FROM g");
	std::vector<std::vector<std::string>> keys;
	for (int i = 1; i <= 2500; i++) {
		keys.push_back({std::to_string(i)});
	}
	auto stmts = delete_statements("t", {"id"}, keys, 100000);
	ASSERT_EQ(stmts.size(), 3u); // 1000 + 1000 + 500 (kMaxInListTerms)
	for (auto &s : stmts) {
		db.exec(s);
	}
	EXPECT_EQ(db.count("t"), 0);
}

TEST(SyncSql, RefusesAKeyTooLongForAStatement) {
	EXPECT_THROW(delete_statements("t", {"id"}, {{"'" + std::string(300, 'a') + "'"}}, 200), Error);
	EXPECT_THROW(delete_statements("t", {"a", "b"}, {{"1"}}, 200), Error);
	EXPECT_TRUE(delete_statements("t", {"id"}, {}, 200).empty());
}

TEST(SyncSql, KeyPagesWalkEveryKeyOnceInSqliteOrder) {
	SqliteDb db;
	db.exec("CREATE TABLE t (a TEXT, b INTEGER, PRIMARY KEY (a, b))");
	for (const char *a : {"B", "a", "b", "é"}) {
		for (int b = 1; b <= 7; b++) {
			db.exec(std::string("INSERT INTO t VALUES ('") + a + "', " + std::to_string(b) + ")");
		}
	}
	std::optional<std::vector<std::string>> after;
	std::vector<std::string> seen;
	for (int page = 0; page < 100; page++) {
		auto rows = db.query(d1_key_page_sql("t", {"a", "b"}, after, 5));
		if (rows.empty()) {
			break;
		}
		EXPECT_LE(rows.size(), 5u);
		for (auto &r : rows) {
			seen.push_back(r[0].bytes + std::to_string(r[1].i));
		}
		auto &last = rows.back();
		after = std::vector<std::string>{"'" + last[0].bytes + "'", std::to_string(last[1].i)};
	}
	ASSERT_EQ(seen.size(), 28u);
	EXPECT_EQ(seen.front(), "B1");
	EXPECT_EQ(seen.back(), "é7");
	for (size_t i = 1; i < seen.size(); i++) {
		EXPECT_NE(seen[i - 1], seen[i]);
	}
}

TEST(SyncSql, PacksInOrderWithinLimits) {
	std::vector<Statement> stmts;
	for (int i = 0; i < 10; i++) {
		stmts.push_back({std::string(static_cast<size_t>(10 + i), 'x'), {}});
	}
	stmts.push_back({std::string(500, 'y'), {}}); // larger than max_bytes: alone
	auto reqs = pack_requests(stmts, 3, 40);
	size_t n = 0;
	std::string order;
	for (auto &r : reqs) {
		EXPECT_LE(r.size(), 3u);
		size_t bytes = 0;
		for (auto &s : r) {
			bytes += s.sql.size();
			order += std::to_string(s.sql.size()) + ",";
		}
		EXPECT_TRUE(bytes <= 40 || r.size() == 1);
		n += r.size();
	}
	EXPECT_EQ(n, 11u);
	EXPECT_EQ(order, "10,11,12,13,14,15,16,17,18,19,500,");
	EXPECT_EQ(reqs.back().size(), 1u);
}

} // namespace
} // namespace pg2d1
