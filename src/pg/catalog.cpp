// catalog.cpp — loads a table's definition from the PostgreSQL catalogs through SPI.
// Must never run with an elog(ERROR) able to skip C++ destructors: every catalog access
// is inside pg_call(). Called by the SQL functions in functions.cpp and migrate.cpp.
#include "catalog.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "boundary.hpp"
#include "spi.hpp"
#include "guc.hpp"
#include "core/sqlite_encode.hpp"
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
                          "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x "
                          "                  WHERE x.conindid = i.indexrelid AND x.contype = 'x') "
                          "  AND i.indpred IS NULL AND k.ord <= i.indnkeyatts "
                          "GROUP BY c.relname, i.indisunique ORDER BY c.relname";

// Constraints other than the primary key and unique ones (those arrive as indexes).
const char *kConstraintsSql =
    "SELECT k.conname::text, k.contype::text, k.convalidated, pg_catalog.pg_get_expr(k.conbin, k.conrelid), "
    "       f.relname::text, k.confdeltype::text, k.confupdtype::text, "
    "       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, o) "
    "             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o), "
    "       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, o) "
    "             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o), "
    "       pg_catalog.pg_get_constraintdef(k.oid) "
    "FROM pg_catalog.pg_constraint k LEFT JOIN pg_catalog.pg_class f ON f.oid = k.confrelid "
    "WHERE k.conrelid = $1 AND k.contype IN ('c', 'f', 'x') ORDER BY k.conname";

// What pg2d1 does not carry over, reported by pg2d1_ddl / pg2d1_setup_schema.
const char *kNotTranslatedSql =
    "SELECT 'index ' || quote_ident(c.relname) || ' was not created: ' || "
    "       CASE WHEN i.indpred IS NOT NULL THEN 'partial indexes (WHERE …) are not translated' "
    "            ELSE 'indexes on expressions are not translated' END || ' (' || "
    "pg_catalog.pg_get_indexdef(i.indexrelid) || ')' "
    "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
    "WHERE i.indrelid = $1 AND NOT i.indisprimary AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) "
    "UNION ALL "
    "SELECT 'column ' || quote_ident(a.attname) || ' is GENERATED in PostgreSQL: D1 gets its values, not the "
    "expression' FROM pg_catalog.pg_attribute a "
    "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> '' "
    "UNION ALL "
    "SELECT 'trigger ' || quote_ident(t.tgname) || ' was not created: triggers are not translated' "
    "FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1 AND NOT t.tgisinternal "
    "UNION ALL "
    "SELECT 'row-level security policies are not translated: D1 has none, and anyone with the API token reads every "
    "row' "
    "FROM pg_catalog.pg_class c WHERE c.oid = $1 AND c.relrowsecurity";

} // namespace

std::vector<std::string> text_array_values(Datum d) {
	std::vector<std::string> out;
	Datum *elems;
	bool *nulls;
	int n;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int j = 0; j < n; j++) {
		out.emplace_back(nulls[j] ? "" : TextDatumGetCString(elems[j]));
	}
	return out;
}

namespace {

// Columns of a unique index: valid (no expressions, no predicate, unique, all NOT NULL)
// or an empty name list plus the reason.
const char *kUniqueIndexSql =
    "SELECT c.relname::text, i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL AND i.indimmediate, "
    "       array_agg(a.attname::text ORDER BY k.ord), bool_and(a.attnotnull) "
    "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = $1 AND k.ord <= i.indnkeyatts AND ($2 = 0 OR i.indexrelid = $2) "
    "GROUP BY c.relname, i.indisunique, i.indexprs IS NULL, i.indpred IS NULL, i.indimmediate ORDER BY c.relname";

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
	if (col.base_type_oid == NUMERICOID) {
		// pg2d1.numeric_as_real: the nearest double (strtod rounds correctly; NaN, ±Infinity
		// parse as themselves); beyond the double range is an error, not ±Infinity.
		const char *text = OidOutputFunctionCall(col.output_fn, d);
		errno = 0;
		double v = strtod(text, nullptr);
		if (errno == ERANGE && std::isinf(v)) {
			throw Error("22003",
			            std::string("numeric value ") + std::string(text).substr(0, 40) + "… is out of range for REAL",
			            "pg2d1.numeric_as_real rounds numeric to double, whose largest value is about 1.8e308.",
			            "Migrate this table with pg2d1.numeric_as_real = off: numeric then goes to D1 as exact TEXT.");
		}
		return v;
	}
	return col.base_type_oid == FLOAT4OID ? static_cast<double>(DatumGetFloat4(d)) : DatumGetFloat8(d);
}

