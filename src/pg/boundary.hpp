// boundary.hpp — the one crossing point between PostgreSQL (C, longjmp errors) and C++
// (exceptions). PG2D1_FUNCTION wraps every SQL-callable entry: no C++ exception escapes
// into PostgreSQL. pg_call() runs PostgreSQL code from C++: an elog(ERROR) longjmp is
// caught there and rethrown as PgError, so C++ destructors always run.
// Must never: longjmp across a frame that owns C++ objects, or let an exception reach C.
// Called by every file in src/pg. Rules are written down in src/pg/README.md.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include <exception>
#include <string>
#include <optional>
#include <type_traits>
#include <utility>

namespace pg2d1 {

// A PostgreSQL error caught by pg_call(), carried through C++ frames as an exception and
// re-raised unchanged (same SQLSTATE, message, detail, hint, context) at the boundary.
class PgError : public std::exception {
  public:
	explicit PgError(ErrorData *edata)
	    : edata_(edata), message_(edata && edata->message ? edata->message : "PostgreSQL error"),
	      detail_(edata && edata->detail ? edata->detail : "") {}
	const char *what() const noexcept override {
		return message_.c_str();
	}
	const std::string &detail() const noexcept {
		return detail_;
	}
	// Valid only while the memory context current at pg_call() lives (not after a worker
	// aborts its transaction); the boundary re-raises it before that.
	ErrorData *edata() const noexcept {
		return edata_;
	}

  private:
	ErrorData *edata_;
	std::string message_; // owned copies, safe after the transaction is gone
	std::string detail_;
};

namespace detail {
// Copies the current PostgreSQL error out of ErrorContext and clears it. Only called
// from a PG_CATCH block.
ErrorData *take_pg_error(MemoryContext target);
} // namespace detail

// Runs `f` (which may call PostgreSQL functions that elog(ERROR)) and converts a longjmp
// into PgError and a C++ exception thrown by `f` into the same exception after the
// PG_TRY block has been left. `f` must not own C++ objects with destructors in its own
// frame at the moment it calls into PostgreSQL (those would be skipped by the longjmp):
// keep such state outside the lambda.
template <typename F> auto pg_call(F &&f) -> decltype(f()) {
	using R = decltype(f());
	MemoryContext caller_context = CurrentMemoryContext;
	ErrorData *volatile pg_error = nullptr;
	std::exception_ptr cpp_error;
	std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
	PG_TRY();
	{
		try {
			if constexpr (std::is_void_v<R>) {
				f();
			} else {
				result.emplace(f());
			}
		} catch (...) {
			MemoryContextSwitchTo(caller_context);
			cpp_error = std::current_exception();
		}
	}
	PG_CATCH();
	{ pg_error = detail::take_pg_error(caller_context); }
	PG_END_TRY();
	if (pg_error) {
		throw PgError(pg_error);
	}
	if (cpp_error) {
		std::rethrow_exception(cpp_error);
	}
	if constexpr (!std::is_void_v<R>) {
		return std::move(*result);
	}
}

// Calls a C++ implementation of a SQL function and turns any exception it throws into a
// PostgreSQL ERROR. The ereport happens after every C++ object of the call is gone.
Datum invoke_cpp(PGFunction impl, FunctionCallInfo fcinfo) noexcept;

// True when the backend has been asked to cancel the query or terminate: safe to call
// from any C++ code (reads flags only, never longjmps).
bool interrupt_requested() noexcept;

// An exception as one line for a log or a job row: the message, then `separator` and the
// DETAIL of a PgError or pg2d1::Error when there is one.
std::string describe_exception(const std::exception &e, const char *separator);

// Runs CHECK_FOR_INTERRUPTS() through pg_call(): a cancel becomes a PgError.
void check_for_interrupts();

} // namespace pg2d1

// Declares a SQL-callable function whose body is C++. Usage:
//   PG2D1_FUNCTION(pg2d1_query) { ... return datum; }
#define PG2D1_FUNCTION(name)                                                                                           \
	extern "C" {                                                                                                       \
	PG_FUNCTION_INFO_V1(name);                                                                                         \
	}                                                                                                                  \
	static Datum name##_impl(PG_FUNCTION_ARGS);                                                                        \
	extern "C" Datum name(PG_FUNCTION_ARGS) {                                                                          \
		return pg2d1::invoke_cpp(name##_impl, fcinfo);                                                                 \
	}                                                                                                                  \
	static Datum name##_impl(PG_FUNCTION_ARGS)
