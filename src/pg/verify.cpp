// verify.cpp — range-by-range comparison of PostgreSQL and D1 (verify.hpp).
// Must never let a changed, missing or extra row go unnoticed: every value of both sides is
// rendered canonically and hashed in the same order. Boundary: PostgreSQL is called only in
// pg_call lambdas that own no C++ object, or through functions that have their own
// (canonical_row, key_texts, append_d1_literal), so verify_table is safe with or without an
// enclosing pg_call.
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

// The PostgreSQL expressions whose ORDER BY matches SQLite's order of the values pg2d1
// stored, one per key column.
std::vector<std::string> d1_order_exprs(const SourceTable &t) {
	std::vector<std::string> out;
	for (int k : t.key_columns) {
		const SourceColumn &c = t.columns[k];
		if (c.kind != ValueKind::Text) {
			out.push_back(c.select_expr); // integers, reals, booleans, bytea: the same order in both
		} else if (c.plain_text || c.select_expr != quote_ident(c.name)) {
			out.push_back("(" + c.select_expr + ") COLLATE \"C\""); // UTF-8 bytes, as SQLite's BINARY
		} else {
			out.push_back("(" + quote_ident(c.name) + "::text) COLLATE \"C\"");
		}
	}
	return out;
}

std::string join(const std::vector<std::string> &v) {
	std::string out;
	for (auto &x : v) {
		out += (out.empty() ? "" : ", ") + x;
	}
	return out;
}

constexpr int64_t kPgChunk = 1000;               // PostgreSQL rows in memory at once
constexpr size_t kD1PageBytes = 8 * 1024 * 1024; // about this much D1 result per request
constexpr size_t kD1PageRows = 10000;

