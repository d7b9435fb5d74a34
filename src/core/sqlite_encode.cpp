// sqlite_encode.cpp — SQLite literals (text, integer, real, blob) and quoted identifiers.
// Must never emit a literal SQLite reads back as another value, nor allocate per character (hot path).
// Called by the row encoder (src/pg/scan.*), the batch planner and DDL translation.
#include "sqlite_encode.hpp"

#include "error.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace pg2d1 {

namespace {

constexpr size_t kNoError = std::string_view::npos;

// True when none of the 8 bytes in `w` is >= 0x80 or == 0x00.
inline bool is_plain_ascii_word(uint64_t w) {
	constexpr uint64_t kHigh = 0x8080808080808080ULL;
	constexpr uint64_t kOnes = 0x0101010101010101ULL;
	const bool has_high = (w & kHigh) != 0;
	const bool has_zero = ((w - kOnes) & ~w & kHigh) != 0;
	return !has_high && !has_zero;
}

inline bool is_continuation(unsigned char c) {
	return (c & 0xC0) == 0x80;
}

// Length of the valid multi-byte sequence starting at s[i] (lead byte >= 0x80), or 0.
// Follows RFC 3629's table: no overlongs, no surrogates, nothing above U+10FFFF.
size_t multibyte_length(std::string_view s, size_t i) {
	const auto at = [&](size_t k) -> unsigned char { return static_cast<unsigned char>(s[k]); };
	const unsigned char lead = at(i);
	const size_t left = s.size() - i;
	if (lead >= 0xC2 && lead <= 0xDF)
		return left >= 2 && is_continuation(at(i + 1)) ? 2 : 0;
	if (lead >= 0xE0 && lead <= 0xEF) {
		if (left < 3 || !is_continuation(at(i + 1)) || !is_continuation(at(i + 2)))
			return 0;
		const unsigned char second = at(i + 1);
		if (lead == 0xE0 && second < 0xA0)
			return 0; // overlong
		if (lead == 0xED && second > 0x9F)
			return 0; // UTF-16 surrogate
		return 3;
	}
	if (lead >= 0xF0 && lead <= 0xF4) {
		if (left < 4 || !is_continuation(at(i + 1)) || !is_continuation(at(i + 2)) || !is_continuation(at(i + 3)))
			return 0;
		const unsigned char second = at(i + 1);
		if (lead == 0xF0 && second < 0x90)
			return 0; // overlong
		if (lead == 0xF4 && second > 0x8F)
			return 0; // above U+10FFFF
		return 4;
	}
	return 0;
}

// Offset of the first byte that makes `s` invalid UTF-8 (or a NUL), or kNoError.
size_t first_invalid_utf8(std::string_view s) {
	size_t i = 0;
	const size_t n = s.size();
	while (i < n) {
		if (i + 8 <= n) {
			uint64_t w;
			std::memcpy(&w, s.data() + i, 8);
			if (is_plain_ascii_word(w)) {
				i += 8;
				continue;
			}
		}
		const auto c = static_cast<unsigned char>(s[i]);
		if (c == 0)
			return i;
		if (c < 0x80) {
			++i;
			continue;
		}
		const size_t len = multibyte_length(s, i);
		if (len == 0)
			return i;
		i += len;
	}
	return kNoError;
}

[[noreturn]] void throw_invalid_utf8(std::string_view s, size_t at) {
	const auto byte = static_cast<unsigned char>(s[at]);
	static const char kHex[] = "0123456789abcdef";
	std::string hex = "0x";
	hex.push_back(kHex[byte >> 4]);
	hex.push_back(kHex[byte & 0xF]);
	if (byte == 0)
		throw Error(sqlstate::kDataException, "text value contains a NUL byte",
		            "NUL (0x00) at byte offset " + std::to_string(at) + " of " + std::to_string(s.size()) + ".",
		            "SQLite text literals cannot carry NUL bytes; store such data as bytea.");
	throw Error(sqlstate::kDataException, "text value is not valid UTF-8",
	            "Invalid byte sequence starting with " + hex + " at byte offset " + std::to_string(at) + " of " +
	                std::to_string(s.size()) + ".",
	            "D1 stores text as UTF-8; convert the data or store it as bytea.");
}

// Appends digits so that SQLite parses them as REAL, not INTEGER.
void append_as_real(std::string &out, const char *first, const char *last) {
	out.append(first, last);
	for (const char *p = first; p != last; ++p) {
		if (*p == '.' || *p == 'e' || *p == 'E')
			return;
	}
	out.append(".0");
}

// --- exact REAL literals ---------------------------------------------------------------
// SQLite's text-to-double conversion is not correctly rounded: it scales the decimal
// significand with long double (or double-double) arithmetic, which is off by up to a few
// thousandths of an ulp in the normal range, and (up to 3.42) by far more below ~1e-290.
// The shortest round-trip digits can sit right at the edge of the double's rounding
// interval, where that error flips the result to the neighbouring double. So a spelling is
// used only when its decimal value lies well inside the interval; otherwise 17 or 18
// significant digits (which lie much closer to the double) are used, and tiny magnitudes are
// written as an exact product of two normal-range literals.

static_assert(std::numeric_limits<long double>::digits >= 64, "needs extended-precision long double");

constexpr long double kMaxSafeDistanceUlps = 0.45; // SQLite 3.40 measured < 0.002 ulp off
// D1's SQLite (workerd) misreads about 1 in 4 decimals whose magnitude is above ~1e100 or
// below ~1e-100 (measured: 6,061 of 39,981 random doubles, none between 1e-75 and 1e100).
// Outside [1e-50, 1e50] a value is written as (m*F*F…) or (m/F/F…) with F = 2^200: m is
// in the range every parser reads exactly, F is a power of two in it, and scaling by a
// power of two is exact in IEEE arithmetic because v itself is representable.
constexpr double kSafeLow = 1e-50;
constexpr double kSafeHigh = 1e50;
constexpr int kScaleExponent = 200;
constexpr const char *kTwoTo200 = "1.6069380442589903e+60";
constexpr int kMinPow10 = -360;
constexpr int kMaxPow10 = 340;

const long double *powers_of_ten() {
	static const auto table = [] {
		std::array<long double, kMaxPow10 - kMinPow10 + 1> t{};
		for (int e = kMinPow10; e <= kMaxPow10; ++e)
			t[e - kMinPow10] = std::pow(10.0L, static_cast<long double>(e));
		return t;
	}();
	return table.data();
}

// Value of a decimal produced by std::to_chars ("-1.25e-07", "123.5", "1e+300"), computed in
// long double: about 11 bits more precise than double, enough to measure ulp distances.
long double decimal_value(const char *first, const char *last) {
	uint64_t digits = 0;
	int significant = 0;
	int exp10 = 0;
	bool after_point = false;
	const char *p = first;
	for (; p != last && *p != 'e'; ++p) {
		if (*p == '.') {
			after_point = true;
		} else if (*p >= '0' && *p <= '9') {
			if (significant < 19) {
				digits = digits * 10 + static_cast<uint64_t>(*p - '0');
				significant += digits != 0 ? 1 : 0;
				exp10 -= after_point ? 1 : 0;
			} else if (!after_point) {
				++exp10; // beyond 19 digits only zeros follow in to_chars output
			}
		}
	}
	if (p != last) {
		int e = 0;
		std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), last, e);
		exp10 += e;
	}
	if (exp10 < kMinPow10 || exp10 > kMaxPow10)
		return 0; // never for finite doubles written with <= 19 digits
	return static_cast<long double>(digits) * powers_of_ten()[exp10 - kMinPow10];
}

