// boundary.cpp — converts C++ exceptions into PostgreSQL errors at every SQL entry point.
// Must never ereport(ERROR) while a C++ object or a C++ catch block is still alive.
// Called through PG2D1_FUNCTION (boundary.hpp) by every SQL-callable function.
#include "boundary.hpp"

#include "core/error.hpp"

extern "C" {
#include "miscadmin.h"
}

#include <new>

namespace pg2d1 {

namespace detail {
ErrorData *take_pg_error(MemoryContext target) {
	MemoryContextSwitchTo(target);
	ErrorData *edata = CopyErrorData();
	FlushErrorState();
	return edata;
}
} // namespace detail

namespace {
int sqlstate_code(const std::string &s) {
	if (s.size() != 5) {
		return ERRCODE_INTERNAL_ERROR;
	}
	return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

// Plain C data describing an error, filled inside a catch block, raised after it.
struct PendingError {
	int sqlstate = 0;
	char *message = nullptr;
	char *detail = nullptr;
	char *hint = nullptr;
	ErrorData *pg = nullptr;
};

char *copy_or_null(const std::string &s) {
	return s.empty() ? nullptr : pstrdup(s.c_str());
}
} // namespace

Datum invoke_cpp(PGFunction impl, FunctionCallInfo fcinfo) noexcept {
	PendingError pending;
	try {
		return impl(fcinfo);
	} catch (const PgError &e) {
		pending.pg = e.edata();
	} catch (const Error &e) {
		pending.sqlstate = sqlstate_code(e.sqlstate());
		pending.message = pstrdup(e.what());
		pending.detail = copy_or_null(e.detail());
		pending.hint = copy_or_null(e.hint());
	} catch (const std::bad_alloc &) {
		pending.sqlstate = ERRCODE_OUT_OF_MEMORY;
		pending.message = pstrdup("pg2d1: out of memory");
	} catch (const std::exception &e) {
		pending.sqlstate = ERRCODE_INTERNAL_ERROR;
		pending.message = psprintf("pg2d1: internal error: %s", e.what());
	} catch (...) {
		pending.sqlstate = ERRCODE_INTERNAL_ERROR;
		pending.message = pstrdup("pg2d1: internal error: unknown C++ exception");
	}
	// Every C++ object of the call has been destroyed; raising is safe now.
	if (pending.pg) {
		ReThrowError(pending.pg);
	}
	ereport(ERROR, (errcode(pending.sqlstate), errmsg_internal("%s", pending.message),
	                pending.detail ? errdetail_internal("%s", pending.detail) : 0,
	                pending.hint ? errhint("%s", pending.hint) : 0));
	pg_unreachable();
}

bool interrupt_requested() noexcept {
	return QueryCancelPending || ProcDiePending;
}

std::string describe_exception(const std::exception &e, const char *separator) {
	std::string detail;
	if (auto *pe = dynamic_cast<const PgError *>(&e)) {
		detail = pe->detail();
	} else if (auto *ce = dynamic_cast<const Error *>(&e)) {
		detail = ce->detail();
	}
	return detail.empty() ? std::string(e.what()) : std::string(e.what()) + separator + detail;
}

void check_for_interrupts() {
	pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

} // namespace pg2d1
