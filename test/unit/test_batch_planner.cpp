// test_batch_planner.cpp — proves every limit holds, rows stay once and in order, and upserts run in SQLite.
// Must never trust sizes computed the planner's way: limits are checked on the produced text.
// Run by ctest (pg2d1_unit_tests).
#include "core/batch_planner.hpp"

#include "core/sqlite_encode.hpp"
#include "sqlite_db.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <random>

namespace pg2d1 {
namespace {

using test::capture_error;
using test::contains;
using test::SqliteDb;

UpsertTarget speed_target() {
	return UpsertTarget{"speed", {"id", "name"}, {"id"}};
}

// "(id,'aaa…')" of exactly `bytes` bytes (at least 6).
std::string tuple_of_size(int id, size_t bytes) {
	std::string t = "(" + std::to_string(id) + ",'";
	const size_t fixed = t.size() + 2;
	t.append(bytes > fixed ? bytes - fixed : 0, 'a');
	t.append("')");
	return t;
}

std::vector<Request> drain(BatchPlanner &p) {
	std::vector<Request> out;
	while (p.has_request())
		out.push_back(p.pop_request());
	return out;
}

// The ids carried by an upsert statement, in order (tuples as made by tuple_of_size).
std::vector<int> ids_in(const std::string &stmt) {
	std::vector<int> ids;
	for (size_t at = stmt.find(" VALUES (") + 9; at != std::string::npos && at < stmt.size();) {
		ids.push_back(std::stoi(stmt.substr(at)));
		const size_t next = stmt.find("),(", at);
		at = next == std::string::npos ? next : next + 3;
	}
	return ids;
}

void expect_within_limits(const Request &r, const Limits &l) {
	size_t bytes = 0;
	for (const auto &s : r.statements) {
		EXPECT_LE(s.size(), l.max_statement_bytes);
		bytes += s.size();
	}
	EXPECT_FALSE(r.statements.empty());
	EXPECT_EQ(r.bytes, bytes);
	EXPECT_LE(r.bytes, l.max_request_bytes);
	EXPECT_LE(r.statements.size(), l.max_statements_per_request);
	if (l.max_rows_per_request > 0) {
		EXPECT_LE(r.rows, l.max_rows_per_request);
	}
}

TEST(Upsert, PrefixAndSuffixText) {
	const UpsertTarget t{"we\"ird", {"id", "lat", "na\"me"}, {"id"}};
	EXPECT_EQ(upsert_prefix(t), "INSERT INTO \"we\"\"ird\" (\"id\",\"lat\",\"na\"\"me\") VALUES ");
	EXPECT_EQ(upsert_suffix(t),
	          " ON CONFLICT (\"id\") DO UPDATE SET \"lat\"=excluded.\"lat\",\"na\"\"me\"=excluded.\"na\"\"me\"");
	const UpsertTarget all_key{"link", {"a", "b"}, {"a", "b"}};
	EXPECT_EQ(upsert_suffix(all_key), " ON CONFLICT (\"a\",\"b\") DO NOTHING");
}

TEST(Upsert, TargetWithoutKeyOrWithUnknownKeyIsRefused) {
	EXPECT_EQ(capture_error([] {
		          upsert_suffix(UpsertTarget{"t", {"a"}, {}});
	          }).sqlstate(),
	          sqlstate::kInvalidParameter);
	EXPECT_EQ(capture_error([] {
		          BatchPlanner(UpsertTarget{"t", {"a"}, {"b"}}, Limits{});
	          }).sqlstate(),
	          sqlstate::kInvalidParameter);
	EXPECT_EQ(capture_error([] {
		          upsert_prefix(UpsertTarget{"t", {}, {"a"}});
	          }).sqlstate(),
	          sqlstate::kInvalidParameter);
}

TEST(BatchPlanner, StatementOfExactlyMaxBytesIsAcceptedOneMoreSplits) {
	const UpsertTarget t = speed_target();
	const size_t fixed = upsert_prefix(t).size() + upsert_suffix(t).size();
	Limits l;
	l.max_statement_bytes = fixed + 40 + 1 + 40; // two 40-byte tuples and the comma
	{
		BatchPlanner p(t, l);
		p.add_row(tuple_of_size(1, 40));
		p.add_row(tuple_of_size(2, 40));
		p.finish();
		const auto reqs = drain(p);
		ASSERT_EQ(reqs.size(), 1u);
		ASSERT_EQ(reqs[0].statements.size(), 1u);
		EXPECT_EQ(reqs[0].statements[0].size(), l.max_statement_bytes);
		EXPECT_EQ(reqs[0].rows, 2u);
	}
	{
		BatchPlanner p(t, l);
		p.add_row(tuple_of_size(1, 40));
		p.add_row(tuple_of_size(2, 41));
		p.finish();
		const auto reqs = drain(p);
		ASSERT_EQ(reqs.size(), 1u);
		ASSERT_EQ(reqs[0].statements.size(), 2u);
		EXPECT_EQ(ids_in(reqs[0].statements[0]), std::vector<int>{1});
		EXPECT_EQ(ids_in(reqs[0].statements[1]), std::vector<int>{2});
	}
	{ // a single tuple filling the statement exactly
		Limits one = l;
		one.max_statement_bytes = fixed + 40;
		BatchPlanner p(t, one);
		p.add_row(tuple_of_size(1, 40));
		EXPECT_EQ(capture_error([&] { p.add_row(tuple_of_size(2, 41)); }).sqlstate(), sqlstate::kProgramLimit);
	}
}

TEST(BatchPlanner, OversizeTupleThrows54000NamingSizeAndLimit) {
	Limits l;
	l.max_statement_bytes = 1000;
	BatchPlanner p(speed_target(), l);
	const std::string huge = tuple_of_size(1, 5000);
	const Error e = capture_error([&] { p.add_row(huge); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kProgramLimit);
	const size_t needed = upsert_prefix(speed_target()).size() + huge.size() + upsert_suffix(speed_target()).size();
	EXPECT_TRUE(contains(e.what(), std::to_string(needed))) << e.what();
	EXPECT_TRUE(contains(e.what(), "1000")) << e.what();
	EXPECT_TRUE(contains(e.hint(), "pg2d1.max_statement_bytes")) << e.hint();
	EXPECT_EQ(p.pending_rows(), 0u);
}

TEST(BatchPlanner, MaxRowsPerRequestIsHonouredAndRequestsAppearEagerly) {
	Limits l;
	l.max_rows_per_request = 7;
	BatchPlanner p(speed_target(), l);
	for (int i = 0; i < 6; ++i)
		p.add_row(tuple_of_size(i, 20));
	EXPECT_FALSE(p.has_request());
	EXPECT_EQ(p.pending_rows(), 6u);
	p.add_row(tuple_of_size(6, 20));
	ASSERT_TRUE(p.has_request()) << "a request with max_rows_per_request rows is ready at once";
	const Request r = p.pop_request();
	EXPECT_EQ(r.rows, 7u);
	EXPECT_EQ(p.pending_rows(), 0u);
	for (int i = 7; i < 30; ++i)
		p.add_row(tuple_of_size(i, 20));
	p.finish();
	size_t total = 0;
	for (const auto &req : drain(p)) {
		EXPECT_LE(req.rows, 7u);
		total += req.rows;
	}
	EXPECT_EQ(total, 23u);
}

TEST(BatchPlanner, TrailerIsLastStatementOfLastRequest) {
	Limits l;
	l.max_statements_per_request = 3;
	l.max_statement_bytes = 200;
	BatchPlanner p(speed_target(), l);
	for (int i = 0; i < 5; ++i)
		p.add_row(tuple_of_size(i, 100)); // one row per statement
	p.finish(std::string("UPDATE migration_checkpoints SET status='completed' WHERE id=1"));
	const auto reqs = drain(p);
	ASSERT_EQ(reqs.size(), 2u);
	EXPECT_EQ(reqs[0].statements.size(), 3u);
	ASSERT_EQ(reqs[1].statements.size(), 3u); // 2 data statements + trailer
	EXPECT_TRUE(contains(reqs[1].statements.back(), "migration_checkpoints"));
	EXPECT_EQ(reqs[1].rows, 2u);
}

TEST(BatchPlanner, TrailerGoesToItsOwnRequestWhenTheLastIsFull) {
	Limits l;
	l.max_statements_per_request = 2;
	l.max_statement_bytes = 200;
	BatchPlanner p(speed_target(), l);
	for (int i = 0; i < 4; ++i)
		p.add_row(tuple_of_size(i, 100));
	p.finish(std::string("SELECT 'done'"));
	const auto reqs = drain(p);
	ASSERT_EQ(reqs.size(), 3u);
	EXPECT_EQ(reqs[2].statements, std::vector<std::string>{"SELECT 'done'"});
	EXPECT_EQ(reqs[2].rows, 0u);
	EXPECT_EQ(reqs[2].bytes, std::string("SELECT 'done'").size());

	// … and when it would push the request over max_request_bytes.
	const UpsertTarget t = speed_target();
	Limits b;
	b.max_statement_bytes = 1000;
	b.max_request_bytes = upsert_prefix(t).size() + upsert_suffix(t).size() + 100 + 5;
	BatchPlanner q(t, b);
	q.add_row(tuple_of_size(1, 100));
	q.finish(std::string("SELECT 1;"));
	const auto reqs2 = drain(q);
	ASSERT_EQ(reqs2.size(), 2u);
	EXPECT_EQ(reqs2[1].statements, std::vector<std::string>{"SELECT 1;"});
	for (const auto &r : reqs2)
		expect_within_limits(r, b);
}

TEST(BatchPlanner, TrailerWithoutPendingRowsIsARequestOfItsOwn) {
	BatchPlanner p(speed_target(), Limits{});
	p.finish(std::string("SELECT 1"));
	auto reqs = drain(p);
	ASSERT_EQ(reqs.size(), 1u);
	EXPECT_EQ(reqs[0].statements, std::vector<std::string>{"SELECT 1"});
	EXPECT_EQ(reqs[0].rows, 0u);

	p.finish();
	EXPECT_FALSE(p.has_request()) << "finish() without rows or trailer makes no request";
}

TEST(BatchPlanner, TrailerJoinsAReadyRequestThatStillHasRoom) {
	Limits l;
	l.max_rows_per_request = 4;
	BatchPlanner p(speed_target(), l);
	for (int i = 0; i < 4; ++i)
		p.add_row(tuple_of_size(i, 20));
	ASSERT_TRUE(p.has_request());
	p.finish(std::string("SELECT 'checkpoint'"));
	const auto reqs = drain(p);
	ASSERT_EQ(reqs.size(), 1u) << "the row cap does not stop the trailer from riding along";
	EXPECT_EQ(reqs[0].rows, 4u);
	EXPECT_EQ(reqs[0].statements.back(), "SELECT 'checkpoint'");
}

TEST(BatchPlanner, OversizeTrailerIsRefused) {
	Limits l;
	l.max_statement_bytes = 500;
	BatchPlanner p(speed_target(), l);
	EXPECT_EQ(capture_error([&] { p.finish(std::string(501, 'x')); }).sqlstate(), sqlstate::kProgramLimit);
}

// Random limits and tuple sizes: every limit holds, rows are conserved and ordered, the
// trailer is where it must be.
TEST(BatchPlanner, PropertyRandomRowsRespectEveryLimit) {
	std::mt19937 rng(5);
	const UpsertTarget t = speed_target();
	const size_t fixed = upsert_prefix(t).size() + upsert_suffix(t).size();
	for (int round = 0; round < 300; ++round) {
		Limits l;
		l.max_statement_bytes = fixed + 60 + rng() % 3000;
		l.max_request_bytes = l.max_statement_bytes + rng() % 20000;
		l.max_statements_per_request = 1 + rng() % 8;
		l.max_rows_per_request = rng() % 3 == 0 ? 0 : 1 + rng() % 200;
		const size_t max_tuple = l.max_statement_bytes - fixed;
		BatchPlanner p(t, l);
		std::vector<Request> reqs;
		const int rows = static_cast<int>(rng() % 1500);
		for (int i = 0; i < rows; ++i) {
			const size_t size = std::min<size_t>(max_tuple, 8 + rng() % (rng() % 10 == 0 ? max_tuple : 80));
			p.add_row(tuple_of_size(i, size));
			if (rng() % 4 == 0)
				for (auto &r : drain(p))
					reqs.push_back(std::move(r));
		}
		const bool with_trailer = rng() % 2 == 0;
		const std::string trailer =
		    "UPDATE migration_checkpoints SET status='completed' WHERE id=" + std::to_string(round);
		p.finish(with_trailer ? std::optional<std::string>(trailer) : std::nullopt);
		for (auto &r : drain(p))
			reqs.push_back(std::move(r));

		std::vector<int> seen;
		size_t counted_rows = 0;
		for (size_t k = 0; k < reqs.size(); ++k) {
			expect_within_limits(reqs[k], l);
			size_t rows_here = 0;
			for (const auto &s : reqs[k].statements) {
				if (s == trailer)
					continue;
				const auto ids = ids_in(s);
				rows_here += ids.size();
				seen.insert(seen.end(), ids.begin(), ids.end());
			}
			EXPECT_EQ(rows_here, reqs[k].rows);
			counted_rows += rows_here;
		}
		ASSERT_EQ(seen.size(), static_cast<size_t>(rows)) << "round " << round;
		for (int i = 0; i < rows; ++i)
			ASSERT_EQ(seen[static_cast<size_t>(i)], i) << "row order, round " << round;
		EXPECT_EQ(counted_rows, static_cast<size_t>(rows));
		if (with_trailer) {
			ASSERT_FALSE(reqs.empty());
			EXPECT_EQ(reqs.back().statements.back(), trailer);
			for (size_t k = 0; k + 1 < reqs.size(); ++k) {
				for (const auto &s : reqs[k].statements) {
					EXPECT_NE(s, trailer);
				}
			}
		}
		EXPECT_EQ(p.pending_rows(), 0u);
	}
}

struct Person {
	int64_t id;
	std::string name;
	double score;
};

std::string person_tuple(const Person &p) {
	std::string t = "(";
	append_integer_literal(t, p.id);
	t.push_back(',');
	append_text_literal(t, p.name);
	t.push_back(',');
	append_real_literal(t, p.score);
	t.push_back(')');
	return t;
}

void run_all(SqliteDb &db, BatchPlanner &p) {
	for (const auto &r : drain(p))
		for (const auto &s : r.statements)
			db.exec(s);
}

// The produced statements run in SQLite; re-running them changes nothing (idempotent);
// running them with new values updates rows in place.
TEST(BatchPlanner, StatementsAreIdempotentUpsertsInSqlite) {
	SqliteDb db;
	db.exec("CREATE TABLE \"peo\"\"ple\" (\"id\" INTEGER PRIMARY KEY, \"na me\" TEXT NOT NULL, \"score\" REAL)");
	const UpsertTarget t{"peo\"ple", {"id", "na me", "score"}, {"id"}};
	Limits l;
	l.max_statement_bytes = 700;
	l.max_statements_per_request = 3;
	std::vector<Person> people;
	for (int i = 0; i < 1000; ++i)
		people.push_back({int64_t{1} << 40 | i, "n'ame " + std::to_string(i) + " \xE6\x9D\xB1", i * 0.1});

	for (int pass = 0; pass < 2; ++pass) {
		BatchPlanner p(t, l);
		for (const auto &person : people)
			p.add_row(person_tuple(person));
		p.finish();
		run_all(db, p);
		EXPECT_EQ(db.count("\"peo\"\"ple\""), 1000) << "pass " << pass;
	}
	for (auto &person : people)
		person.score += 1;
	BatchPlanner p(t, l);
	for (const auto &person : people)
		p.add_row(person_tuple(person));
	p.finish();
	run_all(db, p);
	EXPECT_EQ(db.count("\"peo\"\"ple\""), 1000);
	const auto rows = db.query("SELECT \"id\", \"na me\", \"score\" FROM \"peo\"\"ple\" ORDER BY \"id\"");
	ASSERT_EQ(rows.size(), people.size());
	for (size_t i = 0; i < rows.size(); ++i) {
		EXPECT_EQ(rows[i][0].i, people[i].id);
		EXPECT_EQ(rows[i][1].bytes, people[i].name);
		EXPECT_EQ(rows[i][2].d, people[i].score);
	}
}

TEST(BatchPlanner, CompositeAndAllKeyTablesUpsertInSqlite) {
	SqliteDb db;
	db.exec("CREATE TABLE m (a INTEGER NOT NULL, b TEXT NOT NULL, v TEXT, PRIMARY KEY (a, b))");
	db.exec("CREATE TABLE link (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b))");
	for (int pass = 0; pass < 2; ++pass) {
		BatchPlanner m(UpsertTarget{"m", {"a", "b", "v"}, {"a", "b"}}, Limits{});
		BatchPlanner link(UpsertTarget{"link", {"a", "b"}, {"a", "b"}}, Limits{});
		for (int i = 0; i < 50; ++i) {
			m.add_row("(" + std::to_string(i % 5) + ",'" + std::to_string(i) + "','pass" + std::to_string(pass) + "')");
			link.add_row("(" + std::to_string(i) + "," + std::to_string(i * 2) + ")");
		}
		m.finish();
		link.finish();
		run_all(db, m);
		run_all(db, link);
	}
	EXPECT_EQ(db.count("m"), 50);
	EXPECT_EQ(db.count("link"), 50);
	EXPECT_EQ(db.query("SELECT count(*) FROM m WHERE v = 'pass1'")[0][0].i, 50);
}

} // namespace
} // namespace pg2d1

namespace pg2d1 {
namespace {

TEST(BatchPlannerParams, LargeRowIsAStatementOfItsOwnInRowOrder) {
	BatchPlanner p(UpsertTarget{"t", {"id", "txt", "bin"}, {"id"}}, Limits{});
	const std::string big_text(150000, 'x');
	const std::string big_hex = std::string(100000, '0') + "FF";
	p.add_row("(1,'a',X'00')");
	p.add_row("(2,'b',NULL)");
	p.add_row_with_params("(3,?1,unhex(?2))", {big_text + "'\"😀", big_hex});
	p.add_row("(4,'d',X'01')");
	p.finish("UPDATE t SET txt = txt WHERE 0");
	std::vector<Request> reqs = drain(p);
	std::vector<std::string> all;
	std::vector<std::vector<std::string>> params;
	size_t rows = 0;
	for (auto &r : reqs) {
		rows += r.rows;
		for (size_t i = 0; i < r.statements.size(); i++) {
			all.push_back(r.statements[i]);
			params.push_back(i < r.params.size() ? r.params[i] : std::vector<std::string>{});
			EXPECT_LE(r.statements[i].size(), Limits{}.max_statement_bytes);
		}
	}
	EXPECT_EQ(rows, 4u);
	ASSERT_EQ(all.size(), 4u); // rows 1-2, row 3 alone with its parameters, row 4, trailer
	EXPECT_TRUE(params[0].empty());
	EXPECT_EQ(params[1].size(), 2u);
	EXPECT_TRUE(contains(all[1], "VALUES (3,?1,unhex(?2)) ON CONFLICT"));
	EXPECT_TRUE(params[2].empty());

	SqliteDb db;
	db.add_unhex();
	db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, txt TEXT, bin BLOB)");
	for (size_t i = 0; i < all.size(); i++)
		db.exec_bound(all[i], params[i]);
	auto r = db.query("SELECT id, txt, bin FROM t ORDER BY id");
	ASSERT_EQ(r.size(), 4u);
	EXPECT_EQ(r[2][1].bytes, big_text + "'\"😀");
	EXPECT_EQ(r[2][2].bytes.size(), 50001u);
	EXPECT_EQ(static_cast<unsigned char>(r[2][2].bytes.back()), 0xFFu);
	EXPECT_EQ(r[2][2].bytes[0], '\0');
}

TEST(BatchPlannerParams, LimitsAreEnforced) {
	Limits l;
	l.max_bound_params = 2;
	BatchPlanner p(UpsertTarget{"t", {"id", "a", "b", "c"}, {"id"}}, l);
	Error e = capture_error([&] { p.add_row_with_params("(1,?1,?2,?3)", {"x", "y", "z"}); });
	EXPECT_EQ(e.sqlstate(), "54000");
	EXPECT_TRUE(contains(e.what(), "3 bound parameters"));
	Error e2 = capture_error([&] { p.add_row_with_params("(1,'" + std::string(200000, 'a') + "',?1,NULL)", {"x"}); });
	EXPECT_EQ(e2.sqlstate(), "54000");
}

TEST(BatchPlannerParams, OversizedRowGetsARequestOfItsOwn) {
	Limits l;
	l.max_request_bytes = 1000;
	BatchPlanner p(speed_target(), l);
	p.add_row("(1,'a')");
	p.add_row_with_params("(2,?1)", {std::string(5000, 'z')}); // alone above max_request_bytes
	p.add_row("(3,'c')");
	p.finish();
	std::vector<Request> reqs = drain(p);
	ASSERT_EQ(reqs.size(), 3u);
	EXPECT_EQ(reqs[0].rows, 1u);
	EXPECT_EQ(reqs[1].rows, 1u);
	EXPECT_EQ(reqs[1].params.at(0).at(0).size(), 5000u);
	EXPECT_EQ(reqs[2].rows, 1u);
	auto stmts = std::move(reqs[1]).to_statements();
	ASSERT_EQ(stmts.size(), 1u);
	EXPECT_EQ(stmts[0].params.size(), 1u);
}

} // namespace
} // namespace pg2d1
