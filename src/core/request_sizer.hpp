// request_sizer.hpp — adaptive request size for D1: sends statements in order as requests of at most the current
// byte/statement limits, halves the limits when D1 says a request was too large or too slow (Error::size_related())
// and resends the failed part as smaller requests, then grows back towards the maximum after a run of successes.
// Must never reorder, drop or duplicate a statement among the requests that succeeded, send a statement before
// everything ahead of it was acknowledged (a request's last statement may be a ledger trailer), go below one
// statement per request, or swallow a failure that is not size-related.
// Called by the migration and sync drivers (src/pg/*) around D1Client::batch with
// D1Config::size_failures_fail_fast set; unit-tested in test_request_sizer.cpp.
#pragma once

#include "statement.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace pg2d1 {

// The bytes a statement counts for: SQL text plus parameter values, as Limits::max_request_bytes counts them
// (batch_planner.hpp), so a planned request at the limits passes whole at full size.
size_t statement_bytes(const Statement &statement);

class RequestSizer {
  public:
	static constexpr int kRegrowAfter = 20; // consecutive successful requests at a reduced size before growing

	// The largest limits; both are clamped to at least 1.
	RequestSizer(size_t max_bytes, size_t max_statements);

	// Sends `statements` in order through `send_request` (one call = one D1 request), split into requests of at most
	// the current limits (a statement larger than the byte limit goes alone). When a call throws an Error with
	// size_related() for a request of more than one statement, the limits are halved (relative to that request, so
	// it always gets smaller; never below one statement) and its statements are sent again as smaller requests, in
	// order. Any other exception, and a size-related failure of a single-statement request, propagates unchanged
	// (statements of earlier requests stay sent; resending them is harmless, writes are idempotent). After
	// kRegrowAfter consecutive successful requests at a reduced size the limits grow by 1/4 towards the maximum.
	// `send_request` may read the vector but must leave its statements in place when it throws.
	void send(std::vector<Statement> statements, const std::function<void(std::vector<Statement> &)> &send_request);

	size_t current_bytes() const {
		return bytes_;
	}
	size_t current_statements() const {
		return statements_;
	}
	size_t max_bytes() const {
		return max_bytes_;
	}
	size_t max_statements() const {
		return max_statements_;
	}
	uint64_t shrinks() const { // times the limits were halved
		return shrinks_;
	}
	uint64_t grows() const { // times the limits grew back by 1/4
		return grows_;
	}

  private:
	void shrink(size_t failed_statements, size_t failed_bytes);
	void succeeded();

	size_t max_bytes_;
	size_t max_statements_;
	size_t bytes_;
	size_t statements_;
	int streak_ = 0; // consecutive successes at a reduced size
	uint64_t shrinks_ = 0;
	uint64_t grows_ = 0;
};

} // namespace pg2d1
