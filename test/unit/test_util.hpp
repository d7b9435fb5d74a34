// test_util.hpp — small helpers shared by the unit tests (test-only).
// Must never hide a failure: a missing exception is reported as a test failure.
// Used by every test/unit/test_*.cpp.
#pragma once

#include "core/error.hpp"

#include <gtest/gtest.h>

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

} // namespace pg2d1::test