std::string SourceTable::key_list() const {
	std::string out;
	for (int k : key_columns) {
		out += (out.empty() ? "" : ", ") + quote_ident(columns[k].name);
	}
	return out;
}

std::string SourceTable::select_list() const {
	std::string out;
	for (auto &c : columns) {
		out += (out.empty() ? "" : ", ") + c.select_expr;
	}
	for (int k : key_columns) {
		out += ", " + quote_ident(columns[k].name);
	}
	return out;
}

std::string SourceTable::key_compare(const char *op, int first_param) const {
	std::string params;
	for (size_t k = 0; k < key_columns.size(); k++) {
		params += (k ? ", $" : "$") + std::to_string(first_param + static_cast<int>(k)) +
		          "::" + columns[key_columns[k]].type_sql;
	}
	return "(" + key_list() + ") " + op + " (" + params + ")";
}

std::vector<std::string> key_texts(const SourceTable &t, HeapTuple tup, TupleDesc desc) {
	std::vector<std::string> out;
	for (size_t k = 0; k < t.key_columns.size(); k++) {
		bool isnull;
		Datum d = SPI_getbinval(tup, desc, t.raw_key_position(k), &isnull);
		out.emplace_back(isnull ? "" : OidOutputFunctionCall(t.columns[t.key_columns[k]].output_fn, d));
	}
	return out;
}