// Distance from the decimal to |v| in units of the gap between |v| and its neighbour on
// that side; < 0.5 means a correctly rounded parser returns v.
long double distance_in_ulps(const char *first, const char *last, double v) {
	const double mag = std::fabs(v);
	const long double dec = decimal_value(first + (*first == '-' ? 1 : 0), last);
	const double neighbour = dec < mag ? std::nextafter(mag, 0.0) : std::nextafter(mag, HUGE_VAL);
	const long double gap = std::fabs(static_cast<long double>(neighbour) - mag);
	return std::fabs(dec - mag) / gap;
}

// Writes a normal-range finite non-zero double with the shortest spelling SQLite reads back
// exactly: shortest round-trip, else 17, else 18 significant digits.
void append_safe_decimal(std::string &out, double v) {
	char buf[48];
	auto res = std::to_chars(buf, buf + sizeof buf, v);
	if (distance_in_ulps(buf, res.ptr, v) <= kMaxSafeDistanceUlps) {
		append_as_real(out, buf, res.ptr);
		return;
	}
	res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific, 16);
	if (distance_in_ulps(buf, res.ptr, v) > kMaxSafeDistanceUlps)
		res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific, 17);
	out.append(buf, res.ptr);
}

// (m*F…) or (m/F…), see kSafeLow.
void append_scaled_real(std::string &out, double v) {
	const bool big = std::fabs(v) >= kSafeHigh;
	int n = 0;
	double m = v;
	while (big ? std::fabs(m) >= kSafeHigh : std::fabs(m) < kSafeLow) {
		m = std::ldexp(m, big ? -kScaleExponent : kScaleExponent);
		++n;
	}
	out.push_back('(');
	append_safe_decimal(out, m);
	for (int i = 0; i < n; ++i) {
		out.push_back(big ? '*' : '/');
		out.append(kTwoTo200);
	}
	out.push_back(')');
}

} // namespace

