// rows.hpp — one row of a source table in D1's form: SQLite literals for the upsert, large
// values as bound parameters, and the canonical text pg2d1_verify compares on both sides.
// Must never change a value silently (DESIGN.md invariant 4): every value is written by a
// documented rule (README "Type mapping") or refused with an error naming the column.
// Boundary: every function here that calls PostgreSQL (reading datums, output functions,
// detoasting) does so in its own pg_call — one per row for encode_row and canonical_row —
// so a PostgreSQL error arrives as PgError and they are safe with or without an enclosing
// pg_call. Their palloc'd scratch (output strings, detoasted values) goes to the current
// memory context: callers reading many rows reset a context per chunk.
// Called by the migration worker (migrate.cpp) and pg2d1_verify (verify.cpp).
#pragma once

#include "catalog.hpp"

#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

// D1 holds at most this many bytes in one string, BLOB or row (Cloudflare's documented limit).
constexpr size_t kD1MaxValueBytes = 2000000;

struct EncodedRow {
	std::string tuple;               // "(1,'a',X'00',NULL)" or with ?n / unhex(?n) placeholders
	std::vector<std::string> params; // values of ?1 … ?n (text, or hex for unhex())
	int column = -1;                 // the column being encoded, for errors (-1 when done)
};

// Encodes the row (selected with SourceTable::select_list()). When the inline tuple would
// exceed `max_tuple_bytes`, text and BLOB values over 1 KB are sent as bound parameters
// instead. Throws Error 54000 when a value or the row exceeds kD1MaxValueBytes, 22000 for
// text that is not valid UTF-8.
void encode_row(const SourceTable &t, HeapTuple tup, TupleDesc desc, size_t max_tuple_bytes, EncodedRow &out);

// Appends the SQLite literal of one value (NaN as the TEXT 'NaN', see README).
void append_d1_literal(std::string &out, const SourceColumn &col, Datum d);

// A value in verify's canonical form: what D1's result cells render for the stored value.
std::optional<std::string> canonical_value(const SourceColumn &col, Datum d, bool isnull);
// Every column of a row selected with SourceTable::select_list() in canonical form, into
// `cells` (resized to the column count; its strings are reused from call to call).
void canonical_row(const SourceTable &t, HeapTuple tup, TupleDesc desc,
                   std::vector<std::optional<std::string>> &cells);

// The D1 expression whose rendered cell equals canonical_value() of the PostgreSQL value
// (no PostgreSQL call).
std::string d1_canonical_expr(const SourceColumn &col);

} // namespace pg2d1