std::string key_display(const SourceTable &t, const std::vector<std::string> &texts) {
	if (t.key_columns.size() == 1) {
		return t.columns[t.key_columns[0]].name + " = " + (texts.empty() ? "?" : texts[0]);
	}
	std::string names, values;
	for (size_t k = 0; k < t.key_columns.size(); k++) {
		names += (k ? ", " : "") + t.columns[t.key_columns[k]].name;
		values += (k ? ", " : "") + (k < texts.size() ? texts[k] : "?");
	}
	return "(" + names + ") = (" + values + ")";
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
	set_config_option("IntervalStyle", "iso_8601", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
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
			const std::string q = quote_ident(col.name);
			col.select_expr = q;
			if (guc_numeric_as_real && col.base_type_oid == NUMERICOID) {
				def.typname = "float8"; // on request: REAL, each value the nearest double (column_real)
			}
			col.kind = value_kind_for(def.typname, def.typcategory);
			col.type_sql = format_type_be(col.type_oid);
			col.plain_text =
			    col.base_type_oid == TEXTOID || col.base_type_oid == VARCHAROID || col.base_type_oid == BPCHAROID;
			if (def.typcategory == 'A') {
				col.select_expr = "pg_catalog.array_to_json(" + q + ")::text"; // arrays → JSON text
				col.plain_text = true;
			} else if (col.base_type_oid == DATEOID || col.base_type_oid == TIMEOID || col.base_type_oid == TIMETZOID ||
			           col.base_type_oid == TIMESTAMPOID || col.base_type_oid == TIMESTAMPTZOID) {
				// ISO 8601 as PostgreSQL writes it in JSON: 2024-05-01T12:00:00.5+00:00 (UTC),
				// "0044-03-15 BC" before year 1, "infinity" / "-infinity".
				col.select_expr = "(pg_catalog.to_json(" + q + "::" + format_type_be(col.base_type_oid) + ") #>> '{}')";
				col.plain_text = true;
			}
			t.columns.push_back(std::move(col));
			t.def.columns.push_back(std::move(def));
		}

		run_with_relid(kConstraintsSql, relid);
		for (uint64 i = 0; i < SPI_processed; i++) {
			bool isnull;
			std::string name = spi_text(i, 1);
			std::string type = spi_text(i, 2);
			bool valid = spi_bool(i, 3);
			std::string def = spi_text(i, 10);
			if (type == "x") {
				t.def.untranslatable.push_back("exclusion constraint " + quote_ident(name) +
				                               " was not created: SQLite has no exclusion constraints (" + def + ")");
			} else if (!valid) {
				t.def.untranslatable.push_back("constraint " + quote_ident(name) +
				                               " was not created: it is NOT VALID in PostgreSQL, so existing rows "
				                               "may violate it (" +
				                               def + ")");
			} else if (type == "c") {
				t.def.checks.push_back({name, spi_text(i, 4)});
			} else {
				ForeignKeyDef fk;
				fk.name = name;
				fk.ref_table = spi_text(i, 5);
				fk.on_delete = spi_text(i, 6)[0];
				fk.on_update = spi_text(i, 7)[0];
				fk.columns = text_array_values(spi_datum(i, 8, &isnull));
				fk.ref_columns = text_array_values(spi_datum(i, 9, &isnull));
				t.def.foreign_keys.push_back(std::move(fk));
			}
		}
		run_with_relid(kNotTranslatedSql, relid);
		for (uint64 i = 0; i < SPI_processed; i++) {
			t.def.untranslatable.emplace_back(spi_text(i, 1));
		}

		// A key named with pg2d1_use_key() comes first, then the primary key.
		std::string key_index_name;
		Oid key_index = InvalidOid;
		spi_run("SELECT key_index FROM pg2d1.table_keys WHERE relid = $1", {{OIDOID, ObjectIdGetDatum(relid)}}, true);
		if (SPI_processed > 0) {
			bool isnull;
			key_index = DatumGetObjectId(spi_datum(0, 1, &isnull));
		}
		if (OidIsValid(key_index)) {
			spi_run(kUniqueIndexSql, {{OIDOID, ObjectIdGetDatum(relid)}, {OIDOID, ObjectIdGetDatum(key_index)}}, true);
			if (SPI_processed == 0) {
				ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
				                errmsg("the key index named for table \"%s\" no longer exists", t.display_name.c_str()),
				                errhint("Name another one with pg2d1_use_key('%s', 'index_name'), or NULL to use "
				                        "the primary key.",
				                        t.display_name.c_str())));
			}
			std::string iname = spi_text(0, 1);
			if (!spi_bool(0, 2) || !spi_bool(0, 4)) {
				ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				                errmsg("index \"%s\" cannot be the key of table \"%s\"", iname.c_str(),
				                       t.display_name.c_str()),
				                errdetail("A key index must be unique, not deferrable, on plain columns, without "
				                          "a WHERE clause, and every column must be NOT NULL."),
				                errhint("ALTER TABLE %s ALTER COLUMN … SET NOT NULL, or name another index.",
				                        t.qualified_name.c_str())));
			}
			bool isnull;
			t.def.primary_key = text_array_values(spi_datum(0, 3, &isnull));
			t.key_source = "unique index " + quote_ident(iname);
			key_index_name = iname;
		} else {
			run_with_relid(kPrimaryKeySql, relid);
			for (uint64 i = 0; i < SPI_processed; i++) {
				t.def.primary_key.emplace_back(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			}
			t.key_source = "primary key";
		}
		if (t.def.primary_key.empty()) {
			t.key_source.clear();
			// Suggest a unique index on NOT NULL columns, when there is one.
			spi_run(kUniqueIndexSql, {{OIDOID, ObjectIdGetDatum(relid)}, {OIDOID, ObjectIdGetDatum(InvalidOid)}}, true);
			for (uint64 i = 0; i < SPI_processed; i++) {
				if (spi_bool(i, 2) && spi_bool(i, 4)) {
					t.key_source = spi_text(i, 1); // the candidate, for the HINT below
					break;
				}
			}
		}

		run_with_relid(kIndexesSql, relid);
		for (uint64 i = 0; i < SPI_processed; i++) {
			HeapTuple tup = SPI_tuptable->vals[i];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool isnull;
			IndexDef idx;
			idx.name = SPI_getvalue(tup, desc, 1);
			idx.unique = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
			idx.columns = text_array_values(SPI_getbinval(tup, desc, 3, &isnull));
			if (idx.name != key_index_name) { // the key becomes D1's primary key, not a second index
				t.def.indexes.push_back(std::move(idx));
			}
		}
	});
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) {
		throw Error("42809", "\"" + t.display_name + "\" is not a table", {},
		            "pg2d1 copies tables; for a view, copy its base tables.");
	}
	if (t.def.primary_key.empty()) {
		std::string lit;
		append_text_literal(lit, t.display_name);
		std::string use = t.key_source.empty() ? "'index_name'" : "'" + t.key_source + "'";
		throw Error("55000", "table \"" + t.display_name + "\" has no primary key",
		            "pg2d1 walks a table by its key and writes idempotent upserts keyed on it.",
		            "ALTER TABLE " + t.qualified_name +
		                " ADD PRIMARY KEY (…); or name a unique index on NOT NULL "
		                "columns: SELECT pg2d1_use_key(" +
		                lit + ", " + use + ");");
	}
	for (const auto &k : t.def.primary_key) {
		for (size_t i = 0; i < t.columns.size(); i++) {
			if (t.columns[i].name == k) {
				t.key_columns.push_back(static_cast<int>(i));
			}
		}
	}
	t.integer_key = t.key_columns.size() == 1 && t.columns[t.key_columns[0]].kind == ValueKind::Integer;
	return t;
}

} // namespace pg2d1