bool is_valid_utf8(std::string_view s) {
	return first_invalid_utf8(s) == kNoError;
}

void append_quoted_ident(std::string &out, std::string_view name) {
	out.reserve(out.size() + name.size() + 2);
	out.push_back('"');
	size_t start = 0;
	for (size_t q = name.find('"'); q != std::string_view::npos; q = name.find('"', start)) {
		out.append(name.data() + start, q + 1 - start);
		out.push_back('"');
		start = q + 1;
	}
	out.append(name.data() + start, name.size() - start);
	out.push_back('"');
}

std::string quote_ident(std::string_view name) {
	std::string out;
	append_quoted_ident(out, name);
	return out;
}

void append_text_literal(std::string &out, std::string_view utf8) {
	const size_t bad = first_invalid_utf8(utf8);
	if (bad != kNoError)
		throw_invalid_utf8(utf8, bad);
	out.reserve(out.size() + utf8.size() + 2);
	out.push_back('\'');
	size_t start = 0;
	for (size_t q = utf8.find('\''); q != std::string_view::npos; q = utf8.find('\'', start)) {
		out.append(utf8.data() + start, q + 1 - start);
		out.push_back('\'');
		start = q + 1;
	}
	out.append(utf8.data() + start, utf8.size() - start);
	out.push_back('\'');
}

void append_integer_literal(std::string &out, int64_t v) {
	char buf[24];
	const auto res = std::to_chars(buf, buf + sizeof buf, v);
	out.append(buf, res.ptr);
}

void append_real_literal(std::string &out, double v) {
	if (std::isnan(v))
		throw Error(sqlstate::kDataException, "NaN cannot be stored in D1 as a REAL value",
		            "SQLite turns NaN into NULL, which would silently change the value.",
		            "Map NaN explicitly (for example to NULL or a text column) before migrating.");
	if (std::isinf(v)) {
		out.append(v > 0 ? "9e999" : "-9e999");
		return;
	}
	if (v == 0) {
		out.append(std::signbit(v) ? "-0.0" : "0.0");
		return;
	}
	if (std::fabs(v) < kSafeLow || std::fabs(v) >= kSafeHigh) {
		append_scaled_real(out, v);
		return;
	}
	append_safe_decimal(out, v);
}

void append_blob_literal(std::string &out, const uint8_t *data, size_t len) {
	static const char kHex[] = "0123456789ABCDEF";
	const size_t start = out.size();
	out.resize(start + 2 * len + 3);
	char *p = &out[start];
	*p++ = 'X';
	*p++ = '\'';
	for (size_t i = 0; i < len; ++i) {
		*p++ = kHex[data[i] >> 4];
		*p++ = kHex[data[i] & 0xF];
	}
	*p = '\'';
}

} // namespace pg2d1
