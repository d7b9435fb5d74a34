// rows.cpp — encodes rows for D1 and renders values in verify's canonical form (rows.hpp).
// Must never change a value silently; all datum access happens inside the caller's pg_call.
// Called by migrate.cpp and verify.cpp.
#include "rows.hpp"

#include "core/d1_response.hpp"
#include "core/error.hpp"
#include "core/sqlite_encode.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
}

#include <cmath>

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

} // namespace

void append_d1_literal(std::string &out, const SourceColumn &col, Datum d) {
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

void encode_row(const SourceTable &t, HeapTuple tup, TupleDesc desc, size_t max_tuple_bytes, EncodedRow &out) {
	// One pass writes literals and checks sizes; when the tuple is too big for a statement a
	// second pass writes the values over kParamThreshold as bound parameters instead.
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
			append_d1_literal(out.tuple, col, d);
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
			// PostgreSQL calls (detoasting, output functions) come before any local C++ object.
			if (col.kind == ValueKind::Blob) {
				bytea *b = DatumGetByteaPP(d);
				out.params.emplace_back();
				append_hex(out.params.back(), reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
				out.tuple.append("unhex(?").append(std::to_string(out.params.size())).append(")");
			} else {
				out.params.emplace_back(column_text_utf8(col, d)); // valid UTF-8: checked by the literal above
				out.tuple.append("?").append(std::to_string(out.params.size()));
			}
		}
		out.column = -1;
		out.tuple.push_back(')');
	};
	encode(false);
	if (row_bytes > kD1MaxValueBytes) {
		too_big(SourceColumn{}, "a row", row_bytes);
	}
	if (out.tuple.size() > max_tuple_bytes && big) {
		encode(true); // (when nothing is large the planner reports the statement limit)
	}
}

std::optional<std::string> canonical_value(const SourceColumn &col, Datum d, bool isnull) {
	if (isnull) {
		return std::nullopt;
	}
	std::string out;
	switch (col.kind) {
	case ValueKind::Integer:
		return std::to_string(column_integer(col, d));
	case ValueKind::Boolean:
		return std::string(DatumGetBool(d) ? "1" : "0");
	case ValueKind::Real: {
		double v = column_real(col, d);
		if (std::isnan(v)) {
			return std::string("NaN");
		}
		if (std::isinf(v)) {
			return std::string(v > 0 ? "Inf" : "-Inf");
		}
		append_rendered_real(out, v == 0 ? 0.0 : v); // D1's REAL column has no -0.0
		return out;
	}
	case ValueKind::Blob: {
		bytea *b = DatumGetByteaPP(d);
		append_hex(out, reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
		return out;
	}
	case ValueKind::Text:
		break;
	}
	return std::string(column_text_utf8(col, d));
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
