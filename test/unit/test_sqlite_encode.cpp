// test_sqlite_encode.cpp — proves literals mean exactly their value by running them through SQLite.
// Must never compare against the encoder's own output only: SQLite is the oracle.
// Run by ctest (pg2d1_unit_tests).
#include "core/sqlite_encode.hpp"

#include "sqlite_db.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace pg2d1 {
namespace {

using test::capture_error;
using test::reference_valid_utf8;
using test::SqliteDb;
using test::utf8;

std::string real_literal(double v) {
	std::string s;
	append_real_literal(s, v);
	return s;
}

std::string text_literal(std::string_view v) {
	std::string s;
	append_text_literal(s, v);
	return s;
}

uint64_t bits_of(double v) {
	uint64_t b;
	std::memcpy(&b, &v, sizeof b);
	return b;
}

// SQLite must read the literal back as a REAL with exactly the same bits.
void expect_real_round_trip(SqliteDb &db, double v) {
	const std::string lit = real_literal(v);
	const test::Cell c = db.select(lit);
	ASSERT_EQ(c.type, SQLITE_FLOAT) << lit;
	EXPECT_EQ(bits_of(c.d), bits_of(v)) << "literal " << lit << " read back as " << c.d;
	EXPECT_EQ(db.select("typeof(" + lit + ")").bytes, "real") << lit;
}

TEST(QuoteIdent, DoublesEmbeddedQuotes) {
	EXPECT_EQ(quote_ident("plain"), "\"plain\"");
	EXPECT_EQ(quote_ident("we\"ird"), "\"we\"\"ird\"");
	EXPECT_EQ(quote_ident("\"\""), "\"\"\"\"\"\"");
	EXPECT_EQ(quote_ident(""), "\"\"");
	std::string out = "x.";
	append_quoted_ident(out, "a\"b");
	EXPECT_EQ(out, "x.\"a\"\"b\"");
}

TEST(QuoteIdent, SqliteAcceptsQuotedNames) {
	SqliteDb db;
	const std::string table = "tab\"le with space";
	const std::string column = "col\"\"umn";
	db.exec("CREATE TABLE " + quote_ident(table) + " (" + quote_ident(column) + " INTEGER)");
	db.exec("INSERT INTO " + quote_ident(table) + " VALUES (7)");
	const auto rows = db.query("SELECT name FROM pragma_table_info(" + text_literal(table) + ")");
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0][0].bytes, column);
	EXPECT_EQ(db.select(quote_ident(column) + " FROM " + quote_ident(table)).i, 7);
}

TEST(TextLiteral, QuotesAreDoubledAndReadBackExactly) {
	SqliteDb db;
	for (const std::string s : {"", "plain", "it's", "''", "'", "a''b'", "back\\slash", "line\nbreak\ttab\r",
	                            "semi;colon -- not a comment", "\"double\""}) {
		const test::Cell c = db.select(text_literal(s));
		ASSERT_EQ(c.type, SQLITE_TEXT) << s;
		EXPECT_EQ(c.bytes, s);
	}
	EXPECT_EQ(text_literal("it's"), "'it''s'");
}

TEST(TextLiteral, UnicodeReadsBackByteForByte) {
	SqliteDb db;
	const std::vector<std::string> samples = {
	    "\xF0\x9F\x98\x80",                             // 😀 emoji (4 bytes)
	    "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB", // 👩‍💻 ZWJ sequence
	    "\xE6\x9D\xB1\xE4\xBA\xAC\xE9\x83\xBD",         // 東京都 CJK
	    "e\xCC\x81",                                    // e + combining acute
	    "\xC3\xA9",                                     // precomposed é (different bytes, kept apart)
	    "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",             // Hebrew, RTL
	    "\xEF\xBB\xBF"
	    "bom",              // BOM is text, kept
	    "\x7F",             // DEL
	    "\xF4\x8F\xBF\xBF", // U+10FFFF, the last code point
	};
	for (const auto &s : samples) {
		const test::Cell c = db.select(text_literal(s));
		ASSERT_EQ(c.type, SQLITE_TEXT);
		EXPECT_EQ(c.bytes, s);
		EXPECT_EQ(db.select("length(" + text_literal(s) + ") > 0").i, 1);
	}
}

