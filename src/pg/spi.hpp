// spi.hpp — small helpers for SPI queries: connect, run with typed arguments, read columns.
// Must only be called inside pg_call() (they elog on failure) with an open transaction.
// Called by functions.cpp, migrate.cpp, worker.cpp, catalog.cpp.
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/spi.h"
}

#include <initializer_list>
#include <utility>

namespace pg2d1 {

inline void spi_connect() {
	if (SPI_connect() != SPI_OK_CONNECT) {
		elog(ERROR, "pg2d1: SPI_connect failed");
	}
}

// Runs a statement with typed arguments; read_only = false takes a fresh snapshot.
inline int spi_run(const char *sql, std::initializer_list<std::pair<Oid, Datum>> args, bool read_only, long limit = 0) {
	Oid types[24];
	Datum values[24];
	int n = 0;
	if (args.size() > 24) {
		elog(ERROR, "pg2d1: spi_run takes at most 24 arguments");
	}
	for (auto &a : args) {
		types[n] = a.first;
		values[n] = a.second;
		n++;
	}
	int rc = SPI_execute_with_args(sql, n, types, values, nullptr, read_only, limit);
	if (rc < 0) {
		elog(ERROR, "pg2d1: internal query failed (%d): %s", rc, sql);
	}
	return rc;
}

// Column `col` (1-based) of result row `row` of the last SPI query.
inline Datum spi_datum(uint64 row, int col, bool *isnull) {
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}
inline int64 spi_int64(uint64 row, int col) {
	bool isnull;
	Datum d = spi_datum(row, col, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}
inline int32 spi_int32(uint64 row, int col) {
	bool isnull;
	Datum d = spi_datum(row, col, &isnull);
	return isnull ? 0 : DatumGetInt32(d);
}
inline bool spi_bool(uint64 row, int col) {
	bool isnull;
	Datum d = spi_datum(row, col, &isnull);
	return !isnull && DatumGetBool(d);
}
inline char *spi_text(uint64 row, int col) { // NULL for SQL NULL
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

} // namespace pg2d1
