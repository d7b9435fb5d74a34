// migrate.hpp — copies one table into D1 checkpoint by checkpoint (keyset on the primary
// key, multi-row idempotent upserts), recording each checkpoint in D1's
// migration_checkpoints and in the local ledger (pg2d1.jobs / pg2d1.checkpoints).
// Must never mark a checkpoint completed before D1 acknowledged all of its rows.
// Called by pg2d1_migrate (functions.cpp).
#pragma once

#include "credentials.hpp"

extern "C" {
#include "postgres.h"
}

#include <cstdint>
#include <string>

namespace pg2d1 {

struct MigrateOptions {
	int64_t checkpoint_size = 50000;
	int64_t batch_size = 0; // rows per request cap; 0 = as many as the limits allow
	bool resume = true;
	bool traditional = false; // no checkpoints
	bool report_progress = true; // NOTICE per checkpoint
};

struct MigrateResult {
	int64_t job_id = 0;
	uint64_t rows = 0;
	uint64_t checkpoints_done = 0;
	uint64_t checkpoints_skipped = 0;
	double seconds = 0;
	ClientStats stats;
};

MigrateResult migrate_table(Oid relid, const Target &target, const MigrateOptions &options);

} // namespace pg2d1