TEST(TextLiteral, InvalidUtf8IsRefusedWith22000AndOutputUntouched) {
	const std::vector<std::string> bad = {
	    std::string("a\0b", 3),     // NUL
	    "\xC3\x28",                 // bad continuation
	    "\xA0\xA1",                 // continuation without lead
	    "\xC0\xAF",                 // overlong '/'
	    "\xC1\xBF",                 // overlong
	    "\xE0\x80\xAF",             // overlong 3-byte
	    "\xF0\x80\x80\xAF",         // overlong 4-byte
	    "\xED\xA0\x80",             // surrogate U+D800
	    "\xED\xBF\xBF",             // surrogate U+DFFF
	    "\xF4\x90\x80\x80",         // U+110000
	    "\xF5\x80\x80\x80",         // lead byte beyond Unicode
	    "\xFF",                     // never valid
	    "\xE2\x82",                 // truncated
	    "abcdefgh\xE2\x82",         // truncated after an 8-byte ASCII run (fast path)
	    "abcdefghijklmno\x80xyz",   // stray continuation inside the fast path's range
	    std::string("abcdefg\0", 8) // NUL inside an 8-byte word
	};
	for (const auto &s : bad) {
		std::string out = "keep";
		const Error e = capture_error([&] { append_text_literal(out, s); });
		EXPECT_EQ(e.sqlstate(), sqlstate::kDataException);
		EXPECT_FALSE(e.detail().empty());
		EXPECT_EQ(out, "keep") << "nothing may be appended when the value is refused";
		EXPECT_FALSE(is_valid_utf8(s));
	}
}

TEST(TextLiteral, BoundaryCodePointsAreAccepted) {
	for (uint32_t cp : {0x01u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFFu, 0x10000u, 0x10FFFFu})
		EXPECT_TRUE(is_valid_utf8(utf8(cp))) << std::hex << cp;
}

// Every 1-, 2- and 3-byte sequence, and a sample of 4-byte ones, agree with the reference.
TEST(IsValidUtf8, AgreesWithReferenceDecoderExhaustively) {
	std::string s(3, '\0');
	for (int a = 0; a < 256; ++a) {
		const std::string one(1, static_cast<char>(a));
		ASSERT_EQ(is_valid_utf8(one), reference_valid_utf8(one)) << a;
		for (int b = 0; b < 256; ++b) {
			const std::string two = {static_cast<char>(a), static_cast<char>(b)};
			ASSERT_EQ(is_valid_utf8(two), reference_valid_utf8(two)) << a << "," << b;
			if (a < 0xE0 || a > 0xEF)
				continue; // only 3-byte leads need the third byte
			for (int c = 0; c < 256; ++c) {
				s[0] = static_cast<char>(a), s[1] = static_cast<char>(b), s[2] = static_cast<char>(c);
				ASSERT_EQ(is_valid_utf8(s), reference_valid_utf8(s)) << a << "," << b << "," << c;
			}
		}
	}
	std::mt19937 rng(1234);
	for (int i = 0; i < 200000; ++i) {
		std::string four = {static_cast<char>(0xF0 + rng() % 8), static_cast<char>(rng()), static_cast<char>(rng()),
		                    static_cast<char>(rng())};
		ASSERT_EQ(is_valid_utf8(four), reference_valid_utf8(four));
	}
}

