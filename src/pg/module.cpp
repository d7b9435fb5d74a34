// module.cpp — the extension's entry: PG_MODULE_MAGIC and _PG_init (GUCs).
// Must never throw or allocate C++ state before PostgreSQL is ready for it.
// Called by PostgreSQL when the library is loaded.
#include "boundary.hpp"
#include "guc.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
	pg2d1::define_gucs();
}
