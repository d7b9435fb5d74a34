// functions.cpp — the SQL-callable functions: pg2d1_validate, pg2d1_setup_schema, pg2d1_ddl,
// pg2d1_migrate, pg2d1_query, and the boundary self-test used by the regression tests.
// Must never receive or return a secret; every entry goes through PG2D1_FUNCTION.
// Called by PostgreSQL (declared in sql/pg2d1--0.1.0.sql).
#include "boundary.hpp"
#include "catalog.hpp"
#include "credentials.hpp"
#include "guc.hpp"
#include "migrate.hpp"
#include "core/d1_client.hpp"
#include "core/ddl.hpp"
#include "core/error.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

#include <cmath>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {
namespace {

std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n) {
	std::optional<std::string> out;
	pg_call([&] {
		if (PG_NARGS() > n && !PG_ARGISNULL(n)) {
			char *s = text_to_cstring(PG_GETARG_TEXT_PP(n));
			out.emplace(s);
		}
	});
	return out;
}

// Rows for a function declared RETURNS TABLE(... text/bool ...), all columns as text
// (nullopt = NULL); bool columns are given as "true"/"false".
class ResultSet {
  public:
	explicit ResultSet(FunctionCallInfo fcinfo) : fcinfo_(fcinfo) {
		pg_call([&] { InitMaterializedSRF(fcinfo_, MAT_SRF_USE_EXPECTED_DESC); });
	}
	void add(const std::vector<std::optional<std::string>> &values) {
		pg_call([&] {
			ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo_->resultinfo;
			TupleDesc desc = rsinfo->setDesc;
			int n = desc->natts;
			Datum *datums = (Datum *)palloc0(sizeof(Datum) * n);
			bool *nulls = (bool *)palloc0(sizeof(bool) * n);
			for (int i = 0; i < n; i++) {
				if (i >= (int)values.size() || !values[i]) {
					nulls[i] = true;
					continue;
				}
				Oid typid = TupleDescAttr(desc, i)->atttypid;
				Oid input;
				Oid ioparam;
				getTypeInputInfo(typid, &input, &ioparam);
				datums[i] = OidInputFunctionCall(input, const_cast<char *>(values[i]->c_str()), ioparam, -1);
			}
			tuplestore_putvalues(rsinfo->setResult, desc, datums, nulls);
		});
	}

  private:
	FunctionCallInfo fcinfo_;
};

std::string error_text(const Error &e) {
	return std::string(e.what()) + (e.detail().empty() ? "" : " — " + e.detail());
}

std::vector<Oid> regclass_array_arg(FunctionCallInfo fcinfo, int n) {
	std::vector<Oid> out;
	pg_call([&] {
		if (PG_ARGISNULL(n)) {
			return;
		}
		ArrayType *arr = PG_GETARG_ARRAYTYPE_P(n);
		Datum *elems;
		bool *nulls;
		int count;
		deconstruct_array(arr, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &count);
		for (int i = 0; i < count; i++) {
			if (!nulls[i]) {
				out.push_back(DatumGetObjectId(elems[i]));
			}
		}
	});
	return out;
}

SourceTable load_table_spi(Oid relid) {
	pg_call([] {
		if (SPI_connect() != SPI_OK_CONNECT) {
			elog(ERROR, "pg2d1: SPI_connect failed");
		}
	});
	SourceTable t = load_source_table(relid);
	pg_call([] { SPI_finish(); });
	return t;
}

void notice(const std::string &msg) {
	pg_call([&] { ereport(NOTICE, (errmsg("pg2d1: %s", msg.c_str()))); });
}

} // namespace
} // namespace pg2d1

using namespace pg2d1;