TEST(TextLiteral, RandomUnicodeStringsRoundTripThroughSqlite) {
	SqliteDb db;
	std::mt19937 rng(20261124);
	std::uniform_int_distribution<uint32_t> any_cp(1, 0x10FFFF);
	for (int i = 0; i < 2000; ++i) {
		std::string s;
		const int len = static_cast<int>(rng() % 40);
		for (int k = 0; k < len; ++k) {
			uint32_t cp;
			switch (rng() % 4) {
			case 0:
				cp = '\'';
				break;
			case 1:
				cp = 0x20 + rng() % 0x5F;
				break;
			default:
				do {
					cp = any_cp(rng);
				} while (cp >= 0xD800 && cp <= 0xDFFF);
			}
			s += utf8(cp);
		}
		ASSERT_TRUE(is_valid_utf8(s));
		const test::Cell c = db.select(text_literal(s));
		ASSERT_EQ(c.type, SQLITE_TEXT);
		ASSERT_EQ(c.bytes, s);
	}
}

TEST(IntegerLiteral, ExtremesAreIntegers) {
	SqliteDb db;
	for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{9007199254740993},
	                  std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
		std::string lit;
		append_integer_literal(lit, v);
		const test::Cell c = db.select(lit);
		ASSERT_EQ(c.type, SQLITE_INTEGER) << lit;
		EXPECT_EQ(c.i, v) << lit;
	}
	std::string lit;
	append_integer_literal(lit, std::numeric_limits<int64_t>::min());
	EXPECT_EQ(lit, "-9223372036854775808");
}

TEST(RealLiteral, SpelledAsRealShortestWhenSafe) {
	EXPECT_EQ(real_literal(1.0), "1.0");
	EXPECT_EQ(real_literal(0.1), "0.1");
	EXPECT_EQ(real_literal(1e49), "1e+49");
	// Outside [1e-50, 1e50] D1's parser is not exact: an exact scaling by 2^200 instead.
	EXPECT_EQ(real_literal(1e300), "(0.09332636185032189*1.6069380442589903e+60*1.6069380442589903e+60*"
	                               "1.6069380442589903e+60*1.6069380442589903e+60*1.6069380442589903e+60)");
	EXPECT_EQ(real_literal(-1e-60), "(-1.6069380442589902/1.6069380442589903e+60)");
	EXPECT_EQ(real_literal(-0.0), "-0.0");
	EXPECT_EQ(real_literal(0.0), "0.0");
	EXPECT_EQ(real_literal(-2.5), "-2.5");
	EXPECT_EQ(real_literal(52.37), "52.37");
	EXPECT_EQ(real_literal(std::numeric_limits<double>::infinity()), "9e999");
	EXPECT_EQ(real_literal(-std::numeric_limits<double>::infinity()), "-9e999");
}

TEST(RealLiteral, NamedValuesRoundTripBitExact) {
	SqliteDb db;
	for (double v : {0.1,
	                 0.2,
	                 0.3,
	                 1e300,
	                 5e-324,
	                 DBL_MAX,
	                 -DBL_MAX,
	                 DBL_MIN,
	                 DBL_TRUE_MIN,
	                 -0.0,
	                 0.0,
	                 1.0,
	                 -1.0,
	                 123456789012345678.0,
	                 9007199254740993.0,
	                 1e22,
	                 1e23,
	                 2.2250738585072011e-308,
	                 static_cast<double>(std::numeric_limits<int64_t>::max()),
	                 static_cast<double>(std::numeric_limits<int64_t>::min()),
	                 7468657.743583648,
	                 0.05923913334781317,
	                 8.651472899065772e-308,
	                 -7.738765918918927e-295,
	                 1e-270,
	                 9.999999999999999e-271})
		expect_real_round_trip(db, v);
}

TEST(RealLiteral, IntegralDoublesStayReal) {
	SqliteDb db;
	for (double v : {1.0, 123456789012345678.0, 9.2233720368547758e18, -9.2233720368547758e18, 1e20})
		EXPECT_EQ(db.select("typeof(" + real_literal(v) + ")").bytes, "real") << real_literal(v);
}

TEST(RealLiteral, InfinityIsStoredAsRealInfinity) {
	SqliteDb db;
	for (double v : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
		const test::Cell c = db.select(real_literal(v));
		ASSERT_EQ(c.type, SQLITE_FLOAT);
		EXPECT_TRUE(std::isinf(c.d));
		EXPECT_EQ(std::signbit(c.d), std::signbit(v));
	}
}

