// error.hpp — the one exception type the core throws for anything a user must see; retryable() marks a failure
// that is expected to pass by itself (D1 unreachable, rate-limited or overloaded past the retry budget), and
// size_related() one that says the request was too large or too slow (a smaller request may pass).
// Must never carry a secret (API token) in any field.
// Thrown by every src/core module; caught at the PostgreSQL boundary (src/pg/boundary.*),
// which turns it into ereport(ERROR) with the SQLSTATE, DETAIL and HINT given here.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace pg2d1 {

// SQLSTATEs the core uses (PostgreSQL's codes, as 5-character strings).
namespace sqlstate {
inline constexpr const char *kConnectionFailure = "08006";    // network / HTTP failure
inline constexpr const char *kInvalidAuthorization = "28000"; // token rejected
inline constexpr const char *kInvalidParameter = "22023";     // bad argument / option
inline constexpr const char *kDataException = "22000";        // value D1 cannot hold
inline constexpr const char *kProgramLimit = "54000";         // a D1 limit exceeded
inline constexpr const char *kExternalRoutine = "38000";      // D1 rejected the SQL
inline constexpr const char *kUndefinedObject = "42704";      // unknown account/database
inline constexpr const char *kQueryCanceled = "57014";        // aborted by the caller
inline constexpr const char *kInternal = "XX000";
} // namespace sqlstate

class Error : public std::runtime_error {
  public:
	Error(std::string sqlstate, const std::string &message, std::string detail = {}, std::string hint = {})
	    : std::runtime_error(message), sqlstate_(std::move(sqlstate)), detail_(std::move(detail)),
	      hint_(std::move(hint)) {}
	// An error the caller may wait out and try again (the same request later), rather than fail the job.
	static Error make_retryable(std::string sqlstate, const std::string &message, std::string detail = {},
	                            std::string hint = {}) {
		Error e(std::move(sqlstate), message, std::move(detail), std::move(hint));
		e.retryable_ = true;
		return e;
	}
	bool retryable() const noexcept {
		return retryable_;
	}
	const std::string &sqlstate() const noexcept {
		return sqlstate_;
	}
	const std::string &detail() const noexcept {
		return detail_;
	}
	const std::string &hint() const noexcept {
		return hint_;
	}
	// The request was too large or too slow for D1 (HTTP 413, a request timeout, "D1 DB is overloaded",
	// "exceeded timeout"): the same data in smaller requests may pass (RequestSizer halves its requests on it).
	// Independent of retryable(); constructors leave it false.
	bool size_related() const noexcept {
		return size_related_;
	}
	Error &mark_size_related(bool on = true) noexcept {
		size_related_ = on;
		return *this;
	}

  private:
	std::string sqlstate_;
	std::string detail_;
	std::string hint_;
	bool retryable_ = false;
	bool size_related_ = false;
};

} // namespace pg2d1
