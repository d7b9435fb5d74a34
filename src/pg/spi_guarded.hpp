// spi_guarded.hpp — SPI statements and result readers that are safe to call from C++ code
// holding live C++ objects: arguments are built and results copied out with every
// PostgreSQL call inside its own pg_call, so an elog(ERROR) surfaces as a PgError.
// Must never be called without an open transaction and SPI connection.
// Called by job_store.cpp and migrate.cpp.
#pragma once

#include "boundary.hpp"

extern "C" {
#include "postgres.h"
#include "executor/spi.h"
}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

struct SpiArg {
	Oid type;
	Datum value;
	bool isnull;
};

SpiArg int8_arg(int64_t v);
SpiArg int4_arg(int32_t v);
SpiArg oid_arg(Oid v);
SpiArg bool_arg(bool v);
SpiArg float8_arg(double v);
SpiArg text_arg(const std::string &v, bool null_if_empty = false);
SpiArg text_array_arg(const std::optional<std::vector<std::string>> &values); // nullopt = NULL
SpiArg int8_array_arg(const std::vector<int64_t> &values);

// Runs a statement with typed arguments (read_only = false takes a fresh snapshot and a new
// command id). Returns SPI_processed.
uint64 spi_exec(const std::string &sql, const std::vector<SpiArg> &args, bool read_only = false, long limit = 0);

// Readers of the last result (0-based row, 1-based column); NULL reads as 0 / false / "".
int64_t get_int64(uint64 row, int col);
int32_t get_int32(uint64 row, int col);
bool get_bool(uint64 row, int col);
double get_float8(uint64 row, int col);
Oid get_oid(uint64 row, int col);
std::string get_text(uint64 row, int col);
std::optional<std::vector<std::string>> get_text_array(uint64 row, int col); // nullopt = NULL

} // namespace pg2d1