TEST(RealLiteral, NanIsRefused) {
	std::string out = "x";
	const Error e = capture_error([&] { append_real_literal(out, std::nan("")); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kDataException);
	EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos);
	EXPECT_EQ(out, "x");
}

// SQLite's own text-to-double conversion is not correctly rounded; the encoder must pick
// spellings it reads back exactly anyway. Random bit patterns cover every exponent.
TEST(RealLiteral, RandomBitPatternsRoundTripBitExact) {
	SqliteDb db;
	std::mt19937_64 rng(42);
	int checked = 0;
	while (checked < 10000) {
		const uint64_t b = rng();
		double v;
		std::memcpy(&v, &b, sizeof v);
		if (std::isnan(v))
			continue;
		expect_real_round_trip(db, v);
		++checked;
	}
}

// Values that came from decimal text (the common case: 52.37, 4.89…) in a realistic range.
TEST(RealLiteral, RandomDecimalValuesRoundTripBitExact) {
	SqliteDb db;
	std::mt19937_64 rng(7);
	for (int i = 0; i < 10000; ++i) {
		const double magnitude = std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 140) - 120);
		char buf[40];
		std::snprintf(buf, sizeof buf, "%.*g", static_cast<int>(1 + rng() % 17), magnitude);
		expect_real_round_trip(db, (rng() & 1) ? -std::strtod(buf, nullptr) : std::strtod(buf, nullptr));
	}
}

TEST(RealLiteral, StoredInRealAndUntypedColumnsExactly) {
	SqliteDb db;
	db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, r REAL, u)");
	std::mt19937_64 rng(99);
	std::vector<double> values;
	for (int i = 0; i < 2000; ++i) {
		const uint64_t b = rng();
		double v;
		std::memcpy(&v, &b, sizeof v);
		if (!std::isnan(v) && v != 0)
			values.push_back(v);
	}
	std::string sql = "INSERT INTO t (id, r, u) VALUES ";
	for (size_t i = 0; i < values.size(); ++i) {
		sql += (i ? ",(" : "(") + std::to_string(i) + ",";
		append_real_literal(sql, values[i]);
		sql += ",";
		append_real_literal(sql, values[i]);
		sql += ")";
	}
	db.exec(sql);
	const auto rows = db.query("SELECT id, r, u, typeof(r), typeof(u) FROM t ORDER BY id");
	ASSERT_EQ(rows.size(), values.size());
	for (const auto &row : rows) {
		const double v = values[static_cast<size_t>(row[0].i)];
		EXPECT_EQ(bits_of(row[1].d), bits_of(v));
		EXPECT_EQ(bits_of(row[2].d), bits_of(v));
		EXPECT_EQ(row[3].bytes, "real");
		EXPECT_EQ(row[4].bytes, "real");
	}
}

TEST(BlobLiteral, BytesReadBackExactly) {
	SqliteDb db;
	std::string all;
	for (int i = 0; i < 256; ++i)
		all.push_back(static_cast<char>(i));
	std::string lit;
	append_blob_literal(lit, reinterpret_cast<const uint8_t *>(all.data()), all.size());
	EXPECT_EQ(lit.substr(0, 8), "X'000102");
	EXPECT_NE(lit.find("FF'"), std::string::npos);
	const test::Cell c = db.select(lit);
	ASSERT_EQ(c.type, SQLITE_BLOB);
	EXPECT_EQ(c.bytes, all);

	std::string empty = "[";
	append_blob_literal(empty, nullptr, 0);
	EXPECT_EQ(empty, "[X''");
	EXPECT_EQ(db.select("typeof(X'')").bytes, "blob");
}

TEST(NullLiteral, IsNull) {
	SqliteDb db;
	std::string lit;
	append_null_literal(lit);
	EXPECT_EQ(db.select(lit).type, SQLITE_NULL);
}

} // namespace
} // namespace pg2d1
