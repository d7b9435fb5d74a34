// sqlite_encode.hpp — SQLite SQL literal and identifier encoding.
// Must never produce a literal that SQLite reads back as a different value, and never
// silently change a value: what cannot be encoded exactly throws pg2d1::Error.
// Called by the row encoder (src/pg/scan.*), the batch planner and DDL translation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pg2d1 {

// "name" with embedded double quotes doubled.
std::string quote_ident(std::string_view name);
void append_quoted_ident(std::string &out, std::string_view name);

// 'text' with embedded single quotes doubled. The text must be valid UTF-8 without NUL
// bytes (throws Error 22000 otherwise). Output is the literal exactly as SQLite parses it.
void append_text_literal(std::string &out, std::string_view utf8);

// Decimal integer literal (INT64_MIN included: SQLite parses -9223372036854775808 exactly).
void append_integer_literal(std::string &out, int64_t v);

// Text SQLite reads back as exactly the same double, always spelled as a REAL (contains
// '.', 'e' or is 9e999): 1.0 -> "1.0", 0.1 -> "0.1", 1e-7 -> "1e-07".
// Neither SQLite's parser is correctly rounded: 3.40 misreads some shortest round-trip
// digits (then 17 or 18 significant digits are written), and D1's misreads about a quarter
// of all decimals above ~1e100 or below ~1e-100. So magnitudes outside [1e-50, 1e50] are
// written as an exact scaling by powers of two, e.g. 1e300 -> "(1.8016407351212955e-1*
// 1.6069380442589903e+60*…)" (see sqlite_encode.cpp). Valid wherever a literal is in DML; in
// a column DEFAULT it needs the parentheses it already has.
// +Infinity -> "9e999", -Infinity -> "-9e999" (SQLite stores them as REAL Inf).
// NaN throws Error 22000 (SQLite cannot store NaN as REAL; the row encoder writes 'NaN').
// -0.0 -> "-0.0".
void append_real_literal(std::string &out, double v);

// X'0A0B…' (upper-case hex); an empty blob is X''.
void append_blob_literal(std::string &out, const uint8_t *data, size_t len);

inline void append_null_literal(std::string &out) {
	out.append("NULL");
}

// True when s is valid UTF-8 (no overlongs, no surrogates, no NUL).
bool is_valid_utf8(std::string_view s);

} // namespace pg2d1
