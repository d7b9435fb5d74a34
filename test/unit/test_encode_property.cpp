// test_encode_property.cpp — property tests of the literal encoder: random strings, bytes,
// doubles, integers and identifiers, each written as a SQLite literal and read back from a
// real SQLite exactly (bytes and bit patterns compared, not printed forms).
// Must never pass on a value SQLite reads back differently. PG2D1_FUZZ_SEED and
// PG2D1_FUZZ_ITERATIONS (a multiplier) widen a run; the seed is printed on failure.
// Run by ctest (pg2d1_unit_tests).
#include "core/error.hpp"
#include "core/sqlite_encode.hpp"
#include "sqlite_db.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace pg2d1 {
namespace {

using test::SqliteDb;

uint64_t seed() {
	const char *s = std::getenv("PG2D1_FUZZ_SEED");
	return s ? std::strtoull(s, nullptr, 10) : 20261124;
}
int scale() {
	const char *s = std::getenv("PG2D1_FUZZ_ITERATIONS");
	return s ? std::max(1, std::atoi(s)) : 1;
}

std::string hex(const std::string &s) {
	static const char k[] = "0123456789abcdef";
	std::string out;
	for (unsigned char c : s) {
		out.push_back(k[c >> 4]);
		out.push_back(k[c & 15]);
	}
	return out.size() > 400 ? out.substr(0, 400) + "…" : out;
}

// A code point from a mix that favours the characters that break quoting and decoding.
uint32_t random_code_point(std::mt19937_64 &rng) {
	static const uint32_t special[] = {'\'',   '"',    '\\',   '%',     '_',     ';',     '\n',    '\r',
	                                   '\t',   0x01,   0x1F,   0x7F,    0x80,    0x7FF,   0x800,   0xFFFD,
	                                   0xFFFF, 0xD7FF, 0xE000, 0x10000, 0x1F600, 0x1D11E, 0x10FFFF};
	switch (rng() % 6) {
	case 0:
		return special[rng() % (sizeof special / sizeof special[0])];
	case 1:
	case 2:
		return 0x20 + static_cast<uint32_t>(rng() % 0x5F); // printable ASCII
	case 3:
		return 0x80 + static_cast<uint32_t>(rng() % (0x800 - 0x80));
	case 4: {
		uint32_t cp = 0x800 + static_cast<uint32_t>(rng() % (0x10000 - 0x800));
		return (cp >= 0xD800 && cp <= 0xDFFF) ? 0xE000 : cp; // no surrogates
	}
	default:
		return 0x10000 + static_cast<uint32_t>(rng() % (0x110000 - 0x10000));
	}
}

std::string random_utf8(std::mt19937_64 &rng, size_t chars) {
	std::string s;
	for (size_t i = 0; i < chars; ++i)
		s += test::utf8(random_code_point(rng));
	return s;
}

TEST(EncodeProperty, RandomUtf8TextRoundTripsByteForByte) {
	std::mt19937_64 rng(seed());
	SCOPED_TRACE("PG2D1_FUZZ_SEED=" + std::to_string(seed()));
	SqliteDb db;
	db.exec("CREATE TABLE t (i INTEGER PRIMARY KEY, s TEXT)");
	const int n = 3000 * scale();
	for (int i = 0; i < n; ++i) {
		size_t len = rng() % 8 == 0 ? rng() % 5000 : rng() % 40;
		if (i % 1000 == 999)
			len = 200000;
		const std::string s = random_utf8(rng, len);
		ASSERT_TRUE(is_valid_utf8(s)) << hex(s);
		std::string sql = "INSERT INTO t VALUES (" + std::to_string(i) + ",";
		append_text_literal(sql, s);
		sql += ")";
		db.exec(sql);
		auto r = db.query("SELECT typeof(s), s FROM t WHERE i = " + std::to_string(i));
		ASSERT_EQ(r[0][0].bytes, "text");
		ASSERT_EQ(r[0][1].bytes, s) << "text " << hex(s);
	}
}

TEST(EncodeProperty, InvalidUtf8IsRefusedAndTheValidatorAgreesWithAReference) {
	std::mt19937_64 rng(seed() + 1);
	SCOPED_TRACE("PG2D1_FUZZ_SEED=" + std::to_string(seed()));
	const std::string bad[] = {std::string("\xC0\xAF", 2),
	                           std::string("\xE0\x80\xAF", 3),
	                           std::string("\xED\xA0\x80", 3),
	                           std::string("\xED\xBF\xBF", 3),
	                           std::string("\xF4\x90\x80\x80", 4),
	                           std::string("\xFF", 1),
	                           std::string("\xE2\x82", 2),
	                           std::string("a\0b", 3),
	                           std::string("\x80", 1),
	                           std::string("\xF0\x9F\x98", 3)};
	for (const auto &s : bad) {
		EXPECT_FALSE(is_valid_utf8(s)) << hex(s);
		EXPECT_FALSE(test::reference_valid_utf8(s)) << hex(s);
		std::string out;
		EXPECT_THROW(append_text_literal(out, s), Error) << hex(s);
	}
	const int n = 200000 * scale();
	int valid = 0;
	for (int i = 0; i < n; ++i) {
		std::string s = random_utf8(rng, rng() % 6);
		// Corrupt some: random bytes, truncations, insertions.
		switch (rng() % 4) {
		case 0:
			if (!s.empty())
				s[rng() % s.size()] = static_cast<char>(rng());
			break;
		case 1:
			if (!s.empty())
				s.resize(rng() % s.size());
			break;
		case 2:
			s.insert(s.begin() + static_cast<long>(rng() % (s.size() + 1)), static_cast<char>(rng()));
			break;
		default:
			break;
		}
		const bool ref = test::reference_valid_utf8(s);
		valid += ref ? 1 : 0;
		ASSERT_EQ(is_valid_utf8(s), ref) << hex(s);
		std::string out;
		if (ref)
			ASSERT_NO_THROW(append_text_literal(out, s)) << hex(s);
		else
			ASSERT_THROW(append_text_literal(out, s), Error) << hex(s);
	}
	EXPECT_GT(valid, n / 4);
	EXPECT_LT(valid, n);
}

TEST(EncodeProperty, RandomBytesRoundTripAsBlobs) {
	std::mt19937_64 rng(seed() + 2);
	SCOPED_TRACE("PG2D1_FUZZ_SEED=" + std::to_string(seed()));
	SqliteDb db;
	db.exec("CREATE TABLE t (i INTEGER PRIMARY KEY, b BLOB)");
	const int n = 1500 * scale();
	for (int i = 0; i < n; ++i) {
		size_t len = rng() % 10 == 0 ? rng() % 70000 : rng() % 64;
		if (i == 7)
			len = 300000;
		std::string b(len, '\0');
		if (i % 3 != 0) // every third stays all zero bytes
			for (auto &c : b)
				c = static_cast<char>(rng());
		std::string sql = "INSERT INTO t VALUES (" + std::to_string(i) + ",";
		append_blob_literal(sql, reinterpret_cast<const uint8_t *>(b.data()), b.size());
		sql += ")";
		db.exec(sql);
		auto r = db.query("SELECT typeof(b), b FROM t WHERE i = " + std::to_string(i));
		ASSERT_EQ(r[0][0].bytes, "blob");
		ASSERT_EQ(r[0][1].bytes, b) << "bytes " << hex(b);
	}
}

uint64_t bits_of(double d) {
	uint64_t b;
	std::memcpy(&b, &d, sizeof b);
	return b;
}

// Writes each value into an untyped column (SQLite keeps a REAL as is) and into a REAL
// column, and compares the stored doubles' bits.
void check_doubles(SqliteDb &db, const std::vector<double> &values) {
	db.exec("DELETE FROM f");
	std::string sql;
	for (size_t i = 0; i < values.size(); ++i) {
		sql = "INSERT INTO f VALUES (" + std::to_string(i) + ",";
		append_real_literal(sql, values[i]);
		sql += ",";
		append_real_literal(sql, values[i]);
		sql += ")";
		db.exec(sql);
	}
	auto rows = db.query("SELECT i, typeof(u), u, typeof(r), r FROM f ORDER BY i");
	ASSERT_EQ(rows.size(), values.size());
	for (size_t i = 0; i < values.size(); ++i) {
		const double v = values[i];
		char buf[64];
		std::snprintf(buf, sizeof buf, "%a", v);
		std::string lit;
		append_real_literal(lit, v);
		ASSERT_EQ(rows[i][1].bytes, "real") << buf << " written as " << lit;
		ASSERT_EQ(bits_of(rows[i][2].d), bits_of(v)) << buf << " written as " << lit;
		// A REAL column stores integral values as integers: -0.0 comes back as 0.0.
		const double want = v == 0 ? 0.0 : v;
		ASSERT_EQ(bits_of(rows[i][4].d), bits_of(want)) << buf << " written as " << lit << " (REAL column)";
	}
}

TEST(EncodeProperty, RandomDoublesRoundTripBitForBit) {
	std::mt19937_64 rng(seed() + 3);
	SCOPED_TRACE("PG2D1_FUZZ_SEED=" + std::to_string(seed()));
	SqliteDb db;
	db.exec("CREATE TABLE f (i INTEGER PRIMARY KEY, u, r REAL)");
	std::vector<double> special = {0.0,
	                               -0.0,
	                               std::numeric_limits<double>::infinity(),
	                               -std::numeric_limits<double>::infinity(),
	                               std::numeric_limits<double>::denorm_min(),
	                               -std::numeric_limits<double>::denorm_min(),
	                               std::nextafter(DBL_MIN, 0.0),
	                               DBL_MIN,
	                               DBL_MAX,
	                               -DBL_MAX,
	                               1e-50,
	                               std::nextafter(1e-50, 0.0),
	                               1e50,
	                               std::nextafter(1e50, 0.0),
	                               1e-270,
	                               0.1,
	                               1.0 / 3,
	                               9007199254740993.0,
	                               static_cast<double>(FLT_MAX),
	                               static_cast<double>(FLT_MIN),
	                               static_cast<double>(std::numeric_limits<float>::denorm_min())};
	for (int e = -1074; e <= 1023; e += 7)
		special.push_back(std::ldexp(1.0, e));
	for (int e = -320; e <= 308; e += 3)
		special.push_back(std::pow(10.0, e));
	check_doubles(db, special);
	const int batches = 20 * scale();
	for (int b = 0; b < batches; ++b) {
		std::vector<double> values;
		for (int i = 0; i < 5000; ++i) {
			double d;
			uint64_t bits = rng();
			if (i % 5 == 0)
				bits &= 0x800FFFFFFFFFFFFFULL; // subnormals
			std::memcpy(&d, &bits, sizeof d);
			if (std::isnan(d))
				continue;
			values.push_back(d);
		}
		check_doubles(db, values);
	}
	std::string out;
	EXPECT_THROW(append_real_literal(out, std::nan("")), Error);
}

TEST(EncodeProperty, RandomIntegersRoundTripExactly) {
	std::mt19937_64 rng(seed() + 4);
	SqliteDb db;
	db.exec("CREATE TABLE n (i INTEGER PRIMARY KEY, v INTEGER)");
	std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(),
	                               std::numeric_limits<int64_t>::max(),
	                               0,
	                               -1,
	                               (int64_t{1} << 53) + 1,
	                               -((int64_t{1} << 53) + 1)};
	for (int i = 0; i < 20000 * scale(); ++i)
		values.push_back(static_cast<int64_t>(rng()) >> (rng() % 64));
	for (size_t i = 0; i < values.size(); i += 500) {
		std::string sql = "INSERT INTO n VALUES ";
		for (size_t k = i; k < std::min(values.size(), i + 500); ++k) {
			sql += (k > i ? ",(" : "(") + std::to_string(k) + ",";
			append_integer_literal(sql, values[k]);
			sql += ")";
		}
		db.exec(sql);
	}
	auto rows = db.query("SELECT i, typeof(v), v FROM n ORDER BY i");
	ASSERT_EQ(rows.size(), values.size());
	for (size_t k = 0; k < values.size(); ++k) {
		ASSERT_EQ(rows[k][1].bytes, "integer") << values[k];
		ASSERT_EQ(rows[k][2].i, values[k]);
	}
}

