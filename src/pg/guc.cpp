// guc.cpp — defines the pg2d1.* GUCs and turns them into core settings.
// Must never define a GUC that holds a credential; security-relevant ones are SUSET.
// Called by _PG_init (module.cpp) and the SQL functions.
#include "guc.hpp"
#include "jobs.hpp"

#include <climits>

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "utils/guc.h"
}

namespace pg2d1 {

char *guc_api_url = nullptr;
int guc_checkpoint_size = 50000;
double guc_requests_per_second = 3.5;
int guc_max_retries = 5;
int guc_request_timeout_ms = 60000;
int guc_max_statement_bytes = 100000;
int guc_max_bound_params = 100;
int guc_max_request_bytes = 4000000;
int guc_max_statements_per_request = 200;
char *guc_database = nullptr;
int guc_max_workers = 4;
bool guc_numeric_as_real = false;
char *guc_import_directory = nullptr;
int guc_import_file_size = 64 * 1024; // kB: 64 MB
int guc_import_min_rows = 1000000;

void define_gucs() {
	DefineCustomStringVariable("pg2d1.api_url", "Base URL of the Cloudflare API, used when a server has no api_url.",
	                           "Only the fallback when functions run without a pg2d1 foreign server.", &guc_api_url,
	                           "https://api.cloudflare.com/client/v4", PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.checkpoint_size", "Rows per checkpoint.", nullptr, &guc_checkpoint_size, 50000, 1,
	                        100000000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomRealVariable("pg2d1.requests_per_second", "Requests per second sent to D1 (0 = no limit).",
	                         "Cloudflare allows 1200 requests per 5 minutes per user (4/s).", &guc_requests_per_second,
	                         3.5, 0, 10000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.max_retries", "Retries of a transient D1 failure before giving up.", nullptr,
	                        &guc_max_retries, 5, 0, 100, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.request_timeout_ms", "Timeout of one D1 HTTP request.", nullptr,
	                        &guc_request_timeout_ms, 60000, 1000, 600000, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr,
	                        nullptr);
	DefineCustomIntVariable("pg2d1.max_statement_bytes", "Largest SQL statement sent to D1, in bytes.",
	                        "D1 refuses statements over 100,000 bytes.", &guc_max_statement_bytes, 100000, 1000, 100000,
	                        PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.max_bound_params", "Most bound parameters in one D1 statement.", "D1 allows 100.",
	                        &guc_max_bound_params, 100, 1, 100, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.max_request_bytes", "Largest sum of statement bytes in one D1 request.",
	                        "Requests D1 finds too large or too slow are split (and later ones kept smaller).",
	                        &guc_max_request_bytes, 4000000, 1000, 50000000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.max_statements_per_request", "Most statements in one D1 batch request.", nullptr,
	                        &guc_max_statements_per_request, 200, 2, 10000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	// PGC_POSTMASTER variables can only be defined while preloading (the launcher's setting).
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("pg2d1.database", "Database the pg2d1 launcher watches for jobs.",
		                           "Needs shared_preload_libraries = 'pg2d1'; jobs in other databases run without "
		                           "automatic restart.",
		                           &guc_database, "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.max_workers", "Most migration workers the launcher runs at once.", nullptr,
	                        &guc_max_workers, 4, 1, 64, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("pg2d1.numeric_as_real", "Migrate numeric columns as REAL (rounded to double).",
	                         "Off: numeric goes to D1 as TEXT, exact at any precision. On: as REAL, each value "
	                         "rounded to the nearest double, for arithmetic and sorting in D1.",
	                         &guc_numeric_as_real, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	// Import files hold table data: where they go is the server's business (superusers,
	// postgresql.conf), never a session's.
	DefineCustomStringVariable("pg2d1.import_directory", "Directory for the SQL files of imports.",
	                           "Empty: pg2d1_import under the data directory. Files are mode 0600 and removed as soon "
	                           "as D1 has imported them.",
	                           &guc_import_directory, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.import_file_size", "Size at which an import file is closed.",
	                        "A file holds whole checkpoints and is closed at the first checkpoint end past this size; "
	                        "D1 takes files up to 5 GB.",
	                        &guc_import_file_size, 64 * 1024, 64, 4 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_KB, nullptr,
	                        nullptr, nullptr);
	DefineCustomIntVariable("pg2d1.import_min_rows", "Rows from which method => 'auto' imports a first load.",
	                        "Below it, or into a D1 table that has rows, 'auto' sends batches of queries.",
	                        &guc_import_min_rows, 1000000, 0, INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("pg2d1");
}

void capture_settings(JobParams &p) {
	p.requests_per_second = static_cast<float>(guc_requests_per_second);
	p.max_statement_bytes = guc_max_statement_bytes;
	p.max_request_bytes = guc_max_request_bytes;
	p.request_timeout_ms = guc_request_timeout_ms;
	p.max_retries = static_cast<int16_t>(guc_max_retries);
	p.max_statements_per_request = static_cast<int16_t>(guc_max_statements_per_request);
	p.flags = guc_numeric_as_real ? (p.flags | kJobNumericReal) : (p.flags & ~uint32_t(kJobNumericReal));
}

// Job settings within the ranges of their GUCs (the job row's CHECK constraints say the same;
// this keeps the worker safe whatever the row holds).
void apply_settings(const JobParams &p) {
	auto clamp = [](double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); };
	guc_requests_per_second = clamp(p.requests_per_second, 0, 10000);
	guc_max_statement_bytes = static_cast<int>(clamp(p.max_statement_bytes, 1000, 100000));
	guc_max_request_bytes = static_cast<int>(clamp(p.max_request_bytes, 1000, 50000000));
	guc_request_timeout_ms = static_cast<int>(clamp(p.request_timeout_ms, 1000, 600000));
	guc_max_retries = static_cast<int>(clamp(p.max_retries, 0, 100));
	guc_max_statements_per_request = static_cast<int>(clamp(p.max_statements_per_request, 2, 10000));
	guc_numeric_as_real = (p.flags & kJobNumericReal) != 0;
}

Limits limits_from_gucs(size_t max_rows_per_request) {
	Limits l;
	l.max_statement_bytes = static_cast<size_t>(guc_max_statement_bytes);
	l.max_bound_params = static_cast<size_t>(guc_max_bound_params);
	l.max_request_bytes = static_cast<size_t>(guc_max_request_bytes);
	l.max_statements_per_request = static_cast<size_t>(guc_max_statements_per_request);
	l.max_rows_per_request = max_rows_per_request;
	return l;
}

void apply_client_gucs(D1Config &config) {
	config.request_timeout_ms = guc_request_timeout_ms;
	config.max_retries = guc_max_retries;
	config.requests_per_second = guc_requests_per_second;
}

} // namespace pg2d1