// Text output of columns first … first+n-1 (1-based) of a row, "" for NULL; with
// `types`, the SQL names of their types instead (castable: "bpchar", not "character").
// One pg_call collecting C strings, palloc'd in the current memory context.
std::vector<std::string> column_texts(HeapTuple tup, TupleDesc desc, int first, size_t n, bool types = false) {
	const char **texts = nullptr;
	pg_call([&] {
		texts = static_cast<const char **>(palloc(sizeof(char *) * Max(n, static_cast<size_t>(1))));
		for (size_t k = 0; k < n; k++) {
			const int pos = first + static_cast<int>(k);
			texts[k] = types ? format_type_extended(SPI_gettypeid(desc, pos), -1, FORMAT_TYPE_TYPEMOD_GIVEN)
			                 : SPI_getvalue(tup, desc, pos);
		}
	});
	std::vector<std::string> out;
	out.reserve(n);
	for (size_t k = 0; k < n; k++) {
		out.emplace_back(texts[k] ? texts[k] : "");
	}
	return out;
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

// The D1 literals of a PostgreSQL row's key, "(a,b)" for several columns. PostgreSQL is
// called only through pg_call and append_d1_literal (which has its own).
std::string d1_key_literals(const SourceTable &t, HeapTuple tup, TupleDesc desc) {
	std::string lits;
	for (size_t k = 0; k < t.key_columns.size(); k++) {
		const int col = t.key_columns[k];
		Datum d = pg_call([&] {
			bool isnull;
			return SPI_getbinval(tup, desc, col + 1, &isnull);
		});
		if (k) {
			lits.push_back(',');
		}
		append_d1_literal(lits, t.columns[col], d);
	}
	return t.key_columns.size() > 1 ? "(" + lits + ")" : lits;
}

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
                           const std::function<void(const VerifyRange &)> &emit,
                           const std::function<void()> &between_ranges) {
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

	// PostgreSQL side: the row query selects every column (select_list) and then the order
	// expressions, whose text output of a range's last row is where the next range starts.
	// Without between_ranges one cursor walks the whole table (one sort when the order is
	// not an index's). With it, each range is a keyset query of its own —
	//   … WHERE (order exprs) > ($1::type, …) ORDER BY order exprs LIMIT range_rows
	// — read through a cursor that is closed before the range is emitted, so that nothing
	// PostgreSQL holds outlives the range (between_ranges may commit).
	const std::vector<std::string> order = d1_order_exprs(t);
	const std::string order_list = join(order);
	const int first_order = static_cast<int>(t.columns.size() + t.key_columns.size()) + 1;
	const bool per_range = static_cast<bool>(between_ranges);
	std::vector<std::string> order_types; // SQL types of the order expressions, from the first result
	std::vector<std::string> after;       // their text in the last row read (per_range)
	Portal portal = nullptr;
	auto open_cursor = [&] {
		std::string sql = "SELECT " + t.select_list() + ", " + order_list + " FROM " + t.qualified_name;
		if (!after.empty()) {
			sql += " WHERE (" + order_list + ") > (";
			for (size_t k = 0; k < after.size(); k++) {
				sql += (k ? ", $" : "$") + std::to_string(k + 1) + "::" + order_types[k];
			}
			sql += ")";
		}
		sql += " ORDER BY " + order_list;
		if (per_range) {
			sql += " LIMIT " + std::to_string(range_rows);
		}
		const int nargs = static_cast<int>(after.size());
		portal = pg_call([&] {
			Oid *types = static_cast<Oid *>(palloc(sizeof(Oid) * static_cast<size_t>(Max(nargs, 1))));
			Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(Max(nargs, 1))));
			for (int k = 0; k < nargs; k++) {
				types[k] = TEXTOID;
				values[k] = CStringGetTextDatum(after[static_cast<size_t>(k)].c_str());
			}
			// The portal keeps its own copy of the parameters.
			return SPI_cursor_open_with_args(nullptr, sql.c_str(), nargs, types, values, nullptr, true,
			                                 CURSOR_OPT_NO_SCROLL);
		});
	};
	auto close_cursor = [&] {
		pg_call([&] { SPI_cursor_close(portal); });
		portal = nullptr;
	};

	int64_t ordinal = 0;
	int64_t d1_in_ranges = 0;
	std::vector<std::optional<std::string>> cells;
	const std::string order_by = t.key_columns.size() > 1 ? d1_keys.substr(1, d1_keys.size() - 2) : d1_keys;
	for (;;) {
		// PostgreSQL side: the next range_rows rows, fetched kPgChunk at a time. Everything
		// palloc'd while a chunk is read (output strings, detoasted values) goes to a context
		// reset after the chunk, so memory stays bounded whatever the size of the table.
		// (SPI calls return in SPI's procedure context, so the switch follows each fetch.)
		if (!portal) {
			open_cursor();
		}
		// The caller's context at the start of each range: between_ranges may have replaced it.
		const MemoryContext outer = CurrentMemoryContext;
		MemoryContext chunk_context = pg_call([&] {
			return AllocSetContextCreate(outer, "pg2d1 verify chunk", ALLOCSET_DEFAULT_SIZES);
		});
		VerifyRange r;
		RowChecksum pg_sum;
		std::string lo, hi; // D1 literals of the first and last key
		size_t pg_bytes = 0;
		int64_t n = 0;
		try {
			for (;;) {
				const long want = static_cast<long>(std::min<int64_t>(kPgChunk, range_rows - n));
				SPITupleTable *rows = nullptr;
				uint64 got = 0;
				pg_call([&] {
					SPI_cursor_fetch(portal, true, want);
					rows = SPI_tuptable;
					got = SPI_processed;
				});
				if (order_types.empty() && got > 0) {
					order_types = column_texts(nullptr, rows->tupdesc, first_order, order.size(), true);
				}
				MemoryContextSwitchTo(chunk_context);
				for (uint64 i = 0; i < got; i++) {
					HeapTuple tup = rows->vals[i];
					canonical_row(t, tup, rows->tupdesc, cells);
					for (auto &cell : cells) {
						pg_bytes += cell ? cell->size() + 8 : 8;
					}
					pg_sum.add_row(cells);
					const bool first = n == 0 && i == 0;
					const bool last = i + 1 == got;
					if (first || last) {
						std::string lits = d1_key_literals(t, tup, rows->tupdesc);
						std::vector<std::string> key = key_texts(t, tup, rows->tupdesc);
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
							if (per_range) {
								after = column_texts(tup, rows->tupdesc, first_order, order.size());
							}
						}
					}
				}
				MemoryContextSwitchTo(outer);
				pg_call([&] {
					MemoryContextReset(chunk_context);
					SPI_freetuptable(rows);
				});
				n += static_cast<int64_t>(got);
				if (got < static_cast<uint64>(want) || n >= range_rows) {
					break;
				}
				check_for_interrupts();
			}
		} catch (...) {
			MemoryContextSwitchTo(outer); // the rest is released when the transaction aborts
			throw;
		}
		pg_call([&] { MemoryContextDelete(chunk_context); });
		const bool exhausted = n < range_rows; // the cursor returned fewer rows than asked for
		if (per_range || exhausted) {
			close_cursor();
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
		if (per_range) {
			between_ranges(); // no cursor open, nothing palloc'd still needed
		}
		if (exhausted) {
			break;
		}
	}
	VerifyRange outside;
	sum.d1_outside = d1_total - d1_in_ranges;
	sum.d1_rows = static_cast<uint64_t>(d1_total);
	outside.d1_count = static_cast<uint64_t>(sum.d1_outside);
	outside.ok = sum.d1_outside == 0;
	emit(outside);
	return sum;
}

} // namespace pg2d1
