// test_util.hpp — small helpers shared by the unit tests (test-only).
// Must never hide a failure: a missing exception is reported as a test failure.
// Used by every test/unit/test_*.cpp.
#pragma once

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace pg2d1::test {

// Runs f and returns the pg2d1::Error it throws; records a failure when it throws nothing.
template <class F> Error capture_error(F &&f) {
	try {
		f();
	} catch (const Error &e) {
		return e;
	}
	ADD_FAILURE() << "expected a pg2d1::Error";
	return Error("", "(no error thrown)");
}

inline bool contains(const std::string &haystack, const std::string &needle) {
	return haystack.find(needle) != std::string::npos;
}

// Encodes a code point as UTF-8 (no validation: used to build test input).
inline std::string utf8(uint32_t cp) {
	std::string s;
	if (cp < 0x80) {
		s.push_back(static_cast<char>(cp));
	} else if (cp < 0x800) {
		s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
		s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
		s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
		s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	} else {
		s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
		s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
		s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
		s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	}
	return s;
}

// Independent reference: decodes one sequence the slow way and applies Unicode's rules.
inline bool reference_valid_utf8(const std::string &s) {
	size_t i = 0;
	while (i < s.size()) {
		const auto b = static_cast<unsigned char>(s[i]);
		size_t len;
		uint32_t cp;
		if (b < 0x80) {
			len = 1, cp = b;
		} else if ((b & 0xE0) == 0xC0) {
			len = 2, cp = b & 0x1F;
		} else if ((b & 0xF0) == 0xE0) {
			len = 3, cp = b & 0x0F;
		} else if ((b & 0xF8) == 0xF0) {
			len = 4, cp = b & 0x07;
		} else {
			return false;
		}
		if (i + len > s.size())
			return false;
		for (size_t k = 1; k < len; ++k) {
			const auto c = static_cast<unsigned char>(s[i + k]);
			if ((c & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (c & 0x3F);
		}
		const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp == 0 || cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

} // namespace pg2d1::test
