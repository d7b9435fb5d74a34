// catalog.cpp — loads a table's definition from the PostgreSQL catalogs through SPI.
// Must never run with an elog(ERROR) able to skip C++ destructors: every catalog access
// is inside pg_call(). Called by the SQL functions in functions.cpp and migrate.cpp.
#include "catalog.hpp"

#include "boundary.hpp"
#include "core/error.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/guc.h"
#include "utils/array.h"
#include "utils/syscache.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace pg2d1 {
namespace {

const char *kColumnsSql = "SELECT a.attname::text, a.atttypid, t.typname::text, t.typcategory::text, a.attnotnull, "
                          "       pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attgenerated <> '' "
                          "FROM pg_catalog.pg_attribute a "
                          "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
                          "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                          "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

const char *kPrimaryKeySql = "SELECT a.attname::text FROM pg_catalog.pg_index i "
                             "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
                             "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                             "WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord";

const char *kIndexesSql = "SELECT c.relname::text, i.indisunique, "
                          "       array_agg(a.attname::text ORDER BY k.ord) "
                          "FROM pg_catalog.pg_index i "
                          "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
                          "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
                          "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                          "WHERE i.indrelid = $1 AND NOT i.indisprimary AND i.indexprs IS NULL "
                          "  AND i.indpred IS NULL AND k.ord <= i.indnkeyatts "
                          "GROUP BY c.relname, i.indisunique ORDER BY c.relname";

void run_with_relid(const char *sql, Oid relid) {
	Oid argtypes[1] = {OIDOID};
	Datum values[1] = {ObjectIdGetDatum(relid)};
	if (SPI_execute_with_args(sql, 1, argtypes, values, nullptr, true, 0) != SPI_OK_SELECT) {
		elog(ERROR, "pg2d1: catalog query failed");
	}
}

} // namespace

int64_t column_integer(const SourceColumn &col, Datum d) {
	switch (col.base_type_oid) {
	case INT2OID:
		return DatumGetInt16(d);
	case INT4OID:
		return DatumGetInt32(d);
	case OIDOID:
		return DatumGetObjectId(d);
	default:
		return DatumGetInt64(d);
	}
}

double column_real(const SourceColumn &col, Datum d) {
	return col.base_type_oid == FLOAT4OID ? static_cast<double>(DatumGetFloat4(d)) : DatumGetFloat8(d);
}

std::string_view column_text_utf8(const SourceColumn &col, Datum d) {
	const char *s;
	size_t len;
	if (col.plain_text) {
		text *t = DatumGetTextPP(d);
		s = VARDATA_ANY(t);
		len = VARSIZE_ANY_EXHDR(t);
	} else {
		s = OidOutputFunctionCall(col.output_fn, d);
		len = strlen(s);
	}
	if (GetDatabaseEncoding() != PG_UTF8) {
		s = pg_server_to_any(s, static_cast<int>(len), PG_UTF8);
		len = strlen(s);
	}
	return std::string_view(s, len);
}

void set_fixed_output_settings(int guc_action) {
	GucAction action = static_cast<GucAction>(guc_action);
	set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
	set_config_option("DateStyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
	set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
	set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
}

SourceTable load_source_table(Oid relid) {
	SourceTable t;
	t.relid = relid;
	char relkind = 0;
	pg_call([&] {
		char *relname = get_rel_name(relid);
		if (!relname) {
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
		}
		relkind = get_rel_relkind(relid);
		char *nsp = get_namespace_name(get_rel_namespace(relid));
		t.def.name = relname;
		t.qualified_name = quote_qualified_identifier(nsp, relname);
		t.display_name = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));

		run_with_relid(kColumnsSql, relid);
		for (uint64 i = 0; i < SPI_processed; i++) {
			HeapTuple tup = SPI_tuptable->vals[i];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool isnull;
			SourceColumn col;
			col.name = SPI_getvalue(tup, desc, 1);
			col.type_oid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
			col.base_type_oid = getBaseType(col.type_oid);
			bool varlena;
			getTypeOutputInfo(col.type_oid, &col.output_fn, &varlena);
			HeapTuple typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(col.base_type_oid));
			if (!HeapTupleIsValid(typtup)) {
				elog(ERROR, "cache lookup failed for type %u", col.base_type_oid);
			}
			Form_pg_type typ = (Form_pg_type)GETSTRUCT(typtup);
			ColumnDef def;
			def.name = col.name;
			def.typname = NameStr(typ->typname);
			def.typcategory = typ->typcategory;
			ReleaseSysCache(typtup);
			def.not_null = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
			char *dflt = SPI_getvalue(tup, desc, 6);
			bool generated = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
			if (dflt && !generated) {
				def.pg_default = std::string(dflt);
			}
			col.kind = value_kind_for(def.typname, def.typcategory);
			col.plain_text =
			    col.base_type_oid == TEXTOID || col.base_type_oid == VARCHAROID || col.base_type_oid == BPCHAROID;
			t.columns.push_back(std::move(col));
			t.def.columns.push_back(std::move(def));
		}

		run_with_relid(kPrimaryKeySql, relid);
		for (uint64 i = 0; i < SPI_processed; i++) {
			t.def.primary_key.emplace_back(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		}

		run_with_relid(kIndexesSql, relid);
		for (uint64 i = 0; i < SPI_processed; i++) {
			HeapTuple tup = SPI_tuptable->vals[i];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool isnull;
			IndexDef idx;
			idx.name = SPI_getvalue(tup, desc, 1);
			idx.unique = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
			ArrayType *arr = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull));
			Datum *elems;
			bool *nulls;
			int n;
			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (int j = 0; j < n; j++) {
				idx.columns.emplace_back(TextDatumGetCString(elems[j]));
			}
			t.def.indexes.push_back(std::move(idx));
		}
	});
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) {
		throw Error("42809", "\"" + t.display_name + "\" is not a table", {},
		            "pg2d1 copies tables; for a view, copy its base tables.");
	}
	if (t.def.primary_key.empty()) {
		throw Error("55000", "table \"" + t.display_name + "\" has no primary key",
		            "pg2d1 walks a table by its primary key and writes idempotent upserts keyed on it.",
		            "ALTER TABLE " + t.qualified_name + " ADD PRIMARY KEY (…);");
	}
	for (const auto &k : t.def.primary_key) {
		for (size_t i = 0; i < t.columns.size(); i++) {
			if (t.columns[i].name == k) {
				t.key_columns.push_back(static_cast<int>(i));
			}
		}
	}
	return t;
}

} // namespace pg2d1