// pg2d1_validate(target text) → TABLE(check text, ok boolean, detail text)
PG2D1_FUNCTION(pg2d1_validate) {
	ResultSet rs(fcinfo);
	std::optional<Target> target;
	try {
		target.emplace(resolve_target(text_arg(fcinfo, 0)));
		rs.add({"credentials", "true", "from " + target->label + ", API at " + target->config.api_url});
	} catch (const Error &e) {
		rs.add({"credentials", "false", error_text(e)});
		return (Datum)0;
	}
	D1Client client(target->config, interrupt_requested);
	bool token_ok = false;
	try {
		TokenInfo tok = client.verify_token();
		token_ok = tok.status == "active";
		rs.add({"token", token_ok ? "true" : "false", "token status: " + tok.status});
	} catch (const Error &e) {
		rs.add({"token", "false", error_text(e)});
	}
	try {
		DatabaseInfo info = client.database_info();
		rs.add({"database", "true",
		        "\"" + info.name + "\" (" + info.uuid + "), " + std::to_string(info.num_tables) + " tables, " +
		            std::to_string(info.file_size) + " bytes"});
	} catch (const Error &e) {
		rs.add({"database", "false", error_text(e)});
	}
	try {
		std::vector<Statement> stmts;
		for (auto &s : checkpoint_table_ddl()) {
			stmts.push_back({s, {}});
		}
		stmts.push_back({"SELECT count(*) AS n FROM migration_checkpoints", {}});
		auto results = client.batch(stmts);
		rs.add({"write", "true", "created or found migration_checkpoints in a batch request"});
	} catch (const Error &e) {
		rs.add({"write", "false", error_text(e)});
	}
	Limits l = limits_from_gucs(0);
	rs.add({"limits", "true",
	        "statements up to " + std::to_string(l.max_statement_bytes) + " bytes, requests up to " +
	            std::to_string(l.max_request_bytes) + " bytes / " + std::to_string(l.max_statements_per_request) +
	            " statements, " +
	            (target->config.requests_per_second > 0
	                 ? std::to_string(target->config.requests_per_second).substr(0, 6) + " requests/s"
	                 : std::string("no request rate limit"))});
	return (Datum)0;
}

// pg2d1_ddl(tbl regclass) → text
PG2D1_FUNCTION(pg2d1_ddl) {
	Oid relid = InvalidOid;
	pg_call([&] { relid = PG_GETARG_OID(0); });
	SourceTable t = load_table_spi(relid);
	DdlResult ddl = translate_table(t.def);
	std::string out;
	for (auto &w : ddl.warnings) {
		out += "-- " + w + "\n";
	}
	for (auto &s : ddl.statements) {
		out += s + ";\n";
	}
	text *result = nullptr;
	pg_call([&] { result = cstring_to_text_with_len(out.data(), (int)out.size()); });
	PG_RETURN_TEXT_P(result);
}

// pg2d1_setup_schema(tables regclass[], target text, create_indexes boolean)
//   → TABLE(table_name text, statement text)
PG2D1_FUNCTION(pg2d1_setup_schema) {
	std::vector<Oid> relids = regclass_array_arg(fcinfo, 0);
	Target target = resolve_target(text_arg(fcinfo, 1));
	bool create_indexes = true;
	pg_call([&] { create_indexes = PG_NARGS() < 3 || PG_ARGISNULL(2) || PG_GETARG_BOOL(2); });
	ResultSet rs(fcinfo);
	std::vector<Statement> stmts;
	std::vector<std::pair<std::string, std::string>> rows;
	for (auto &s : checkpoint_table_ddl()) {
		stmts.push_back({s, {}});
		rows.push_back({"migration_checkpoints", s});
	}
	for (Oid relid : relids) {
		SourceTable t = load_table_spi(relid);
		DdlResult ddl = translate_table(t.def);
		for (auto &w : ddl.warnings) {
			notice(t.display_name + ": " + w);
		}
		for (size_t i = 0; i < ddl.statements.size(); i++) {
			if (i > 0 && !create_indexes) {
				break;
			}
			stmts.push_back({ddl.statements[i], {}});
			rows.push_back({t.def.name, ddl.statements[i]});
		}
	}
	D1Client client(target.config, interrupt_requested);
	client.batch(stmts);
	for (auto &r : rows) {
		rs.add({r.first, r.second});
	}
	return (Datum)0;
}

