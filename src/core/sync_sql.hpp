// sync_sql.hpp — the D1 statements of incremental sync that are not upserts: deletes of keys
// gone from PostgreSQL, the keyset pages that read D1's keys back (reconcile), and packing
// statements into requests within D1's limits.
// Must never emit a statement over max_statement_bytes (a key too long for one statement
// throws Error 54000), and never change the order of statements it packs.
// Called by the sync worker (src/pg/sync.cpp); unit-tested against SQLite.
#pragma once

#include "statement.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

// D1's SQLite runs out of memory (SQLITE_NOMEM) on IN lists of some thousands of terms
// (measured on the local engine: 5,000 work, 8,000 fail); pg2d1 stays far below.
constexpr size_t kMaxInListTerms = 1000;

// DELETE FROM "t" WHERE "id" IN (1,2) — or ("a","b") IN (VALUES (1,'x'),(2,'y')) for a
// composite key. `keys` holds one SQLite literal per key column for each key; at most
// `max_keys` keys per statement.
std::vector<std::string> delete_statements(const std::string &table, const std::vector<std::string> &key_columns,
                                           const std::vector<std::vector<std::string>> &keys,
                                           size_t max_statement_bytes, size_t max_keys = kMaxInListTerms);

// SELECT "a","b" FROM "t" [WHERE ("a","b") > (lit, lit)] ORDER BY "a","b" LIMIT n: one page of
// D1's keys in SQLite's own order, after the last key of the previous page.
std::string d1_key_page_sql(const std::string &table, const std::vector<std::string> &key_columns,
                            const std::optional<std::vector<std::string>> &after_literals, size_t limit);

// Groups statements, in order, into requests of at most `max_statements` statements and
// `max_bytes` bytes of SQL (a statement larger than max_bytes travels alone).
std::vector<std::vector<Statement>> pack_requests(std::vector<Statement> statements, size_t max_statements,
                                                  size_t max_bytes);

} // namespace pg2d1
