// capture.cpp — pg2d1._capture(), the statement-level AFTER trigger that pg2d1_enable_sync
// puts on a table: it reads the statement's transition tables and logs each key it touched
// into pg2d1.changes (one row per key and statement), or one 'T' row for a TRUNCATE, and
// asks for the table's follow worker to be woken when the transaction commits.
// Must never log a key in a form that depends on the session (DateStyle, TimeZone, …: the
// output settings are pinned for any key type but integers, text and uuid), never write
// pg2d1.changes as the calling role (job_store does, as the extension's owner), and never
// do anything for a table that is not synced (a trigger copied by hand logs nothing).
// Called by PostgreSQL's trigger manager.
#include "boundary.hpp"
#include "catalog.hpp"
#include "jobs.hpp"
#include "job_store.hpp"
#include "core/error.hpp"

extern "C" {
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
}

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pg2d1 {
namespace {

constexpr size_t kLogBatch = 10000; // keys per INSERT into pg2d1.changes

// The key attnums of synced tables (nullopt: not synced), per backend. Enabling, disabling
// or re-keying a sync creates or drops the table's triggers, which invalidates its relcache
// entry in every backend: the callback forgets the table here too.
std::unordered_map<Oid, std::optional<std::vector<int>>> key_cache;
bool callback_registered = false;

void forget_relation(Datum, Oid relid) noexcept {
	if (relid == InvalidOid) {
		key_cache.clear();
	} else {
		key_cache.erase(relid);
	}
}

std::optional<std::vector<int>> cached_key_attnums(Oid relid) {
	auto it = key_cache.find(relid);
	if (it != key_cache.end()) {
		return it->second;
	}
	if (!callback_registered) {
		pg_call([] { CacheRegisterRelcacheCallback(forget_relation, (Datum)0); });
		callback_registered = true;
	}
	std::optional<std::vector<int>> k = capture_key_attnums(relid);
	key_cache[relid] = k;
	return k;
}

bool plain_key_type(Oid type) {
	switch (type) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case TEXTOID:
	case VARCHAROID:
	case BPCHAROID:
	case UUIDOID:
	case NAMEOID:
	case OIDOID:
		return true;
	default:
		return false;
	}
}

struct KeyReader {
	Oid relid = InvalidOid;
	char op = 'U';
	std::vector<int> attnums;
	std::vector<Oid> out_fns;
	std::vector<std::vector<std::string>> keys; // column by column
	std::unordered_set<std::string> seen;       // keys already logged by this statement
	size_t count = 0;

	void flush() {
		if (count > 0) {
			log_changes(relid, op, keys);
			for (auto &k : keys) {
				k.clear();
			}
			count = 0;
		}
	}

	// Reads every tuple of a transition table. One pg_call per tuple: the lambda owns no
	// C++ object across a PostgreSQL call (the strings are copied out after pfree-able
	// output), so a longjmp skips nothing.
	void read(Tuplestorestate *ts, TupleDesc desc) {
		if (ts == nullptr) {
			return;
		}
		TupleTableSlot *slot = pg_call([&] {
			int ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);
			tuplestore_select_read_pointer(ts, ptr);
			tuplestore_rescan(ts);
			return MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		});
		std::vector<char *> texts(attnums.size());
		std::string joined;
		for (;;) {
			bool got = pg_call([&] {
				if (!tuplestore_gettupleslot(ts, true, false, slot)) {
					return false;
				}
				for (size_t k = 0; k < attnums.size(); k++) {
					bool isnull;
					Datum d = slot_getattr(slot, attnums[k], &isnull);
					texts[k] = isnull ? nullptr : OidOutputFunctionCall(out_fns[k], d);
				}
				return true;
			});
			if (!got) {
				break;
			}
			joined.clear();
			bool has_null = false;
			for (char *t : texts) {
				has_null = has_null || t == nullptr;
				joined += t ? t : "";
				joined.push_back('\0');
			}
			if (!has_null && seen.insert(joined).second) {
				for (size_t k = 0; k < attnums.size(); k++) {
					keys[k].emplace_back(texts[k]);
				}
				if (++count >= kLogBatch) {
					flush();
				}
			}
			pg_call([&] {
				for (char *t : texts) {
					if (t) {
						pfree(t);
					}
				}
			});
		}
		pg_call([&] { ExecDropSingleTupleTableSlot(slot); });
	}
};

} // namespace
} // namespace pg2d1

using namespace pg2d1;

PG2D1_FUNCTION(pg2d1_capture) {
	TriggerData *td = nullptr;
	pg_call([&] {
		if (!CALLED_AS_TRIGGER(fcinfo)) {
			ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			                errmsg("pg2d1._capture() is a trigger function"),
			                errhint("pg2d1_enable_sync(table) installs it.")));
		}
		td = reinterpret_cast<TriggerData *>(fcinfo->context);
		if (!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event)) {
			ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			                errmsg("pg2d1._capture() must be an AFTER … FOR EACH STATEMENT trigger")));
		}
	});
	KeyReader r;
	r.relid = pg_call([&] { return RelationGetRelid(td->tg_relation); });
	int guc_level = -1;
	// On an error the statement aborts, which also closes SPI and the GUC nest level.
	{
		pg_call([&] {
			if (SPI_connect() != SPI_OK_CONNECT) {
				elog(ERROR, "pg2d1: SPI_connect failed");
			}
		});
		std::optional<std::vector<int>> attnums = cached_key_attnums(r.relid);
		if (attnums) {
			wake_followers_at_commit(r.relid);
			if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event)) {
				r.op = 'T';
				log_changes(r.relid, 'T', {});
			} else {
				TupleDesc desc = pg_call([&] { return RelationGetDescr(td->tg_relation); });
				bool plain = true;
				bool valid = true;
				for (int a : *attnums) {
					valid = valid && a >= 1 && a <= desc->natts && !TupleDescAttr(desc, a - 1)->attisdropped;
				}
				// A key column dropped since: the event trigger stopped the sync, and enabling
				// it again reconciles; the user's statement must not fail for it.
				for (int a : valid ? *attnums : std::vector<int>{}) {
					Oid type = TupleDescAttr(desc, a - 1)->atttypid;
					Oid fn;
					bool varlena;
					pg_call([&] { getTypeOutputInfo(type, &fn, &varlena); });
					r.attnums.push_back(a);
					r.out_fns.push_back(fn);
					plain = plain && plain_key_type(pg_call([&] { return getBaseType(type); }));
				}
				r.keys.resize(r.attnums.size());
				if (r.attnums.empty()) {
					plain = true;
				}
				if (!plain) {
					pg_call([&] {
						guc_level = NewGUCNestLevel();
						set_fixed_output_settings(GUC_ACTION_SAVE);
					});
				}
				r.op = TRIGGER_FIRED_BY_INSERT(td->tg_event) ? 'I' : TRIGGER_FIRED_BY_DELETE(td->tg_event) ? 'D' : 'U';
				if (!r.attnums.empty()) {
					r.read(td->tg_newtable, desc);
					r.read(td->tg_oldtable, desc);
				}
				if (guc_level >= 0) {
					pg_call([&] { AtEOXact_GUC(true, guc_level); });
					guc_level = -1;
				}
				r.flush();
			}
		}
		pg_call([&] { SPI_finish(); });
	}
	return PointerGetDatum(nullptr);
}
