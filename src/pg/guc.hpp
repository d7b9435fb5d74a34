// guc.hpp — pg2d1.* configuration parameters.
// Must never expose a secret: no GUC holds a token.
// Called by module.cpp (_PG_init registers them) and by every function that needs limits.
#pragma once

#include "core/batch_planner.hpp"
#include "core/d1_client.hpp"

namespace pg2d1 {

extern char *guc_api_url;
extern int guc_checkpoint_size;
extern double guc_requests_per_second;
extern int guc_max_retries;
extern int guc_request_timeout_ms;
extern int guc_max_statement_bytes;
extern int guc_max_bound_params;
extern int guc_max_request_bytes;
extern int guc_max_statements_per_request;
extern char *guc_database;
extern int guc_max_workers;
extern bool guc_numeric_as_real;
extern char *guc_import_directory; // "" = <data directory>/pg2d1_import
extern int guc_import_file_size;   // kB
extern int guc_import_min_rows;

void define_gucs();

// Limits for the batch planner from the GUCs (and a rows-per-request cap, 0 = none).
Limits limits_from_gucs(size_t max_rows_per_request);

// Client settings (timeouts, retries, rate) from the GUCs; credentials are filled by
// resolve_target() in credentials.hpp.
void apply_client_gucs(D1Config &config);

} // namespace pg2d1
