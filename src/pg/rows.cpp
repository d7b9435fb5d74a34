// rows.cpp — encodes rows for D1 and renders values in verify's canonical form (rows.hpp).
// Must never change a value silently. Boundary: the public functions run their datum
// access in their own pg_call (one per row for the per-row ones), so they are safe with or
// without an enclosing pg_call; the helpers they call per value own no C++ object while
// they call PostgreSQL. Called by migrate.cpp and verify.cpp.
#include "rows.hpp"

#include "boundary.hpp"

#include "core/d1_response.hpp"
#include "core/error.hpp"
#include "core/sqlite_encode.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
}

#include <charconv>
#include <cmath>
#include <string_view>

namespace pg2d1 {
namespace {

constexpr size_t kParamThreshold = 1024; // values above this go as parameters when a row is too big

[[noreturn]] void too_big(const SourceColumn &col, const char *what, size_t bytes) {
	throw Error("54000", std::string(what) + " of " + std::to_string(bytes) + " bytes is larger than D1 can store",
	            "D1 stores at most " + std::to_string(kD1MaxValueBytes) + " bytes in one string, BLOB or row" +
	                (col.name.empty() ? "" : " (column \"" + col.name + "\")") + ".",
	            "Keep such values outside D1 (for example in R2) and migrate a reference to them, or exclude the "
	            "row.");
}

const char kHex[] = "0123456789ABCDEF";

void append_hex(std::string &out, const uint8_t *p, size_t n) {
	size_t at = out.size();
	out.resize(at + 2 * n);
	for (size_t i = 0; i < n; i++) {
		out[at + 2 * i] = kHex[p[i] >> 4];
		out[at + 2 * i + 1] = kHex[p[i] & 15];
	}
}

// The SQLite literal of one value. Owns no C++ object while it calls PostgreSQL (output
// functions, detoasting): a longjmp through it skips nothing. Call inside pg_call.
void append_literal(std::string &out, const SourceColumn &col, Datum d) {
	switch (col.kind) {
	case ValueKind::Integer:
		append_integer_literal(out, column_integer(col, d));
		return;
	case ValueKind::Boolean:
		out.push_back(DatumGetBool(d) ? '1' : '0');
		return;
	case ValueKind::Real: {
		double v = column_real(col, d);
		if (std::isnan(v)) {
			out.append("'NaN'"); // SQLite cannot store a REAL NaN; the REAL column keeps this text
		} else {
			append_real_literal(out, v);
		}
		return;
	}
	case ValueKind::Blob: {
		bytea *b = DatumGetByteaPP(d);
		append_blob_literal(out, reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
		return;
	}
	case ValueKind::Text:
		break;
	}
	append_text_literal(out, column_text_utf8(col, d));
}

// Appends a non-NULL value in verify's canonical form. Like append_literal: owns nothing
// while it calls PostgreSQL; call inside pg_call.
void append_canonical(std::string &out, const SourceColumn &col, Datum d) {
	switch (col.kind) {
	case ValueKind::Integer: {
		char digits[24];
		auto res = std::to_chars(digits, digits + sizeof digits, column_integer(col, d));
		out.append(digits, res.ptr);
		return;
	}
	case ValueKind::Boolean:
		out.push_back(DatumGetBool(d) ? '1' : '0');
		return;
	case ValueKind::Real: {
		double v = column_real(col, d);
		if (std::isnan(v)) {
			out.append("NaN");
		} else if (std::isinf(v)) {
			out.append(v > 0 ? "Inf" : "-Inf");
		} else {
			append_rendered_real(out, v == 0 ? 0.0 : v); // D1's REAL column has no -0.0
		}
		return;
	}
	case ValueKind::Blob: {
		bytea *b = DatumGetByteaPP(d);
		append_hex(out, reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
		return;
	}
	case ValueKind::Text:
		break;
	}
	std::string_view text = column_text_utf8(col, d);
	out.append(text.data(), text.size());
}

} // namespace

void append_d1_literal(std::string &out, const SourceColumn &col, Datum d) {
	pg_call([&] { append_literal(out, col, d); });
}

void encode_row(const SourceTable &t, HeapTuple tup, TupleDesc desc, size_t max_tuple_bytes, EncodedRow &out) {
	// One pass writes literals and checks sizes; when the tuple is too big for a statement a
	// second pass writes the values over kParamThreshold as bound parameters instead.
	//
	// Boundary: one pg_call per row, not per value. This runs for every column of millions
	// of rows, and the code inside the lambda owns no C++ object with a destructor at any
	// PostgreSQL call (SPI_getbinval, detoasting, output functions): it appends to `out`,
	// which the caller owns, and keeps only scalars and references of its own (temporaries
	// such as std::to_string's live between PostgreSQL calls, never across one). So a
	// longjmp skips nothing and pg_call turns it into PgError here, whether or not the
	// caller wraps encode_row in a pg_call of its own. C++ exceptions (too_big, invalid
	// UTF-8) leave through pg_call as they are. Measured on 200,000 rows of
	// coordinate_speed_new (6 columns), encoding alone, best of 7 runs: 197 ms without it,
	// 200 ms with it (~15 ns a row, within run-to-run noise); a pg_call per value would
	// cost six times that for nothing.
	size_t row_bytes = 0;
	bool big = false;
	auto encode = [&](bool as_params) {
		out.tuple.assign(1, '(');
		out.params.clear();
		for (size_t c = 0; c < t.columns.size(); c++) {
			const SourceColumn &col = t.columns[c];
			const bool large_kind = col.kind == ValueKind::Text || col.kind == ValueKind::Blob;
			out.column = static_cast<int>(c);
			bool isnull;
			Datum d = SPI_getbinval(tup, desc, static_cast<int>(c) + 1, &isnull);
			if (c) {
				out.tuple.push_back(',');
			}
			if (isnull) {
				append_null_literal(out.tuple);
				continue;
			}
			size_t before = out.tuple.size();
			append_literal(out.tuple, col, d);
			size_t lit = out.tuple.size() - before;
			if (!as_params) {
				// Stored size: X'…' holds two hex digits a byte; '…' the text with quotes doubled.
				size_t stored = col.kind == ValueKind::Blob ? (lit - 3) / 2 : lit;
				if (col.kind == ValueKind::Text) {
					stored = lit - 2;
					if (stored > kD1MaxValueBytes) {
						stored = column_text_utf8(col, d).size(); // exact, without doubled quotes
					}
				}
				if (large_kind && stored > kD1MaxValueBytes) {
					too_big(col, col.kind == ValueKind::Blob ? "a BLOB" : "a text value", stored);
				}
				big = big || (large_kind && lit > kParamThreshold);
				row_bytes += stored;
				continue;
			}
			if (!large_kind || lit <= kParamThreshold) {
				continue;
			}
			out.tuple.resize(before);
			// PostgreSQL calls (detoasting, output functions) come before any new C++ object.
			if (col.kind == ValueKind::Blob) {
				bytea *b = DatumGetByteaPP(d);
				out.params.emplace_back();
				append_hex(out.params.back(), reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
				out.tuple.append("unhex(?").append(std::to_string(out.params.size())).append(")");
			} else {
				std::string_view text = column_text_utf8(col, d); // valid UTF-8: checked by the literal above
				out.params.emplace_back(text);
				out.tuple.append("?").append(std::to_string(out.params.size()));
			}
		}
		out.column = -1;
		out.tuple.push_back(')');
	};
	pg_call([&] {
		encode(false);
		if (row_bytes > kD1MaxValueBytes) {
			too_big(SourceColumn{}, "a row", row_bytes);
		}
		if (out.tuple.size() > max_tuple_bytes && big) {
			encode(true); // (when nothing is large the planner reports the statement limit)
		}
	});
}

void canonical_row(const SourceTable &t, HeapTuple tup, TupleDesc desc,
                   std::vector<std::optional<std::string>> &cells) {
	// One pg_call per row, as in encode_row and for the same reason: the lambda owns no C++
	// object at any PostgreSQL call; it writes into `cells`, which the caller owns and
	// reuses from row to row (so the strings keep their capacity: no allocation per value).
	cells.resize(t.columns.size());
	pg_call([&] {
		for (size_t c = 0; c < t.columns.size(); c++) {
			bool isnull;
			Datum d = SPI_getbinval(tup, desc, static_cast<int>(c) + 1, &isnull);
			std::optional<std::string> &cell = cells[c];
			if (isnull) {
				cell.reset();
				continue;
			}
			if (!cell) {
				cell.emplace();
			}
			cell->clear();
			append_canonical(*cell, t.columns[c], d);
		}
	});
}

std::optional<std::string> canonical_value(const SourceColumn &col, Datum d, bool isnull) {
	if (isnull) {
		return std::nullopt;
	}
	std::string out;
	pg_call([&] { append_canonical(out, col, d); });
	return out;
}

std::string d1_canonical_expr(const SourceColumn &col) {
	std::string c = quote_ident(col.name);
	switch (col.kind) {
	case ValueKind::Integer:
	case ValueKind::Boolean:
		return "CAST(" + c + " AS TEXT)"; // exact beyond 2^53
	case ValueKind::Real:
		// ±Inf render as JSON null, so as text; 'NaN' is stored as TEXT and renders as itself.
		return "CASE WHEN typeof(" + c + ") = 'real' AND abs(" + c + ") > 1.7976931348623157e308 THEN CAST(" + c +
		       " AS TEXT) ELSE " + c + " END";
	case ValueKind::Blob:
		return "CASE WHEN " + c + " IS NULL THEN NULL ELSE hex(" + c + ") END";
	case ValueKind::Text:
		break;
	}
	return c;
}

} // namespace pg2d1
