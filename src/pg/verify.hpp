// verify.hpp — compares a PostgreSQL table with its D1 copy range by range: row counts and
// a checksum of every value in one canonical form, both sides read back.
// Must never trust pg2d1's own counters or ledger: both sides are read.
// Called by pg2d1_verify (functions.cpp) and by the worker after a copy (verify => true).
#pragma once

#include "catalog.hpp"
#include "core/d1_client.hpp"

#include <functional>
#include <optional>
#include <string>

namespace pg2d1 {

// The D1 literals of the key of a row selected with SourceTable::select_list(): "42", or
// "(1,'x')" for several columns. Safe with or without an enclosing pg_call.
std::string d1_key_literals(const SourceTable &t, HeapTuple tup, TupleDesc desc);

struct VerifyRange {
	std::optional<int64_t> start_id; // the key for one integer key column, else row ordinals;
	std::optional<int64_t> end_id;   // both unset on the last row (D1 rows outside every range)
	std::string start_key;           // "42" or "(1, abc)"
	std::string end_key;
	uint64_t pg_count = 0;
	uint64_t d1_count = 0;
	std::string pg_checksum;
	std::string d1_checksum;
	bool ok = true;
};

struct VerifySummary {
	uint64_t ranges = 0;
	uint64_t bad_ranges = 0;
	uint64_t pg_rows = 0;
	uint64_t d1_rows = 0;
	int64_t d1_outside = 0; // D1 rows in no range (deleted in PostgreSQL, or never there)
	std::string first_bad;  // "id 1..50000: 50000 rows in PostgreSQL, 49999 in D1" (empty when none)
	bool ok() const {
		return bad_ranges == 0 && d1_outside == 0;
	}
	std::string text() const; // one line for the job row and NOTICEs
};

// Walks the table in D1's key order (SQLite compares integers and reals numerically, text
// byte by byte, BLOBs with memcmp), `range_rows` rows a range. Requires an open SPI
// connection in a transaction with set_fixed_output_settings() in effect. `emit` is called
// for every range, then once for the outside row. Safe with or without an enclosing
// pg_call (PostgreSQL errors arrive as PgError).
//
// Memory: PostgreSQL rows are read 1,000 at a time into a memory context that is reset
// after each chunk and deleted after each range, D1 rows in pages of about 8 MB, so memory
// does not grow with the table. The palloc'd data is a child of CurrentMemoryContext as it
// is at the start of each range.
//
// between_ranges (optional) is called after each range has been emitted (emit returned),
// including the last one, and never after the outside row. At that moment verify holds no
// PostgreSQL resource a commit would invalidate: no portal or cursor is open, nothing it
// allocated with palloc is still needed, and the SPI connection state is as it was at
// entry (verify never connects or finishes SPI itself). So the callback may commit the
// transaction and start a new one (StartTransactionCommand, SPI_connect, a fresh active
// snapshot); the next range then reads under that snapshot. What the callback must restore
// itself: an open SPI connection, an active snapshot, and the fixed output settings (a
// worker's GUC_ACTION_SET survives commits). With a callback each range is its own keyset
// query (the order key > the last one seen, ORDER BY D1's order, LIMIT range_rows);
// without one, a single cursor walks the whole table (one sort, when D1's order is not an
// index's, instead of one per range) and stays open across ranges. `emit` may not commit.
VerifySummary verify_table(const SourceTable &t, D1Client &client, int64_t range_rows,
                           const std::function<void(const VerifyRange &)> &emit,
                           const std::function<void()> &between_ranges = {});

} // namespace pg2d1
