// worker.cpp — background workers: the launcher (with shared_preload_libraries) that starts
// one worker per queued or orphaned job, bounded by pg2d1.max_workers and woken by a latch
// when a job is committed; and the per-job worker that runs a migration in short
// transactions, handles SIGTERM, and records failures.
// Must never leave a job 'running' after an error it caught (it becomes 'failed'), and never
// resume a job that another live worker holds (table advisory lock).
// Called by the postmaster (bgworker entry points) and by pg2d1_migrate (start_job_worker).
#include "jobs.hpp"

#include "boundary.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "job_store.hpp"
#include "migrate.hpp"
#include "sync.hpp"
#include "shared_rate.hpp"
#include "spi_guarded.hpp"
#include "txn.hpp"
#include "core/async_sender.hpp"
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
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/wait_event.h"
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace pg2d1 {

namespace {

constexpr int kFollowSlots = 64;

struct FollowSlot {
	Oid dboid;
	Oid relid;
	Latch *latch; // the following worker's; nullptr when the slot is free
};

struct SharedState {
	pid_t launcher_pid;
	Oid launcher_dboid;
	Latch *launcher_latch;
	slock_t follow_lock;
	FollowSlot follow[kFollowSlots];
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
	RequestAddinShmemSpace(shared_rate_shmem_size());
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
		SpinLockInit(&shared->follow_lock);
	}
	shared_rate_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

std::vector<Oid> followed_changed; // tables this transaction changed whose followers to wake
int my_follow_slot = -1;

void xact_callback(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT && wake_at_commit && shared && shared->launcher_latch) {
		SetLatch(shared->launcher_latch);
	}
	if (event == XACT_EVENT_COMMIT && shared && !followed_changed.empty()) {
		// No allocation here (a C++ exception must not leave a PostgreSQL callback).
		Latch *latches[kFollowSlots];
		int n = 0;
		SpinLockAcquire(&shared->follow_lock);
		for (auto &slot : shared->follow) {
			if (slot.latch && slot.dboid == MyDatabaseId &&
			    std::find(followed_changed.begin(), followed_changed.end(), slot.relid) != followed_changed.end()) {
				latches[n++] = slot.latch;
			}
		}
		SpinLockRelease(&shared->follow_lock);
		for (int i = 0; i < n; i++) {
			SetLatch(latches[i]);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) {
		wake_at_commit = false;
		followed_changed.clear();
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

bool launcher_expected_for_database(Oid dboid) {
	if (shared == nullptr || guc_database == nullptr) {
		return false;
	}
	const char *name = pg_call([&] { return static_cast<const char *>(get_database_name(dboid)); });
	return name != nullptr && strcmp(name, guc_database) == 0;
}

void wake_launcher_at_commit() {
	wake_at_commit = true;
}

static void follower_exit(int, Datum) {
	unregister_follower();
}

bool register_follower(Oid relid) {
	if (!shared) {
		return false;
	}
	static bool exit_hook = false;
	if (!exit_hook) {
		before_shmem_exit(follower_exit, 0);
		exit_hook = true;
	}
	SpinLockAcquire(&shared->follow_lock);
	for (int i = 0; i < kFollowSlots && my_follow_slot < 0; i++) {
		if (shared->follow[i].latch == nullptr) {
			shared->follow[i].dboid = MyDatabaseId;
			shared->follow[i].relid = relid;
			shared->follow[i].latch = MyLatch;
			my_follow_slot = i;
		}
	}
	SpinLockRelease(&shared->follow_lock);
	return my_follow_slot >= 0;
}

void unregister_follower() {
	if (!shared || my_follow_slot < 0) {
		return;
	}
	SpinLockAcquire(&shared->follow_lock);
	shared->follow[my_follow_slot].latch = nullptr;
	SpinLockRelease(&shared->follow_lock);
	my_follow_slot = -1;
}

void wake_followers_at_commit(Oid relid) {
	if (!shared) {
		return;
	}
	if (std::find(followed_changed.begin(), followed_changed.end(), relid) == followed_changed.end()) {
		followed_changed.push_back(relid);
	}
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
		in_transaction([&] { (void)fail_job(job_id, message); });
	} catch (...) {
		abort_transaction();
	}
}

// On every way out of a worker (FATAL on SIGTERM included, where no C++ destructor runs):
// stop the sender threads before the process goes.
void stop_senders_at_exit(int, Datum) {
	AsyncSender::stop_all();
}

std::string describe(const std::exception &e) {
	return describe_exception(e, " — ");
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
	before_shmem_exit(stop_senders_at_exit, 0);
	BackgroundWorkerInitializeConnectionByOid(params.dboid, params.owner, 0);
	{
		char appname[64];
		snprintf(appname, sizeof appname, "pg2d1 job %lld", static_cast<long long>(params.job_id));
		pgstat_report_appname(appname);
	}
	bool failed = false;
	std::string message;
	try {
		if (params.flags & kJobSync) {
			run_sync_job(params);
		} else {
			run_job(params);
		}
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

constexpr int kMaxAttempts = 5;       // launches without progress before a job fails
constexpr double kBackoffMaxS = 60;   // longest pause between two launches of a job

struct LauncherScan {
	std::vector<JobRow> candidates;
	bool active = false; // some job is queued, running or waiting
};

std::string version_warned; // the mismatching version the launcher last warned about

// Jobs that should have a worker but have none; restored jobs are paused first.
LauncherScan scan_jobs() {
	LauncherScan scan;
	in_transaction([&] {
		if (spi_exec("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg2d1'", {}, true) == 0) {
			return;
		}
		std::string other = extension_version_mismatch();
		if (!other.empty()) {
			// Jobs wait (nothing is failed) until the SQL objects match the library.
			if (other != version_warned) {
				version_warned = other;
				pg_call([&] {
					ereport(WARNING, (errmsg("pg2d1 launcher: the pg2d1 extension in this database is version %s, but "
					                         "the library is version %s; no job runs until it is updated",
					                         other.c_str(), kExtensionVersion),
					                  errhint("ALTER EXTENSION pg2d1 UPDATE;")));
				});
			}
			scan.active = true;
			return;
		}
		version_warned.clear();
		int paused = pause_restored_jobs();
		if (paused > 0) {
			pg_call([&] {
				ereport(LOG, (errmsg("pg2d1 launcher: %d job(s) restored from another cluster or database are paused",
				                     paused),
				              errhint("Call pg2d1_migrate() for their tables to resume them here.")));
			});
		}
		scan.candidates = launch_candidates();
		scan.active = any_active_job();
	});
	return scan;
}

// Starts a worker for the job, or fails the job when it cannot run any more.
bool launch(const JobRow &job, std::map<int64_t, BackgroundWorkerHandle *> &workers) {
	std::string refusal;
	if (!OidIsValid(job.params.owner)) {
		refusal = "role \"" + job.owner + "\", which owns the job, no longer exists";
	} else if (!job.owner_can_login) {
		refusal = "role \"" + job.owner + "\", which owns the job, cannot log in (the worker runs as that role)";
	} else if (job.attempts >= kMaxAttempts) {
		refusal = "the worker died " + std::to_string(job.attempts) +
		          " times without recording why; see the server log";
	}
	if (!refusal.empty()) {
		in_transaction([&] { (void)fail_job(job.params.job_id, refusal); });
		pg_call([&] {
			ereport(LOG, (errmsg("pg2d1 launcher: job %lld failed: %s", static_cast<long long>(job.params.job_id),
			                     refusal.c_str())));
		});
		return false;
	}
	double backoff = std::min(kBackoffMaxS, std::ldexp(1.0, job.attempts)); // 1, 2, 4, … s
	in_transaction([&] { record_launch(job.params.job_id, job.attempts + 1, backoff); });
	workers[job.params.job_id] = start_job_worker(job.params, true);
	pg_call([&] {
		ereport(LOG, (errmsg("pg2d1 launcher: started a worker for job %lld (launch %d)",
		                     static_cast<long long>(job.params.job_id), job.attempts + 1)));
	});
	return true;
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
		long timeout_ms = 10000L;
		try {
			pgstat_report_activity(STATE_RUNNING, "pg2d1 launcher: looking for jobs");
			LauncherScan scan = scan_jobs();
			pgstat_report_activity(STATE_IDLE, nullptr);
			int live = static_cast<int>(workers.size());
			for (auto &job : scan.candidates) {
				if (workers.count(job.params.job_id)) {
					continue; // started, not holding its lock yet
				}
				if (live >= guc_max_workers) {
					break;
				}
				if (launch(job, workers)) {
					live++;
				}
			}
			if (scan.active) {
				timeout_ms = 1000L; // relaunch backoffs are counted in seconds
			}
		} catch (const std::exception &e) {
			abort_transaction();
			log_failure(std::string("launcher: ") + describe(e));
		}
		int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms, PG_WAIT_EXTENSION);
		(void)rc;
		ResetLatch(MyLatch);
	}
}

} // namespace pg2d1
