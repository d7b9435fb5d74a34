// verify.cpp — range-by-range comparison of PostgreSQL and D1 (verify.hpp).
// Must never let a changed, missing or extra row go unnoticed: every value of both sides is
// rendered canonically and hashed in the same order. All PostgreSQL calls run in pg_call.
// Called by functions.cpp (pg2d1_verify) and migrate.cpp (verify => true).
#include "verify.hpp"

#include "boundary.hpp"
#include "rows.hpp"
#include "spi.hpp"
#include "core/checksum.hpp"
#include "core/sqlite_encode.hpp"

#include <algorithm>
#include <cstdlib>

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
}

namespace pg2d1 {
namespace {

// ORDER BY for PostgreSQL that matches SQLite's order of the values pg2d1 stored.
std::string d1_order_by(const SourceTable &t) {
	std::string out;
	for (int k : t.key_columns) {
		const SourceColumn &c = t.columns[k];
		std::string e;
		if (c.kind != ValueKind::Text) {
			e = c.select_expr; // integers, reals, booleans, bytea: the same order in both
		} else if (c.plain_text || c.select_expr != quote_ident(c.name)) {
			e = "(" + c.select_expr + ") COLLATE \"C\""; // UTF-8 bytes, as SQLite's BINARY
		} else {
			e = "(" + quote_ident(c.name) + "::text) COLLATE \"C\"";
		}
		out += (out.empty() ? "" : ", ") + e;
	}
	return out;
}

constexpr int64_t kPgChunk = 1000;               // PostgreSQL rows in memory at once
constexpr size_t kD1PageBytes = 8 * 1024 * 1024; // about this much D1 result per request
constexpr size_t kD1PageRows = 10000;

// The D1 literals of a PostgreSQL row's key, "(a,b)" for several columns (inside pg_call).
std::string key_literals(const SourceTable &t, HeapTuple tup, TupleDesc desc) {
	std::string lits;
	for (size_t k = 0; k < t.key_columns.size(); k++) {
		bool isnull;
		int col = t.key_columns[k];
		Datum d = SPI_getbinval(tup, desc, col + 1, &isnull);
		if (k) {
			lits.push_back(',');
		}
		append_d1_literal(lits, t.columns[col], d);
	}
	return t.key_columns.size() > 1 ? "(" + lits + ")" : lits;
}

// The D1 literals of the key of a row D1 returned in canonical form (d1_canonical_expr).
std::string d1_key_literals(const SourceTable &t, const std::vector<std::optional<std::string>> &row) {
	std::string lits;
	for (size_t k = 0; k < t.key_columns.size(); k++) {
		const int col = t.key_columns[k];
		const std::string v = col < static_cast<int>(row.size()) && row[col] ? *row[col] : "";
		if (k) {
			lits.push_back(',');
		}
		switch (t.columns[col].kind) {
		case ValueKind::Integer:
		case ValueKind::Boolean:
			lits += v; // CAST(… AS TEXT): exact digits
			break;
		case ValueKind::Real:
			if (v == "NaN") {
				lits += "'NaN'";
			} else if (v == "Inf" || v == "-Inf") {
				lits += v == "Inf" ? "9e999" : "-9e999";
			} else {
				append_real_literal(lits, std::strtod(v.c_str(), nullptr)); // rendered shortest: exact
			}
			break;
		case ValueKind::Blob:
			lits += "X'" + v + "'"; // hex()
			break;
		case ValueKind::Text:
			append_text_literal(lits, v);
			break;
		}
	}
	return t.key_columns.size() > 1 ? "(" + lits + ")" : lits;
}

std::string key_text(const std::vector<std::string> &v) {
	if (v.size() == 1) {
		return v[0];
	}
	std::string out;
	for (auto &x : v) {
		out += (out.empty() ? "" : ", ") + x;
	}
	return "(" + out + ")";
}

} // namespace

std::string VerifySummary::text() const {
	std::string s = std::to_string(ranges) + " ranges, " + std::to_string(pg_rows) + " rows in PostgreSQL, " +
	                std::to_string(d1_rows) + " in D1: ";
	if (ok()) {
		return s + "every value equal";
	}
	s += std::to_string(bad_ranges) + " ranges differ";
	if (!first_bad.empty()) {
		s += " (first: " + first_bad + ")";
	}
	if (d1_outside != 0) {
		s += ", " + std::to_string(d1_outside) + " D1 rows outside every PostgreSQL range";
	}
	return s;
}

VerifySummary verify_table(const SourceTable &t, D1Client &client, int64_t range_rows,
                           const std::function<void(const VerifyRange &)> &emit) {
	VerifySummary sum;
	const std::string d1_table = quote_ident(t.def.name);
	std::string d1_exprs;
	std::string d1_keys;
	for (auto &c : t.columns) {
		d1_exprs += (d1_exprs.empty() ? "" : ", ") + d1_canonical_expr(c);
	}
	for (int k : t.key_columns) {
		d1_keys += (d1_keys.empty() ? "" : ", ") + quote_ident(t.columns[k].name);
	}
	if (t.key_columns.size() > 1) {
		d1_keys = "(" + d1_keys + ")";
	}
	StatementResult total = client.raw({"SELECT count(*) FROM " + d1_table, {}});
	int64_t d1_total = total.rows.empty() || !total.rows[0][0] ? 0 : std::stoll(*total.rows[0][0]);

	Portal portal = nullptr;
	pg_call([&] {
		std::string sql = "SELECT " + t.select_list() + " FROM " + t.qualified_name + " ORDER BY " + d1_order_by(t);
		SPIPlanPtr plan = SPI_prepare_cursor(sql.c_str(), 0, nullptr, CURSOR_OPT_NO_SCROLL);
		if (!plan) {
			elog(ERROR, "pg2d1: verify query failed to plan");
		}
		portal = SPI_cursor_open(nullptr, plan, nullptr, nullptr, true);
	});
	int64_t ordinal = 0;
	int64_t d1_in_ranges = 0;
	std::vector<std::optional<std::string>> cells;
	const std::string order_by = t.key_columns.size() > 1 ? d1_keys.substr(1, d1_keys.size() - 2) : d1_keys;
	for (;;) {
		// PostgreSQL side: the next range_rows rows, fetched kPgChunk at a time so memory stays
		// bounded whatever the row size.
		VerifyRange r;
		RowChecksum pg_sum;
		std::string lo, hi; // D1 literals of the first and last key
		size_t pg_bytes = 0;
		int64_t n = 0;
		for (;;) {
			uint64 got = 0;
			const long want = static_cast<long>(std::min<int64_t>(kPgChunk, range_rows - n));
			pg_call([&] {
				SPI_cursor_fetch(portal, true, want);
				got = SPI_processed;
				TupleDesc desc = SPI_tuptable->tupdesc;
				for (uint64 i = 0; i < got; i++) {
					HeapTuple tup = SPI_tuptable->vals[i];
					cells.clear();
					for (size_t c = 0; c < t.columns.size(); c++) {
						bool isnull;
						Datum d = SPI_getbinval(tup, desc, static_cast<int>(c) + 1, &isnull);
						cells.push_back(canonical_value(t.columns[c], d, isnull));
						pg_bytes += cells.back() ? cells.back()->size() + 8 : 8;
					}
					pg_sum.add_row(cells);
					const bool first = n == 0 && i == 0;
					const bool last = i + 1 == got;
					if (first || last) {
						std::string lits = key_literals(t, tup, desc);
						std::vector<std::string> key = key_texts(t, tup, desc);
						const int64_t pos = ordinal + n + static_cast<int64_t>(i) + 1;
						if (first) {
							lo = lits;
							r.start_key = key_text(key);
							r.start_id = t.integer_key ? std::stoll(key[0]) : pos;
						}
						if (last) {
							hi = lits;
							r.end_key = key_text(key);
							r.end_id = t.integer_key ? std::stoll(key[0]) : pos;
						}
					}
				}
				SPI_freetuptable(SPI_tuptable);
			});
			n += static_cast<int64_t>(got);
			if (got < static_cast<uint64>(want) || n >= range_rows) {
				break;
			}
			check_for_interrupts();
		}
		if (n == 0) {
			break;
		}
		ordinal += n;
		// D1 side: the same key range, by keyset pages sized to hold about kD1PageBytes.
		RowChecksum d1_sum;
		const size_t avg = std::max<size_t>(1, pg_bytes / static_cast<size_t>(n));
		const long page = static_cast<long>(std::clamp<size_t>(kD1PageBytes / avg, 1, kD1PageRows));
		std::string from = d1_keys + " >= " + lo;
		for (;;) {
			StatementResult res =
			    client.raw({"SELECT " + d1_exprs + " FROM " + d1_table + " WHERE " + from + " AND " + d1_keys +
			                    " <= " + hi + " ORDER BY " + order_by + " LIMIT " + std::to_string(page),
			                {}});
			for (auto &row : res.rows) {
				d1_sum.add_row(row);
			}
			if (static_cast<long>(res.rows.size()) < page) {
				break;
			}
			from = d1_keys + " > " + d1_key_literals(t, res.rows.back());
			check_for_interrupts();
		}
		r.pg_count = pg_sum.rows();
		r.d1_count = d1_sum.rows();
		r.pg_checksum = pg_sum.hex();
		r.d1_checksum = d1_sum.hex();
		r.ok = r.pg_count == r.d1_count && r.pg_checksum == r.d1_checksum;
		sum.ranges++;
		sum.pg_rows += r.pg_count;
		sum.d1_rows += r.d1_count;
		d1_in_ranges += static_cast<int64_t>(r.d1_count);
		if (!r.ok) {
			sum.bad_ranges++;
			if (sum.first_bad.empty()) {
				sum.first_bad = "keys " + r.start_key + ".." + r.end_key + ": " + std::to_string(r.pg_count) +
				                " rows in PostgreSQL, " + std::to_string(r.d1_count) + " in D1" +
				                (r.pg_count == r.d1_count ? ", values differ" : "");
			}
		}
		emit(r);
		check_for_interrupts();
	}
	pg_call([&] { SPI_cursor_close(portal); });
	VerifyRange outside;
	sum.d1_outside = d1_total - d1_in_ranges;
	sum.d1_rows = static_cast<uint64_t>(d1_total);
	outside.d1_count = static_cast<uint64_t>(sum.d1_outside);
	outside.ok = sum.d1_outside == 0;
	emit(outside);
	return sum;
}

} // namespace pg2d1
