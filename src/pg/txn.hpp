// txn.hpp — short transactions for background workers: one per unit of work.
// Must never leave a transaction open across a network wait; on any exception the
// caller aborts with abort_transaction() before doing anything else.
// Called by worker.cpp and migrate.cpp (which run in pg2d1 background workers).
#pragma once

#include "boundary.hpp"

namespace pg2d1 {

void begin_transaction();          // StartTransactionCommand + SPI_connect + snapshot
void commit_transaction();         // SPI_finish + CommitTransactionCommand
void abort_transaction() noexcept; // after an error: AbortCurrentTransaction if one is open

template <typename F> auto in_transaction(F &&f) -> decltype(f()) {
	begin_transaction();
	if constexpr (std::is_void_v<decltype(f())>) {
		f();
		commit_transaction();
	} else {
		auto r = f();
		commit_transaction();
		return r;
	}
}

} // namespace pg2d1
