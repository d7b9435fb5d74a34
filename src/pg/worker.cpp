// worker.cpp — background workers: the launcher (with shared_preload_libraries) that starts
// one worker per queued or orphaned job, bounded by pg2d1.max_workers and woken by a latch
// when a job is committed; and the per-job worker that runs a migration in short
// transactions, handles SIGTERM, and records failures.
// Must never leave a job 'running' after an error it caught (it becomes 'failed'), and never
// resume a job that another live worker holds (table advisory lock).
// Called by the postmaster (bgworker entry points) and by pg2d1_migrate (start_job_worker).
#include "jobs.hpp"

#include "boundary.hpp"
#include "spi.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "migrate.hpp"
#include "txn.hpp"
#include "core/error.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/wait_event.h"
}

#include <cstring>
#include <map>
#include <string>

namespace pg2d1 {

namespace {

struct SharedState {
	pid_t launcher_pid;
	Oid launcher_dboid;
	Latch *launcher_latch;
};

SharedState *shared = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;
bool wake_at_commit = false;

void shmem_request() {
	if (prev_shmem_request_hook) {
		prev_shmem_request_hook();
	}
	RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
}

void shmem_startup() {
	if (prev_shmem_startup_hook) {
		prev_shmem_startup_hook();
	}
	bool found;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = static_cast<SharedState *>(ShmemInitStruct("pg2d1", sizeof(SharedState), &found));
	if (!found) {
		memset(shared, 0, sizeof(SharedState));
	}
	LWLockRelease(AddinShmemInitLock);
}

void xact_callback(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT && wake_at_commit && shared && shared->launcher_latch) {
		SetLatch(shared->launcher_latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) {
		wake_at_commit = false;
	}
}

} // namespace

void request_shared_memory() {
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

void register_launcher() {
	BackgroundWorker w;
	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg2d1");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "pg2d1_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg2d1 launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "pg2d1 launcher");
	RegisterBackgroundWorker(&w);
	RegisterXactCallback(xact_callback, nullptr);
}

bool launcher_serves_database(Oid dboid) {
	return shared && shared->launcher_pid != 0 && shared->launcher_dboid == dboid;
}

void wake_launcher_at_commit() {
	wake_at_commit = true;
}

BackgroundWorkerHandle *start_job_worker(const JobParams &params, bool notify) {
	BackgroundWorkerHandle *handle = nullptr;
	bool ok = false;
	pg_call([&] {
		BackgroundWorker w;
		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = BGW_NEVER_RESTART;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "pg2d1");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "pg2d1_worker_main");
		snprintf(w.bgw_name, BGW_MAXLEN, "pg2d1 worker for job %lld", static_cast<long long>(params.job_id));
		snprintf(w.bgw_type, BGW_MAXLEN, "pg2d1 worker");
		w.bgw_main_arg = Int64GetDatum(params.job_id);
		memcpy(w.bgw_extra, &params, sizeof(params));
		w.bgw_notify_pid = notify ? MyProcPid : 0;
		ok = RegisterDynamicBackgroundWorker(&w, &handle);
	});
	if (!ok) {
		throw Error("53400", "could not start a pg2d1 background worker: no free worker slot",
		            "max_worker_processes limits all background workers of the server.",
		            "Raise max_worker_processes (needs a restart) or wait for running jobs to finish.");
	}
	return handle;
}

// ---------------------------------------------------------------------------------------
// Worker

namespace {

void worker_record_failure(int64_t job_id, const std::string &message) {
	abort_transaction();
	try {
		in_transaction([&] {
			pg_call([&] {
				Oid types[2] = {INT8OID, TEXTOID};
				Datum values[2] = {Int64GetDatum(job_id), CStringGetTextDatum(message.c_str())};
				SPI_execute_with_args("UPDATE pg2d1.jobs SET status = 'failed', last_error = $2, pid = NULL, "
				                      "phase = NULL, finished_at = clock_timestamp(), updated_at = clock_timestamp() "
				                      "WHERE job_id = $1 AND status IN ('queued','running')",
				                      2, types, values, nullptr, false, 0);
			});
		});
	} catch (...) {
		abort_transaction();
	}
}

std::string describe(const std::exception &e) {
	if (auto *pe = dynamic_cast<const PgError *>(&e)) {
		return std::string(pe->what()) + (pe->detail().empty() ? "" : " — " + pe->detail());
	}
	if (auto *ce = dynamic_cast<const Error *>(&e)) {
		return std::string(ce->what()) + (ce->detail().empty() ? "" : " — " + ce->detail());
	}
	return e.what();
}

void log_failure(const std::string &message) noexcept {
	try {
		pg_call([&] { ereport(LOG, (errmsg("pg2d1: %s", message.c_str()))); });
	} catch (...) {
	}
}

} // namespace

extern "C" void pg2d1_worker_main(Datum arg) {
	JobParams params;
	memcpy(&params, MyBgworkerEntry->bgw_extra, sizeof(params));
	(void)arg;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(params.dboid, params.owner, 0);
	{
		char appname[64];
		snprintf(appname, sizeof appname, "pg2d1 job %lld", static_cast<long long>(params.job_id));
		pgstat_report_appname(appname);
	}
	bool failed = false;
	std::string message;
	try {
		run_job(params);
	} catch (const std::exception &e) {
		failed = true;
		message = describe(e);
	} catch (...) {
		failed = true;
		message = "unknown C++ exception";
	}
	if (failed) {
		// A shutdown or termination request is not a failure of the job: leave it for resume.
		if (interrupt_requested()) {
			abort_transaction();
			CHECK_FOR_INTERRUPTS();
		}
		log_failure("job " + std::to_string(params.job_id) + " failed: " + message);
		worker_record_failure(params.job_id, message);
		proc_exit(1);
	}
	proc_exit(0);
}