TEST(EncodeProperty, RandomIdentifiersNameTablesAndColumnsExactly) {
	std::mt19937_64 rng(seed() + 5);
	SCOPED_TRACE("PG2D1_FUZZ_SEED=" + std::to_string(seed()));
	SqliteDb db;
	const std::string fixed[] = {"select", "order", "Group By", "a\"b", "\"", "\"\"", " lead", "naïve", "日本"};
	std::vector<std::string> names(std::begin(fixed), std::end(fixed));
	for (int i = 0; i < 300 * scale(); ++i) {
		std::string s = random_utf8(rng, 1 + rng() % 12);
		if (s.find('\0') == std::string::npos)
			names.push_back(s);
	}
	for (size_t i = 0; i < names.size(); ++i) {
		const std::string table = names[i] + "#" + std::to_string(i); // distinct, whatever the case folding
		const std::string column = names[(i + 1) % names.size()];
		db.exec("CREATE TABLE " + quote_ident(table) + " (" + quote_ident(column) + " TEXT)");
		std::string lit;
		append_text_literal(lit, table);
		auto r = db.query("SELECT name FROM pragma_table_info(" + lit + ")");
		ASSERT_EQ(r.size(), 1u) << hex(table);
		ASSERT_EQ(r[0][0].bytes, column) << hex(column);
		auto t = db.query("SELECT count(*) FROM sqlite_master WHERE name = " + lit);
		ASSERT_EQ(t[0][0].i, 1) << hex(table);
	}
}

} // namespace
} // namespace pg2d1
