// module.cpp — the extension's entry: PG_MODULE_MAGIC and _PG_init (GUCs).
// Must never throw or allocate C++ state before PostgreSQL is ready for it.
// Called by PostgreSQL when the library is loaded.
#include "boundary.hpp"
#include "guc.hpp"
#include "jobs.hpp"

extern "C" {
#include "miscadmin.h"
}

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
	pg2d1::define_gucs();
	if (process_shared_preload_libraries_in_progress) {
		pg2d1::request_shared_memory();
		pg2d1::register_launcher();
	}
}