// pg2d1_migrate(tbl regclass, checkpoint_size int, batch_size int, resume bool, mode text,
//               target text, wait bool) → bigint job id
PG2D1_FUNCTION(pg2d1_migrate) {
	Oid relid = InvalidOid;
	MigrateOptions opt;
	bool wait = false;
	pg_call([&] {
		if (PG_ARGISNULL(0)) {
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("pg2d1_migrate: table must not be NULL")));
		}
		relid = PG_GETARG_OID(0);
		opt.checkpoint_size = PG_ARGISNULL(1) ? guc_checkpoint_size : PG_GETARG_INT32(1);
		opt.batch_size = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
		opt.resume = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
		wait = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	});
	std::string mode = text_arg(fcinfo, 4).value_or("resumable");
	if (mode != "resumable" && mode != "traditional") {
		throw Error(sqlstate::kInvalidParameter, "mode must be 'resumable' or 'traditional', not '" + mode + "'");
	}
	opt.traditional = mode == "traditional";
	if (opt.checkpoint_size < 1) {
		throw Error(sqlstate::kInvalidParameter, "checkpoint_size must be at least 1");
	}
	if (opt.batch_size < 0) {
		throw Error(sqlstate::kInvalidParameter, "batch_size must not be negative", {},
		            "batch_size caps the rows of one D1 request; NULL or 0 lets the D1 limits decide.");
	}
	if (!wait) {
		throw Error("0A000", "pg2d1_migrate without wait => true is not available in this version",
		            "Background workers that run migrations detached from the session are not built yet.",
		            "Call pg2d1_migrate(…, wait => true): it runs in this session and reports each checkpoint.");
	}
	Target target = resolve_target(text_arg(fcinfo, 5));
	MigrateResult r = migrate_table(relid, target, opt);
	double rate = r.seconds > 0 ? (double)r.rows / r.seconds : 0;
	notice("migrated " + std::to_string(r.rows) + " rows in " + std::to_string(r.seconds).substr(0, 7) + " s (" +
	       std::to_string((long long)rate) + " rows/s), " + std::to_string(r.checkpoints_done) + " checkpoints copied, " +
	       std::to_string(r.checkpoints_skipped) + " already complete, " + std::to_string(r.stats.requests) +
	       " requests, " + std::to_string(r.stats.retries) + " retries, " + std::to_string(r.stats.bytes_sent) +
	       " bytes sent");
	PG_RETURN_INT64(r.job_id);
}

// pg2d1_query(sql text, target text) → jsonb (D1's result array)
PG2D1_FUNCTION(pg2d1_query) {
	std::optional<std::string> sql = text_arg(fcinfo, 0);
	if (!sql) {
		throw Error(sqlstate::kInvalidParameter, "pg2d1_query: sql must not be NULL");
	}
	Target target = resolve_target(text_arg(fcinfo, 1));
	D1Client client(target.config, interrupt_requested);
	std::string json = client.query_json(*sql);
	Datum result = 0;
	pg_call([&] { result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
	return result;
}

// pg2d1._boundary_selftest(kind text) → text. Proves the boundary: each kind fails in a
// different way inside C++ with live C++ objects on the stack; all must surface as clean
// SQL errors and leave the session usable.
PG2D1_FUNCTION(pg2d1_boundary_selftest) {
	std::string kind = text_arg(fcinfo, 0).value_or("");
	std::vector<std::string> live_objects(3, "destructors must run");
	if (kind == "cpp_error") {
		throw Error(sqlstate::kInvalidParameter, "selftest: a pg2d1::Error thrown in C++", "detail from C++",
		            "hint from C++");
	} else if (kind == "std_exception") {
		throw std::runtime_error("selftest: a std::runtime_error thrown in C++");
	} else if (kind == "bad_alloc") {
		throw std::bad_alloc();
	} else if (kind == "unknown") {
		throw 42;
	} else if (kind == "pg_error") {
		// A PostgreSQL error raised inside pg_call travels through C++ frames as PgError.
		pg_call([] { DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
	} else if (kind == "pg_error_caught") {
		// The PgError can be caught in C++ and the work goes on (used after cleanup).
		try {
			pg_call([] { DirectFunctionCall1(int4in, CStringGetDatum("99999999999")); });
		} catch (const PgError &e) {
			std::string msg = std::string("caught: ") + e.what();
			text *t = nullptr;
			pg_call([&] { t = cstring_to_text(msg.c_str()); });
			PG_RETURN_TEXT_P(t);
		}
	} else if (kind == "cancel") {
		// A pending cancel is honoured through pg_call.
		pg_call([] { QueryCancelPending = true; InterruptPending = true; });
		check_for_interrupts();
	}
	text *t = nullptr;
	pg_call([&] { t = cstring_to_text(("ok: " + kind).c_str()); });
	PG_RETURN_TEXT_P(t);
}
