// sqlite_db.hpp — a tiny in-memory SQLite wrapper for the unit tests (test-only).
// Must never be linked into pg2d1_core: SQLite is the tests' oracle, not a dependency.
// Used by the encoding, batch planner and DDL tests to run generated SQL for real.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pg2d1::test {

// One result cell: SQLite's storage class plus its value in every form.
struct Cell {
	int type = SQLITE_NULL; // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
	int64_t i = 0;
	double d = 0;
	std::string bytes; // text or blob bytes
};

class SqliteDb {
  public:
	SqliteDb() {
		if (sqlite3_open(":memory:", &db_) != SQLITE_OK)
			throw std::runtime_error("sqlite3_open failed");
	}
	~SqliteDb() {
		sqlite3_close(db_);
	}
	SqliteDb(const SqliteDb &) = delete;
	SqliteDb &operator=(const SqliteDb &) = delete;

	// Runs one or more statements; throws with SQLite's message on error.
	void exec(const std::string &sql) {
		char *err = nullptr;
		if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
			std::string msg = err != nullptr ? err : "unknown error";
			sqlite3_free(err);
			throw std::runtime_error(msg + " in: " + sql.substr(0, 200));
		}
	}

	// One statement with text parameters ?1…?n (bound as TEXT, as D1 binds JSON strings).
	void exec_bound(const std::string &sql, const std::vector<std::string> &params) {
		sqlite3_stmt *st = nullptr;
		if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr) != SQLITE_OK)
			throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in: " + sql.substr(0, 200));
		for (size_t i = 0; i < params.size(); ++i)
			sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].data(), static_cast<int>(params[i].size()),
			                  SQLITE_TRANSIENT);
		const int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in: " + sql.substr(0, 200));
	}

	// unhex(text) for SQLite before 3.41 (D1's SQLite has it built in).
	void add_unhex() {
		sqlite3_create_function(
		    db_, "unhex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
		    [](sqlite3_context *ctx, int, sqlite3_value **argv) {
			    const auto *h = reinterpret_cast<const char *>(sqlite3_value_text(argv[0]));
			    const int n = sqlite3_value_bytes(argv[0]);
			    std::string out;
			    auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
			    for (int i = 0; i + 1 < n; i += 2)
				    out.push_back(static_cast<char>(nib(h[i]) << 4 | nib(h[i + 1])));
			    sqlite3_result_blob(ctx, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
		    },
		    nullptr, nullptr);
	}

	// All rows of a single statement.
	std::vector<std::vector<Cell>> query(const std::string &sql) {
		sqlite3_stmt *st = nullptr;
		if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr) != SQLITE_OK)
			throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in: " + sql.substr(0, 200));
		std::vector<std::vector<Cell>> rows;
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			std::vector<Cell> row;
			for (int c = 0; c < sqlite3_column_count(st); ++c)
				row.push_back(cell(st, c));
			rows.push_back(std::move(row));
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in: " + sql.substr(0, 200));
		return rows;
	}

	// The single value of `SELECT <expr>`.
	Cell select(const std::string &expr) {
		auto rows = query("SELECT " + expr);
		if (rows.size() != 1 || rows[0].size() != 1)
			throw std::runtime_error("expected one value from SELECT " + expr);
		return rows[0][0];
	}

	int64_t count(const std::string &table) {
		return query("SELECT count(*) FROM " + table)[0][0].i;
	}

  private:
	static Cell cell(sqlite3_stmt *st, int c) {
		Cell v;
		v.type = sqlite3_column_type(st, c);
		v.i = sqlite3_column_int64(st, c);
		v.d = sqlite3_column_double(st, c);
		if (v.type == SQLITE_BLOB) {
			const void *p = sqlite3_column_blob(st, c);
			v.bytes.assign(static_cast<const char *>(p), static_cast<size_t>(sqlite3_column_bytes(st, c)));
		} else if (v.type == SQLITE_TEXT) {
			const unsigned char *p = sqlite3_column_text(st, c);
			v.bytes.assign(reinterpret_cast<const char *>(p), static_cast<size_t>(sqlite3_column_bytes(st, c)));
		}
		return v;
	}

	sqlite3 *db_ = nullptr;
};

} // namespace pg2d1::test
