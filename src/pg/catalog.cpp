// catalog.cpp — loads a table's definition from the PostgreSQL catalogs through SPI.
// Must never run with an elog(ERROR) able to skip C++ destructors: a function here that
// owns C++ objects calls PostgreSQL only inside pg_call() lambdas that own none (they
// collect plain C data, the C++ objects are built after them), so each is safe with or
// without an enclosing pg_call. The column_* readers own nothing and are called per value
// inside the caller's pg_call. Called by functions.cpp, migrate.cpp, rows.cpp, verify.cpp.
#include "catalog.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>

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
	// PostgreSQL part: plain C data only (palloc'd, freed with the current memory context).
	char **values = nullptr;
	int n = 0;
	pg_call([&] {
		Datum *elems;
		bool *nulls;
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		values = static_cast<char **>(palloc(sizeof(char *) * static_cast<size_t>(Max(n, 1))));
		for (int j = 0; j < n; j++) {
			values[j] = nulls[j] ? nullptr : TextDatumGetCString(elems[j]);
		}
	});
	std::vector<std::string> out;
	out.reserve(static_cast<size_t>(n));
	for (int j = 0; j < n; j++) {
		out.emplace_back(values[j] ? values[j] : "");
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

// Catalog queries and readers of their result (SPI_tuptable, valid until the next query).
// Each runs its PostgreSQL part in its own pg_call and hands back C++ values, so the code
// that builds the SourceTable calls PostgreSQL only through them. Not a hot path: a few
// rows per column of the table.
uint64 catalog_query(const char *sql, Oid relid, std::optional<Oid> index = std::nullopt) {
	return pg_call([&] {
		Oid argtypes[2] = {OIDOID, OIDOID};
		Datum values[2] = {ObjectIdGetDatum(relid), ObjectIdGetDatum(index.value_or(InvalidOid))};
		if (SPI_execute_with_args(sql, index ? 2 : 1, argtypes, values, nullptr, true, 0) != SPI_OK_SELECT) {
			elog(ERROR, "pg2d1: catalog query failed");
		}
		return SPI_processed;
	});
}

std::string cell_text(uint64 row, int col) { // "" for NULL
	const char *s = pg_call([&] { return static_cast<const char *>(spi_text(row, col)); });
	return s ? std::string(s) : std::string();
}

bool cell_bool(uint64 row, int col) { // false for NULL
	return pg_call([&] { return spi_bool(row, col); });
}

Oid cell_oid(uint64 row, int col) { // InvalidOid for NULL
	return pg_call([&] {
		bool isnull;
		Datum d = spi_datum(row, col, &isnull);
		return isnull ? InvalidOid : DatumGetObjectId(d);
	});
}

std::vector<std::string> cell_text_array(uint64 row, int col) { // {} for NULL
	bool isnull = true;
	Datum d = pg_call([&] { return spi_datum(row, col, &isnull); });
	return isnull ? std::vector<std::string>{} : text_array_values(d);
}

// What the catalog says about one column (row `row` of kColumnsSql), as plain C data.
struct ColumnInfo {
	const char *name;
	Oid type_oid;
	Oid base_type_oid;
	Oid output_fn;
	NameData typname; // of the base type
	char typcategory;
	bool not_null;
	const char *dflt; // NULL when none
	bool generated;
	const char *type_sql;      // the declared type, castable without a typmod
	const char *base_type_sql; // format_type_be of the base type
};

ColumnInfo column_info(uint64 row) {
	ColumnInfo c{};
	pg_call([&] {
		HeapTuple tup = SPI_tuptable->vals[row];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool isnull;
		c.name = SPI_getvalue(tup, desc, 1);
		c.type_oid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		c.base_type_oid = getBaseType(c.type_oid);
		bool varlena;
		getTypeOutputInfo(c.type_oid, &c.output_fn, &varlena);
		HeapTuple typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(c.base_type_oid));
		if (!HeapTupleIsValid(typtup)) {
			elog(ERROR, "cache lookup failed for type %u", c.base_type_oid);
		}
		Form_pg_type typ = (Form_pg_type)GETSTRUCT(typtup);
		c.typname = typ->typname;
		c.typcategory = typ->typcategory;
		ReleaseSysCache(typtup);
		c.not_null = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		c.dflt = SPI_getvalue(tup, desc, 6);
		c.generated = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		// "bpchar", not "character" (which means character(1) and would truncate a key
		// parameter cast to it); likewise "bit".
		c.type_sql = format_type_extended(c.type_oid, -1, FORMAT_TYPE_TYPEMOD_GIVEN);
		c.base_type_sql = format_type_be(c.base_type_oid);
	});
	return c;
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
		// parse as themselves); beyond the double range is an error, not ±Infinity. The
		// output function runs before any C++ object of this frame exists.
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
	// Called for every row the migration reads: one pg_call for all key columns, which
	// collects plain C strings (palloc'd in the current memory context); the vector is
	// built after it.
	const size_t n = t.key_columns.size();
	const char **texts = nullptr;
	pg_call([&] {
		texts = static_cast<const char **>(palloc(sizeof(char *) * Max(n, static_cast<size_t>(1))));
		for (size_t k = 0; k < n; k++) {
			bool isnull;
			Datum d = SPI_getbinval(tup, desc, t.raw_key_position(k), &isnull);
			texts[k] = isnull ? nullptr : OidOutputFunctionCall(t.columns[t.key_columns[k]].output_fn, d);
		}
	});
	std::vector<std::string> out;
	out.reserve(n);
	for (size_t k = 0; k < n; k++) {
		out.emplace_back(texts[k] ? texts[k] : "");
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
	pg_call([&] {
		GucAction action = static_cast<GucAction>(guc_action);
		set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
		set_config_option("DateStyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
		set_config_option("IntervalStyle", "iso_8601", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
		set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION, action, true, 0, false);
	});
}

SourceTable load_source_table(Oid relid) {
	// PostgreSQL is called only through pg_call lambdas that own nothing and through the
	// readers above; the C++ objects are built between those calls.
	SourceTable t;
	t.relid = relid;
	struct {
		const char *relname;
		char relkind;
		const char *qualified;
		const char *display;
	} rel{};
	pg_call([&] {
		char *relname = get_rel_name(relid);
		if (!relname) {
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
		}
		rel.relname = relname;
		rel.relkind = get_rel_relkind(relid);
		rel.qualified = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname);
		rel.display = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
	});
	t.def.name = rel.relname;
	t.qualified_name = rel.qualified;
	t.display_name = rel.display;

	const uint64 ncols = catalog_query(kColumnsSql, relid);
	for (uint64 i = 0; i < ncols; i++) {
		const ColumnInfo info = column_info(i);
		SourceColumn col;
		col.name = info.name;
		col.type_oid = info.type_oid;
		col.base_type_oid = info.base_type_oid;
		col.output_fn = info.output_fn;
		ColumnDef def;
		def.name = col.name;
		def.typname = NameStr(info.typname);
		def.typcategory = info.typcategory;
		def.not_null = info.not_null;
		if (info.dflt && !info.generated) {
			def.pg_default = std::string(info.dflt);
		}
		const std::string q = quote_ident(col.name);
		col.select_expr = q;
		if (guc_numeric_as_real && col.base_type_oid == NUMERICOID) {
			def.typname = "float8"; // on request: REAL, each value the nearest double (column_real)
		}
		col.kind = value_kind_for(def.typname, def.typcategory);
		col.type_sql = info.type_sql;
		col.plain_text =
		    col.base_type_oid == TEXTOID || col.base_type_oid == VARCHAROID || col.base_type_oid == BPCHAROID;
		if (def.typcategory == 'A') {
			col.select_expr = "pg_catalog.array_to_json(" + q + ")::text"; // arrays → JSON text
			col.plain_text = true;
		} else if (col.base_type_oid == DATEOID || col.base_type_oid == TIMEOID || col.base_type_oid == TIMETZOID ||
		           col.base_type_oid == TIMESTAMPOID || col.base_type_oid == TIMESTAMPTZOID) {
			// ISO 8601 as PostgreSQL writes it in JSON: 2024-05-01T12:00:00.5+00:00 (UTC),
			// "0044-03-15 BC" before year 1, "infinity" / "-infinity".
			col.select_expr = "(pg_catalog.to_json(" + q + "::" + info.base_type_sql + ") #>> '{}')";
			col.plain_text = true;
		}
		t.columns.push_back(std::move(col));
		t.def.columns.push_back(std::move(def));
	}

	const uint64 ncons = catalog_query(kConstraintsSql, relid);
	for (uint64 i = 0; i < ncons; i++) {
		std::string name = cell_text(i, 1);
		std::string type = cell_text(i, 2);
		bool valid = cell_bool(i, 3);
		std::string def = cell_text(i, 10);
		if (type == "x") {
			t.def.untranslatable.push_back("exclusion constraint " + quote_ident(name) +
			                               " was not created: SQLite has no exclusion constraints (" + def + ")");
		} else if (!valid) {
			t.def.untranslatable.push_back("constraint " + quote_ident(name) +
			                               " was not created: it is NOT VALID in PostgreSQL, so existing rows "
			                               "may violate it (" +
			                               def + ")");
		} else if (type == "c") {
			t.def.checks.push_back({name, cell_text(i, 4)});
		} else {
			ForeignKeyDef fk;
			fk.name = name;
			fk.ref_table = cell_text(i, 5);
			fk.on_delete = cell_text(i, 6)[0];
			fk.on_update = cell_text(i, 7)[0];
			fk.columns = cell_text_array(i, 8);
			fk.ref_columns = cell_text_array(i, 9);
			t.def.foreign_keys.push_back(std::move(fk));
		}
	}
	const uint64 nother = catalog_query(kNotTranslatedSql, relid);
	for (uint64 i = 0; i < nother; i++) {
		t.def.untranslatable.push_back(cell_text(i, 1));
	}

	// A key named with pg2d1_use_key() comes first, then the primary key.
	std::string key_index_name;
	Oid key_index = InvalidOid;
	if (catalog_query("SELECT key_index FROM pg2d1.table_keys WHERE relid = $1", relid) > 0) {
		key_index = cell_oid(0, 1);
	}
	if (OidIsValid(key_index)) {
		const char *display = t.display_name.c_str();
		const char *qualified = t.qualified_name.c_str();
		if (catalog_query(kUniqueIndexSql, relid, key_index) == 0) {
			pg_call([&] {
				ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
				                errmsg("the key index named for table \"%s\" no longer exists", display),
				                errhint("Name another one with pg2d1_use_key('%s', 'index_name'), or NULL to use "
				                        "the primary key.",
				                        display)));
			});
		}
		std::string iname = cell_text(0, 1);
		if (!cell_bool(0, 2) || !cell_bool(0, 4)) {
			const char *index = iname.c_str();
			pg_call([&] {
				ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				                errmsg("index \"%s\" cannot be the key of table \"%s\"", index, display),
				                errdetail("A key index must be unique, not deferrable, on plain columns, without "
				                          "a WHERE clause, and every column must be NOT NULL."),
				                errhint("ALTER TABLE %s ALTER COLUMN … SET NOT NULL, or name another index.",
				                        qualified)));
			});
		}
		t.def.primary_key = cell_text_array(0, 3);
		t.key_source = "unique index " + quote_ident(iname);
		key_index_name = iname;
	} else {
		const uint64 npk = catalog_query(kPrimaryKeySql, relid);
		for (uint64 i = 0; i < npk; i++) {
			t.def.primary_key.push_back(cell_text(i, 1));
		}
		t.key_source = "primary key";
	}
	if (t.def.primary_key.empty()) {
		t.key_source.clear();
		// Suggest a unique index on NOT NULL columns, when there is one.
		const uint64 nunique = catalog_query(kUniqueIndexSql, relid, InvalidOid);
		for (uint64 i = 0; i < nunique; i++) {
			if (cell_bool(i, 2) && cell_bool(i, 4)) {
				t.key_source = cell_text(i, 1); // the candidate, for the HINT below
				break;
			}
		}
	}

	const uint64 nidx = catalog_query(kIndexesSql, relid);
	for (uint64 i = 0; i < nidx; i++) {
		IndexDef idx;
		idx.name = cell_text(i, 1);
		idx.unique = cell_bool(i, 2);
		idx.columns = cell_text_array(i, 3);
		if (idx.name != key_index_name) { // the key becomes D1's primary key, not a second index
			t.def.indexes.push_back(std::move(idx));
		}
	}
	if (rel.relkind != RELKIND_RELATION && rel.relkind != RELKIND_PARTITIONED_TABLE) {
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
