// compat.hpp — the one place for PostgreSQL-version-specific calls (PG_VERSION_NUM).
// Must never hold anything but thin wrappers; pg2d1 is built and tested with PostgreSQL 15.
// Called by the src/pg files that need one of these calls.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_class.h"
#endif
}

#if PG_VERSION_NUM < 150000
#error "pg2d1 needs PostgreSQL 15 or later"
#endif

namespace pg2d1 {

// True when `role` owns (or is a member of the owner of) the relation.
inline bool owns_relation(Oid relid, Oid role) {
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, role);
#else
	return pg_class_ownercheck(relid, role);
#endif
}

} // namespace pg2d1
