// txn.cpp — begin/commit/abort of the short worker transactions (see txn.hpp).
// Must never be used inside a backend's own transaction (SQL functions): only in workers.
// Called by worker.cpp and migrate.cpp.
#include "txn.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/snapmgr.h"
}

namespace pg2d1 {

void begin_transaction() {
	pg_call([] {
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT) {
			elog(ERROR, "pg2d1: SPI_connect failed");
		}
		PushActiveSnapshot(GetTransactionSnapshot());
	});
}

void commit_transaction() {
	pg_call([] {
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	});
}

void abort_transaction() noexcept {
	try {
		pg_call([] {
			if (IsTransactionState() || IsAbortedTransactionBlockState() || GetCurrentTransactionNestLevel() > 0) {
				AbortCurrentTransaction();
			}
		});
	} catch (...) {
		// Nothing more can be done; the worker exits next.
	}
}

} // namespace pg2d1
