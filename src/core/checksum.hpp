// checksum.hpp — an order-sensitive content checksum over rows of canonical text values,
// computed the same way for PostgreSQL's rows and for the rows read back from D1.
// Must never let two different row sequences that differ in a value, a NULL-vs-empty
// distinction, a column boundary or the row order hash alike by construction.
// Called by pg2d1_verify (src/pg/functions.cpp); unit-tested in test/unit/test_checksum.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

class RowChecksum {
  public:
	void add_row(const std::vector<std::optional<std::string>> &cells);
	uint64_t rows() const {
		return rows_;
	}
	std::string hex() const; // 16 lower-case hex digits (FNV-1a 64 of the framed cells)

  private:
	void feed(const void *data, size_t len);
	uint64_t hash_ = 0xcbf29ce484222325ULL;
	uint64_t rows_ = 0;
};

} // namespace pg2d1