// ---------------------------------------------------------------------------------------
// Launcher

namespace {

struct OrphanJob {
	JobParams params;
};

// Jobs that should have a worker but have none: queued, or running without the table lock.
std::vector<OrphanJob> find_orphan_jobs() {
	std::vector<OrphanJob> out;
	in_transaction([&] {
		pg_call([&] {
			SPI_execute("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
			            "WHERE n.nspname = 'pg2d1' AND c.relname = 'jobs'",
			            true, 1);
			if (SPI_processed == 0) {
				return;
			}
			SPI_execute(
			    "SELECT j.job_id, j.relid, j.owner, j.checkpoint_size, j.batch_size, j.mode, "
			    "       coalesce(j.target, ''), coalesce(j.depends_on, 0), j.resume, j.requests_per_second, "
			    "       j.max_retries, j.request_timeout_ms, j.max_statement_bytes, j.max_request_bytes, "
			    "       j.max_statements_per_request, j.verify, j.numeric_as_real "
			    "FROM pg2d1.jobs j WHERE j.status IN ('queued','running') AND NOT pg2d1._table_has_worker(j.relid) "
			    "ORDER BY j.job_id",
			    true, 0);
			for (uint64 i = 0; i < SPI_processed; i++) {
				HeapTuple t = SPI_tuptable->vals[i];
				TupleDesc d = SPI_tuptable->tupdesc;
				bool isnull;
				OrphanJob o;
				memset(&o.params, 0, sizeof(o.params));
				o.params.job_id = spi_int64(i, 1);
				o.params.relid = DatumGetObjectId(SPI_getbinval(t, d, 2, &isnull));
				o.params.owner = DatumGetObjectId(SPI_getbinval(t, d, 3, &isnull));
				o.params.checkpoint_size = spi_int64(i, 4);
				o.params.batch_size = spi_int32(i, 5);
				char *mode = spi_text(i, 6);
				char *target = spi_text(i, 7);
				o.params.depends_on = spi_int64(i, 8);
				o.params.dboid = MyDatabaseId;
				// A job that already has a ledger continues from it whatever `resume` says
				// (migrate.cpp): resume => false only decides how the job starts.
				bool resume = spi_bool(i, 9);
				o.params.requests_per_second = static_cast<float>(DatumGetFloat8(SPI_getbinval(t, d, 10, &isnull)));
				o.params.max_retries = static_cast<int16_t>(spi_int32(i, 11));
				o.params.request_timeout_ms = spi_int32(i, 12);
				o.params.max_statement_bytes = spi_int32(i, 13);
				o.params.max_request_bytes = spi_int32(i, 14);
				o.params.max_statements_per_request = static_cast<int16_t>(spi_int32(i, 15));
				o.params.flags = (resume ? uint32_t(kJobResume) : 0u) |
				                 (strcmp(mode, "traditional") == 0 ? uint32_t(kJobTraditional) : 0u) |
				                 (spi_bool(i, 16) ? uint32_t(kJobVerify) : 0u) |
				                 (spi_bool(i, 17) ? uint32_t(kJobNumericReal) : 0u);
				strlcpy(o.params.target, target, sizeof(o.params.target));
				out.push_back(o);
			}
		});
	});
	return out;
}

volatile sig_atomic_t got_sighup = false;

} // namespace

void set_launcher(bool running) {
	if (!shared) {
		return;
	}
	if (running) {
		shared->launcher_dboid = MyDatabaseId;
		shared->launcher_latch = MyLatch;
		shared->launcher_pid = MyProcPid;
	} else {
		shared->launcher_pid = 0;
		shared->launcher_latch = nullptr;
	}
}

namespace {
void launcher_exit(int, Datum) {
	set_launcher(false);
}
} // namespace

extern "C" void pg2d1_launcher_main(Datum) {
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(guc_database, nullptr, 0);
	pgstat_report_appname("pg2d1 launcher");
	set_launcher(true);
	before_shmem_exit(launcher_exit, 0);
	ereport(LOG, (errmsg("pg2d1 launcher started for database \"%s\"", guc_database)));

	std::map<int64_t, BackgroundWorkerHandle *> workers;
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		// Forget workers that have stopped.
		for (auto it = workers.begin(); it != workers.end();) {
			pid_t pid;
			if (GetBackgroundWorkerPid(it->second, &pid) == BGWH_STOPPED) {
				pfree(it->second);
				it = workers.erase(it);
			} else {
				++it;
			}
		}
		try {
			pgstat_report_activity(STATE_RUNNING, "pg2d1 launcher: looking for jobs");
			auto orphans = find_orphan_jobs();
			pgstat_report_activity(STATE_IDLE, nullptr);
			int live = static_cast<int>(workers.size());
			for (auto &o : orphans) {
				if (workers.count(o.params.job_id)) {
					continue; // started, not holding its lock yet
				}
				if (live >= guc_max_workers) {
					break;
				}
				workers[o.params.job_id] = start_job_worker(o.params, true);
				live++;
				ereport(LOG, (errmsg("pg2d1 launcher: started a worker for job %lld",
				                     static_cast<long long>(o.params.job_id))));
			}
		} catch (const std::exception &e) {
			abort_transaction();
			log_failure(std::string("launcher: ") + describe(e));
		}
		int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10000L, PG_WAIT_EXTENSION);
		(void)rc;
		ResetLatch(MyLatch);
	}
}

} // namespace pg2d1
