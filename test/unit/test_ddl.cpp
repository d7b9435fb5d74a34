// test_ddl.cpp — type mapping, default translation, CREATE TABLE/INDEX with CHECK and FOREIGN KEY
// constraints, and the D1 schema comparison, all executed in SQLite.
// Must never accept DDL that only looks right: SQLite runs it, and every constraint left out is a warning.
// Run by ctest (pg2d1_unit_tests).
#include "core/ddl.hpp"

#include "sqlite_db.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace pg2d1 {
namespace {

using test::capture_error;
using test::contains;
using test::SqliteDb;

ColumnDef col(std::string name, std::string typname, bool not_null = false,
              std::optional<std::string> pg_default = std::nullopt, char category = 'S') {
	ColumnDef c;
	c.name = std::move(name);
	c.typname = std::move(typname);
	c.typcategory = category;
	c.not_null = not_null;
	c.pg_default = std::move(pg_default);
	return c;
}

void run_all(SqliteDb &db, const DdlResult &r) {
	for (const auto &s : r.statements)
		db.exec(s);
}

TEST(ValueKind, MappingTable) {
	EXPECT_EQ(value_kind_for("int2", 'N'), ValueKind::Integer);
	EXPECT_EQ(value_kind_for("int4", 'N'), ValueKind::Integer);
	EXPECT_EQ(value_kind_for("int8", 'N'), ValueKind::Integer);
	EXPECT_EQ(value_kind_for("oid", 'N'), ValueKind::Integer);
	EXPECT_EQ(value_kind_for("bool", 'B'), ValueKind::Boolean);
	EXPECT_EQ(value_kind_for("float4", 'N'), ValueKind::Real);
	EXPECT_EQ(value_kind_for("float8", 'N'), ValueKind::Real);
	EXPECT_EQ(value_kind_for("bytea", 'U'), ValueKind::Blob);
	for (const char *t : {"numeric", "text", "varchar", "bpchar", "date", "timestamp", "timestamptz", "uuid", "json",
	                      "jsonb", "interval", "inet", "money"})
		EXPECT_EQ(value_kind_for(t, 'S'), ValueKind::Text) << t;
	EXPECT_EQ(value_kind_for("_int4", 'A'), ValueKind::Text) << "arrays are JSON text";
	EXPECT_EQ(value_kind_for("mood", 'E'), ValueKind::Text) << "enums are their label";

	EXPECT_STREQ(sqlite_type_for(ValueKind::Integer), "INTEGER");
	EXPECT_STREQ(sqlite_type_for(ValueKind::Boolean), "INTEGER");
	EXPECT_STREQ(sqlite_type_for(ValueKind::Real), "REAL");
	EXPECT_STREQ(sqlite_type_for(ValueKind::Blob), "BLOB");
	EXPECT_STREQ(sqlite_type_for(ValueKind::Text), "TEXT");
}

TEST(TranslateDefault, Translatable) {
	EXPECT_EQ(translate_default("42", ValueKind::Integer), "42");
	EXPECT_EQ(translate_default("'-1'::integer", ValueKind::Integer), "-1");
	EXPECT_EQ(translate_default("(-1)", ValueKind::Integer), "-1");
	EXPECT_EQ(translate_default("0.5", ValueKind::Real), "0.5");
	EXPECT_EQ(translate_default("'1.5'::double precision", ValueKind::Real), "1.5");
	EXPECT_EQ(translate_default("3", ValueKind::Real), "3.0");
	EXPECT_EQ(translate_default("true", ValueKind::Boolean), "1");
	EXPECT_EQ(translate_default("false", ValueKind::Boolean), "0");
	EXPECT_EQ(translate_default("'abc'::text", ValueKind::Text), "'abc'");
	EXPECT_EQ(translate_default("'it''s'::character varying", ValueKind::Text), "'it''s'");
	EXPECT_EQ(translate_default("'x'::character varying(20)", ValueKind::Text), "'x'");
	EXPECT_EQ(translate_default("0.50", ValueKind::Text), "'0.50'") << "numeric keeps its text";
	EXPECT_EQ(translate_default("(0)::numeric", ValueKind::Text), "'0'");
	EXPECT_EQ(translate_default("NULL::text", ValueKind::Text), "NULL");
	EXPECT_EQ(translate_default("now()", ValueKind::Text), "CURRENT_TIMESTAMP");
	EXPECT_EQ(translate_default("CURRENT_TIMESTAMP", ValueKind::Text), "CURRENT_TIMESTAMP");
	EXPECT_EQ(translate_default("CURRENT_DATE", ValueKind::Text), "CURRENT_DATE");
	EXPECT_EQ(translate_default("'\\x0a0b'::bytea", ValueKind::Blob), "X'0A0B'");
}

TEST(TranslateDefault, NotTranslatable) {
	EXPECT_EQ(translate_default("nextval('t_id_seq'::regclass)", ValueKind::Integer), std::nullopt);
	EXPECT_EQ(translate_default("gen_random_uuid()", ValueKind::Text), std::nullopt);
	EXPECT_EQ(translate_default("'2020-01-01'::date", ValueKind::Text), std::nullopt)
	    << "date text may differ from the migrated ISO form";
	EXPECT_EQ(translate_default("'NaN'::double precision", ValueKind::Real), std::nullopt);
	EXPECT_EQ(translate_default("1.5", ValueKind::Integer), std::nullopt);
	EXPECT_EQ(translate_default("now()", ValueKind::Integer), std::nullopt);
	EXPECT_EQ(translate_default("E'a\\nb'", ValueKind::Text), std::nullopt);
	EXPECT_EQ(translate_default("'unterminated", ValueKind::Text), std::nullopt);
	EXPECT_EQ(translate_default("1e5", ValueKind::Text), std::nullopt);
	EXPECT_EQ(translate_default("", ValueKind::Text), std::nullopt);
}

TEST(TranslateTable, SingleIntegerKeyIsTheRowidAlias) {
	TableDef t;
	t.name = "coordinate_speed_new";
	t.columns = {col("id", "int8", true),        col("latitude", "float8"), col("longitude", "float8"),
	             col("api_speed_limit", "int4"), col("bearing", "float8"),  col("display_name", "text")};
	t.primary_key = {"id"};
	t.indexes = {IndexDef{"idx_coord_lat_lon", {"latitude", "longitude"}, false}};
	const DdlResult r = translate_table(t);
	ASSERT_EQ(r.statements.size(), 2u);
	EXPECT_EQ(r.statements[0],
	          "CREATE TABLE IF NOT EXISTS \"coordinate_speed_new\" (\"id\" INTEGER PRIMARY KEY, \"latitude\" REAL, "
	          "\"longitude\" REAL, \"api_speed_limit\" INTEGER, \"bearing\" REAL, \"display_name\" TEXT)");
	EXPECT_EQ(
	    r.statements[1],
	    "CREATE INDEX IF NOT EXISTS \"idx_coord_lat_lon\" ON \"coordinate_speed_new\" (\"latitude\",\"longitude\")");
	EXPECT_TRUE(r.warnings.empty());

	SqliteDb db;
	run_all(db, r);
	run_all(db, r); // IF NOT EXISTS: idempotent
	db.exec("INSERT INTO coordinate_speed_new (id, latitude) VALUES (9223372036854775807, 1.5)");
	EXPECT_EQ(db.select("rowid FROM coordinate_speed_new").i, 9223372036854775807) << "id is the rowid";
}

TEST(TranslateTable, QuotedIdentifiersCompositeKeyDefaultsAndIndexes) {
	TableDef t;
	t.name = "we\"ird tab";
	t.columns = {
	    col("acc\"ount", "int4", true),
	    col("day", "date", true),
	    col("note", "text", true, "'it''s'::text"),
	    col("n", "int4", false, "'-1'::integer"),
	    col("ratio", "float8", false, "0.25"),
	    col("flag", "bool", true, "true"),
	    col("amount", "numeric", false, "0.50"),
	    col("created_at", "timestamptz", false, "now()"),
	    col("seq", "int8", true, "nextval('seq_id_seq'::regclass)"),
	    col("tags", "_text", false, std::nullopt, 'A'),
	    col("raw", "bytea", false, "'\\xff00'::bytea"),
	};
	t.primary_key = {"acc\"ount", "day"};
	t.indexes = {IndexDef{"uq \"note\"", {"note", "flag"}, true}, IndexDef{"by_seq", {"seq"}, false},
	             IndexDef{"expr_idx", {}, false}, IndexDef{"gone", {"missing"}, false}};
	const DdlResult r = translate_table(t);
	ASSERT_EQ(r.statements.size(), 3u);
	const std::string &create = r.statements[0];
	EXPECT_TRUE(contains(create, "CREATE TABLE IF NOT EXISTS \"we\"\"ird tab\" (\"acc\"\"ount\" INTEGER NOT NULL, "))
	    << create;
	EXPECT_TRUE(contains(create, "\"note\" TEXT NOT NULL DEFAULT 'it''s'")) << create;
	EXPECT_TRUE(contains(create, "\"n\" INTEGER DEFAULT -1")) << create;
	EXPECT_TRUE(contains(create, "\"flag\" INTEGER NOT NULL DEFAULT 1")) << create;
	EXPECT_TRUE(contains(create, "\"seq\" INTEGER NOT NULL,")) << create;
	EXPECT_TRUE(contains(create, ", PRIMARY KEY (\"acc\"\"ount\",\"day\"))")) << create;
	EXPECT_EQ(r.statements[1], "CREATE UNIQUE INDEX IF NOT EXISTS \"uq \"\"note\"\"\" ON \"we\"\"ird tab\" "
	                           "(\"note\",\"flag\")");
	EXPECT_EQ(r.statements[2], "CREATE INDEX IF NOT EXISTS \"by_seq\" ON \"we\"\"ird tab\" (\"seq\")");

	ASSERT_EQ(r.warnings.size(), 3u);
	EXPECT_TRUE(contains(r.warnings[0], "\"seq\"")) << r.warnings[0];
	EXPECT_TRUE(contains(r.warnings[0], "nextval('seq_id_seq'::regclass)")) << r.warnings[0];
	EXPECT_TRUE(contains(r.warnings[0], "migrated ids are kept")) << r.warnings[0];
	EXPECT_TRUE(contains(r.warnings[1], "expr_idx"));
	EXPECT_TRUE(contains(r.warnings[2], "gone"));

	SqliteDb db;
	run_all(db, r);
	run_all(db, r);
	db.exec("INSERT INTO \"we\"\"ird tab\" (\"acc\"\"ount\", day, seq) VALUES (1, '2024-01-01', 10)");
	const auto rows =
	    db.query("SELECT note, n, ratio, flag, amount, typeof(created_at), hex(raw) FROM \"we\"\"ird tab\"");
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0][0].bytes, "it's");
	EXPECT_EQ(rows[0][1].i, -1);
	EXPECT_EQ(rows[0][2].d, 0.25);
	EXPECT_EQ(rows[0][3].i, 1);
	EXPECT_EQ(rows[0][4].bytes, "0.50");
	EXPECT_EQ(rows[0][5].bytes, "text");
	EXPECT_EQ(rows[0][6].bytes, "FF00");
	EXPECT_THROW(db.exec("INSERT INTO \"we\"\"ird tab\" (\"acc\"\"ount\", day, seq) VALUES (1, '2024-01-01', 11)"),
	             std::runtime_error)
	    << "the composite primary key is enforced";
	EXPECT_THROW(db.exec("INSERT INTO \"we\"\"ird tab\" (\"acc\"\"ount\", day) VALUES (2, '2024-01-01')"),
	             std::runtime_error)
	    << "NOT NULL without a default is enforced";
}

TEST(TranslateTable, TextKeyAndNoKey) {
	TableDef t;
	t.name = "codes";
	t.columns = {col("code", "varchar", true), col("label", "text")};
	t.primary_key = {"code"};
	const DdlResult r = translate_table(t);
	EXPECT_EQ(r.statements[0],
	          "CREATE TABLE IF NOT EXISTS \"codes\" (\"code\" TEXT NOT NULL, \"label\" TEXT, PRIMARY KEY (\"code\"))");
	SqliteDb db;
	run_all(db, r);

	TableDef nokey = t;
	nokey.name = "logs";
	nokey.primary_key.clear();
	const DdlResult n = translate_table(nokey);
	ASSERT_EQ(n.warnings.size(), 1u);
	EXPECT_TRUE(contains(n.warnings[0], "no primary key"));
	run_all(db, n);
}

TEST(TranslateTable, InvalidDefinitionsAreRefused) {
	TableDef empty;
	empty.name = "e";
	EXPECT_EQ(capture_error([&] { translate_table(empty); }).sqlstate(), sqlstate::kInvalidParameter);
	TableDef badkey;
	badkey.name = "b";
	badkey.columns = {col("a", "int4")};
	badkey.primary_key = {"z"};
	EXPECT_EQ(capture_error([&] { translate_table(badkey); }).sqlstate(), sqlstate::kInvalidParameter);
}

TEST(TranslateTable, TooManyColumnsIsWarned) {
	TableDef wide;
	wide.name = "wide";
	for (int i = 0; i < 101; ++i)
		wide.columns.push_back(col("c" + std::to_string(i), "int4"));
	const DdlResult r = translate_table(wide);
	ASSERT_FALSE(r.warnings.empty());
	EXPECT_TRUE(contains(r.warnings[0], "101 columns"));
}

// ---- CHECK constraints ------------------------------------------------------------------------

// A table with one column of each interesting kind.
TableDef check_table_def() {
	TableDef t;
	t.name = "items";
	t.columns = {col("id", "int8", true), col("qty", "int4"),       col("big", "int8"),
	             col("price", "numeric"), col("ratio", "float8"),   col("f4", "float4"),
	             col("name", "text"),     col("code", "varchar"),   col("mood", "mood", false, std::nullopt, 'E'),
	             col("active", "bool"),   col("ch", "bpchar"),      col("born", "date"),
	             col("raw", "bytea"),     col("Mixed Case", "int4")};
	t.primary_key = {"id"};
	return t;
}

struct CheckOutcome {
	std::optional<std::string> sql; // the CHECK (…) body when translated
	std::string warning;            // the warning otherwise
};

CheckOutcome translate_check(const std::string &pg_expr) {
	TableDef t = check_table_def();
	t.checks = {CheckDef{"c", pg_expr}};
	const DdlResult r = translate_table(t);
	CheckOutcome out;
	const std::string &create = r.statements.at(0);
	const std::string marker = ", CONSTRAINT \"c\" CHECK (";
	const size_t at = create.find(marker);
	if (at != std::string::npos) {
		EXPECT_TRUE(r.warnings.empty()) << pg_expr;
		out.sql = create.substr(at + marker.size(), create.size() - at - marker.size() - 2); // "…))"
	} else {
		EXPECT_EQ(r.warnings.size(), 1u) << pg_expr;
		if (!r.warnings.empty())
			out.warning = r.warnings[0];
	}
	return out;
}

TEST(CheckConstraint, TranslatedForms) {
	const std::pair<const char *, const char *> cases[] = {
	    {"(qty >= 0)", "(\"qty\" >= 0)"},
	    {"((qty > 0) AND (qty < 100))", "((\"qty\" > 0) AND (\"qty\" < 100))"},
	    {"((qty > 0) OR (big <> 5) OR (qty IS NULL))", "(((\"qty\" > 0) OR (\"big\" <> 5)) OR (\"qty\" IS NULL))"},
	    {"(qty >= '-1'::integer)", "(\"qty\" >= (-1))"},
	    {"(big <= '9223372036854775807'::bigint)", "(\"big\" <= 9223372036854775807)"},
	    {"(qty > (- 5))", "(\"qty\" > (- 5))"},
	    {"((qty)::numeric > 0.5)", "(\"qty\" > 0.5)"},
	    {"((qty)::numeric >= ('-1'::integer)::numeric)", "(\"qty\" >= (-1))"},
	    {"(((qty * 2) + big) < 1000)", "(((\"qty\" * 2) + \"big\") < 1000)"},
	    {"((qty / 2) >= 1)", "((\"qty\" / 2) >= 1)"},
	    {"(qty BETWEEN 1 AND 10)", "(\"qty\" BETWEEN 1 AND 10)"},
	    {"(qty NOT BETWEEN 1 AND 10)", "(\"qty\" NOT BETWEEN 1 AND 10)"},
	    {"(qty = ANY (ARRAY[1, 2, 3]))", "(\"qty\" IN (1, 2, 3))"},
	    {"(qty IN (1, 2))", "(\"qty\" IN (1, 2))"},
	    {"(\"Mixed Case\" <> 0)", "(\"Mixed Case\" <> 0)"},
	    {"(ratio > (0.5)::double precision)", "(\"ratio\" > 0.5)"},
	    {"(ratio >= ('-1.5'::numeric)::double precision)", "(\"ratio\" >= (-1.5))"},
	    {"(ratio > (2)::double precision)", "(\"ratio\" > 2.0)"},
	    {"(ratio < '1e+40'::double precision)", "(\"ratio\" < 1e+40)"},
	    {"(ratio <> (0.30000000000000004)::double precision)", "(\"ratio\" <> 0.30000000000000004)"},
	    {"(ratio < (qty)::bigint)", "(\"ratio\" < \"qty\")"},
	    {"(name = 'it''s'::text)", "(\"name\" = 'it''s')"},
	    {"(name <> ''::text)", "(\"name\" <> '')"},
	    {"(name = ANY (ARRAY['a'::text, 'b'::text]))", "(\"name\" IN ('a', 'b'))"},
	    {"(name <> ALL (ARRAY['x'::text]))", "(\"name\" NOT IN ('x'))"},
	    {"((code)::text = ANY ((ARRAY['x'::character varying, 'y'::character varying])::text[]))",
	     "(\"code\" IN ('x', 'y'))"},
	    {"((code)::text = (name)::text)", "(\"code\" = \"name\")"},
	    {"(mood = 'happy'::mood)", "(\"mood\" = 'happy')"},
	    {"(mood = ANY (ARRAY['happy'::mood, 'sad'::mood]))", "(\"mood\" IN ('happy', 'sad'))"},
	    {"(length(name) <= 10)", "(length(\"name\") <= 10)"},
	    {"(char_length((code)::text) > 0)", "(length(\"code\") > 0)"},
	    {"(name IS NOT NULL)", "(\"name\" IS NOT NULL)"},
	    {"((price IS NULL) OR (born IS NOT NULL) OR (raw IS NULL))",
	     "(((\"price\" IS NULL) OR (\"born\" IS NOT NULL)) OR (\"raw\" IS NULL))"},
	    {"active", "\"active\""},
	    {"(NOT active)", "(NOT \"active\")"},
	    {"(active = true)", "(\"active\" = 1)"},
	    {"((active IS NULL) OR (NOT (qty < 0)))", "((\"active\" IS NULL) OR (NOT (\"qty\" < 0)))"},
	    {"qty >= 0 AND name <> 'x' OR qty IS NULL",
	     "(((\"qty\" >= 0) AND (\"name\" <> 'x')) OR (\"qty\" IS NULL))"}, // precedence without parentheses
	};
	SqliteDb db;
	for (const auto &[pg, expected] : cases) {
		const CheckOutcome o = translate_check(pg);
		ASSERT_TRUE(o.sql.has_value()) << pg << " -> " << o.warning;
		EXPECT_EQ(*o.sql, expected) << pg;
		TableDef t = check_table_def();
		t.checks = {CheckDef{"c", pg}};
		EXPECT_NO_THROW(db.exec(translate_table(t).statements[0])) << pg; // SQLite accepts it
		db.exec("DROP TABLE items");
	}
}

TEST(CheckConstraint, RiskyFormsAreReported) {
	const std::pair<const char *, const char *> cases[] = {
	    // numeric is TEXT in D1: '0.50' > 0 compares text with a number
	    {"(price > (0)::numeric)", "column \"price\" is numeric, which D1 stores as TEXT"},
	    {"(price = (0)::numeric)", "column \"price\" is numeric, which D1 stores as TEXT"},
	    {"(born > '2020-01-01'::date)", "column \"born\" is date, which D1 stores as TEXT"},
	    {"(ch = 'a'::bpchar)", "column \"ch\" is bpchar"},
	    {"(f4 > (0)::double precision)", "column \"f4\" is float4"},
	    {"(raw <> '\\x00'::bytea)", "column \"raw\" is bytea"},
	    {"(name > 'a'::text)", "collation"},
	    {"((code)::text <= 'z'::text)", "collation"},
	    {"(name BETWEEN 'a'::text AND 'b'::text)", "collation"},
	    {"(name ~~ 'a%'::text)", "LIKE (~~) is not translated"},
	    {"(name ~~* 'a%'::text)", "LIKE (~~*)"},
	    {"(name ~ '^a'::text)", "operator ~ is not translated"},
	    {"((qty % 2) = 0)", "operator % is not translated"},
	    {"((qty)::text = '1'::text)", "the cast (qty)::text of column \"qty\""},
	    {"((ch)::text = 'a'::text)", "the cast (ch)::text of column \"ch\""},
	    {"((code)::character varying(2) = 'ab'::text)", "may change the value"},
	    {"((ratio * (2)::double precision) > (1)::double precision)", "NaN"},
	    {"(((qty)::numeric * 1.5) > (2)::numeric)", "numeric arithmetic"},
	    {"((qty)::numeric > 0.1234567890123456789)", "more significant digits"},
	    {"(ratio > (0.5)::real)", "cast to real"},
	    {"(ratio > 'Infinity'::double precision)", "cast to double precision"},
	    {"(ratio > 'NaN'::double precision)", "cast to double precision"},
	    {"(qty > '99999999999999999999'::bigint)", "cast to bigint"},
	    {"(lower(name) = 'a'::text)", "function lower() is not translated"},
	    {"(missing > 0)", "\"missing\" is not a column of the table"},
	    {"(\"qty\" > \"QTY\")", "\"QTY\" is not a column"},
	    {"(active IS TRUE)", "IS true is not translated"},
	    {"(qty IS DISTINCT FROM big)", "IS distinct is not translated"},
	    {"CASE WHEN (qty > 0) THEN true ELSE false END", "case is not translated"},
	    {"(name = E'a\\nb'::text)", "prefixed string constant"},
	    {"(qty = ANY (ARRAY[1, NULL::integer]))", "NULL constant"},
	    {"(qty = ANY (ARRAY[1, big]))", "only with constants"},
	    {"(qty > ANY (ARRAY[1, 2]))", "> ANY is not translated"},
	    {"(name = 'a'::text COLLATE \"C\")", "collate"},
	    {"(qty = 'a'::text)", "a comparison of an integer with a text value"},
	    {"(active = 1)", "a comparison of a boolean with an integer value"},
	    {"(qty + 1)", "not a boolean predicate"},
	    {"(qty AND active)", "AND / OR / NOT on an integer value"},
	    {"(qty > 0", "unexpected end"},
	    {"(qty > 0))", "unsupported syntax near )"},
	    {"(qty > 0) -- comment", "comments"},
	    {"(qty > 0 > 1)", "chained comparisons"},
	    {"(qty = 'x", "unterminated"},
	    {"", "unexpected end"},
	};
	for (const auto &[pg, reason] : cases) {
		const CheckOutcome o = translate_check(pg);
		EXPECT_FALSE(o.sql.has_value()) << pg << " was translated to " << o.sql.value_or("");
		EXPECT_TRUE(contains(o.warning, reason)) << pg << ": " << o.warning;
		EXPECT_TRUE(contains(o.warning, "CHECK constraint \"c\" was not translated: ")) << o.warning;
		EXPECT_TRUE(contains(o.warning, std::string(" (") + pg + ")")) << o.warning;
	}
	const CheckOutcome o = translate_check("(price > (0)::numeric)");
	EXPECT_EQ(o.warning, "CHECK constraint \"c\" was not translated: column \"price\" is numeric, which D1 stores as "
	                     "TEXT: SQLite would compare the text, not the numeric values ((price > (0)::numeric))");

	std::string deep = "(qty > 0)";
	for (int i = 0; i < 500; ++i)
		deep = "(" + deep + ")";
	EXPECT_TRUE(contains(translate_check(deep).warning, "nested too deeply"));
}

TEST(CheckConstraint, EnforcedBySqliteAndAcceptsWhatPostgresAccepts) {
	TableDef t = check_table_def();
	t.checks = {CheckDef{"qty_nonneg", "(qty >= 0)"},
	            CheckDef{"code_known", "((code)::text = ANY ((ARRAY['x'::character varying, 'y'::character "
	                                   "varying])::text[]))"},
	            CheckDef{"name_len", "(char_length(name) <= 3)"},
	            CheckDef{"ratio_pos", "(ratio > (0)::double precision)"},
	            CheckDef{"mood_ok", "(mood <> 'angry'::mood)"},
	            CheckDef{"price_pos", "(price > (0)::numeric)"}};
	const DdlResult r = translate_table(t);
	ASSERT_EQ(r.warnings.size(), 1u);
	EXPECT_TRUE(contains(r.warnings[0], "\"price_pos\"")) << r.warnings[0];
	EXPECT_TRUE(contains(r.statements[0], ", CONSTRAINT \"qty_nonneg\" CHECK ((\"qty\" >= 0))")) << r.statements[0];

	SqliteDb db;
	run_all(db, r);
	run_all(db, r);
	// What PostgreSQL accepts: NULLs pass every CHECK, ±Infinity and the 'NaN' text the encoder writes
	// for a float8 NaN compare like PostgreSQL's (NaN is above every number), multi-byte names count
	// characters, and the numeric column (not translated) takes any text.
	db.exec("INSERT INTO items (id) VALUES (1)");
	db.exec("INSERT INTO items (id, qty, code, name, ratio, mood, price) VALUES (2, 0, 'x', 'äöü', 9e999, 'happy', "
	        "'-1.50')");
	db.exec("INSERT INTO items (id, ratio) VALUES (3, 'NaN')");
	db.exec("INSERT INTO items (id, ratio) VALUES (4, 5e-324)");
	EXPECT_EQ(db.count("items"), 4);
	// What PostgreSQL refuses.
	for (const char *bad :
	     {"INSERT INTO items (id, qty) VALUES (10, -1)", "INSERT INTO items (id, code) VALUES (11, 'z')",
	      "INSERT INTO items (id, code) VALUES (12, 'X')", "INSERT INTO items (id, name) VALUES (13, 'abcd')",
	      "INSERT INTO items (id, ratio) VALUES (14, 0.0)", "INSERT INTO items (id, ratio) VALUES (15, -9e999)",
	      "INSERT INTO items (id, mood) VALUES (16, 'angry')", "UPDATE items SET qty = -5 WHERE id = 2"}) {
		try {
			db.exec(bad);
			ADD_FAILURE() << "accepted: " << bad;
		} catch (const std::runtime_error &e) {
			EXPECT_TRUE(contains(e.what(), "CHECK constraint failed")) << e.what();
		}
	}
	EXPECT_EQ(db.count("items"), 4);
}

// ---- FOREIGN KEY constraints ------------------------------------------------------------------

TableDef child_def() {
	TableDef t;
	t.name = "child";
	t.columns = {col("id", "int8", true),  col("a", "int4"),
	             col("b", "text"),         col("parent_id", "int8"),
	             col("amount", "numeric"), col("d", "int4", false, "nextval('d_seq'::regclass)")};
	t.primary_key = {"id"};
	return t;
}

TEST(ForeignKey, TranslatedWithActions) {
	TableDef t = child_def();
	t.foreign_keys = {ForeignKeyDef{"fk_ab", {"a", "b"}, "parent", {"x", "y"}, 'c', 'n'},
	                  ForeignKeyDef{"fk_p", {"parent_id"}, "other", {"id"}, 'a', 'a'},
	                  ForeignKeyDef{"fk_r", {"a"}, "third", {"id"}, 'r', 'd'}};
	const DdlResult r = translate_table(t); // all_tables_known false: every foreign key
	EXPECT_TRUE(contains(r.statements[0], ", CONSTRAINT \"fk_ab\" FOREIGN KEY (\"a\",\"b\") REFERENCES \"parent\" "
	                                      "(\"x\",\"y\") ON DELETE CASCADE ON UPDATE SET NULL, "))
	    << r.statements[0];
	EXPECT_TRUE(contains(r.statements[0], ", CONSTRAINT \"fk_p\" FOREIGN KEY (\"parent_id\") REFERENCES \"other\" "
	                                      "(\"id\"), "))
	    << r.statements[0];
	EXPECT_TRUE(contains(r.statements[0], ", CONSTRAINT \"fk_r\" FOREIGN KEY (\"a\") REFERENCES \"third\" (\"id\") "
	                                      "ON DELETE RESTRICT ON UPDATE SET DEFAULT)"))
	    << r.statements[0];
	ASSERT_EQ(r.warnings.size(), 1u);
	EXPECT_TRUE(contains(r.warnings[0], "column \"d\": default nextval")) << r.warnings[0];

	t.foreign_keys = {ForeignKeyDef{"fk_d", {"d"}, "parent", {"id"}, 'd', 'a'}};
	const DdlResult d = translate_table(t);
	EXPECT_TRUE(contains(d.statements[0], "ON DELETE SET DEFAULT)")) << d.statements[0];
	// the nextval default is reported once as a column default, once for the SET DEFAULT action
	ASSERT_EQ(d.warnings.size(), 2u);
	EXPECT_EQ(d.warnings[1], "foreign key \"fk_d\": ON DELETE SET DEFAULT sets column \"d\" to NULL in D1, its "
	                         "PostgreSQL default nextval('d_seq'::regclass) was not translated");
}

TEST(ForeignKey, UnsafeOnesAreReportedNotCreated) {
	TableDef t = child_def();
	t.foreign_keys = {ForeignKeyDef{"fk_self", {"parent_id"}, "child", {"id"}, 'c', 'a'},
	                  ForeignKeyDef{"fk_gone", {"parent_id"}, "elsewhere", {"id"}, 'a', 'a'},
	                  ForeignKeyDef{"fk_ok", {"parent_id"}, "parent", {"id"}, 'a', 'a'},
	                  ForeignKeyDef{"fk_num", {"amount"}, "parent", {"amount"}, 'a', 'a'},
	                  ForeignKeyDef{"fk_len", {"a", "b"}, "parent", {"x"}, 'a', 'a'},
	                  ForeignKeyDef{"fk_col", {"nope"}, "parent", {"x"}, 'a', 'a'},
	                  ForeignKeyDef{"fk_code", {"a"}, "parent", {"x"}, 'z', 'a'}};
	DdlOptions options;
	options.migrated_tables = {"parent", "child"};
	options.all_tables_known = true;
	const DdlResult r = translate_table(t, options);
	EXPECT_TRUE(contains(r.statements[0], "CONSTRAINT \"fk_ok\" FOREIGN KEY")) << r.statements[0];
	for (const char *name : {"fk_self", "fk_gone", "fk_num", "fk_len", "fk_col", "fk_code"})
		EXPECT_FALSE(contains(r.statements[0], name)) << name;
	// warning 0 is the nextval default of column d
	ASSERT_EQ(r.warnings.size(), 7u);
	EXPECT_EQ(r.warnings[1], "foreign key \"fk_self\" references its own table \"child\"; not created: D1 enforces "
	                         "foreign keys at once and rows are loaded in key order over many requests, so a row "
	                         "whose parent row comes later would be refused");
	EXPECT_EQ(r.warnings[2], "foreign key \"fk_gone\" references \"elsewhere\", which is not migrated; not created");
	EXPECT_EQ(r.warnings[3], "foreign key \"fk_num\" was not created: column \"amount\" is numeric, whose equal "
	                         "values can have different text in D1, so SQLite could refuse rows PostgreSQL accepted");
	EXPECT_TRUE(contains(r.warnings[4], "\"fk_len\" was not created: its column lists")) << r.warnings[4];
	EXPECT_TRUE(contains(r.warnings[5], "\"fk_col\" was not created: \"nope\" is not a column")) << r.warnings[5];
	EXPECT_TRUE(contains(r.warnings[6], "\"fk_code\" was not created: unknown referential action code 'z'"))
	    << r.warnings[6];

	// Not knowing the other tables, every foreign key to another table is created.
	t.foreign_keys = {ForeignKeyDef{"fk_gone", {"parent_id"}, "elsewhere", {"id"}, 'a', 'a'}};
	EXPECT_TRUE(contains(translate_table(t, DdlOptions{}).statements[0], "\"fk_gone\" FOREIGN KEY"));
}

TEST(TranslateTable, UntranslatableEntriesAreWarnedVerbatimAfterTheRest) {
	TableDef t = child_def();
	t.indexes = {IndexDef{"idx_a", {"a"}, false}, IndexDef{"expr", {}, false}};
	t.untranslatable = {"index \"idx_lower\" on an expression was not created", "exclusion constraint \"ex\" …"};
	const DdlResult r = translate_table(t);
	ASSERT_EQ(r.statements.size(), 2u);
	ASSERT_EQ(r.warnings.size(), 4u);
	EXPECT_TRUE(contains(r.warnings[0], "nextval"));
	EXPECT_TRUE(contains(r.warnings[1], "expr"));
	EXPECT_EQ(r.warnings[2], t.untranslatable[0]);
	EXPECT_EQ(r.warnings[3], t.untranslatable[1]);
}

// The whole DDL of a parent and a child (checks, foreign keys, indexes) in SQLite with foreign keys
// on, as D1 has them, run twice.
TEST(TranslateTable, ParentAndChildDdlEnforcedInSqlite) {
	TableDef parent;
	parent.name = "parent";
	parent.columns = {col("id", "int8", true), col("code", "varchar", true), col("label", "text")};
	parent.primary_key = {"id"};
	parent.indexes = {IndexDef{"parent_code_key", {"code"}, true}};
	parent.checks = {CheckDef{"code_not_empty", "(length((code)::text) > 0)"}};

	TableDef child;
	child.name = "order line";
	child.columns = {col("order_id", "int4", true), col("line", "int2", true),     col("parent_id", "int8"),
	                 col("parent_code", "varchar"), col("qty", "int4", true, "1"), col("price", "numeric"),
	                 col("prev_line", "int2")};
	child.primary_key = {"order_id", "line"};
	child.indexes = {IndexDef{"line_parent", {"parent_id"}, false}, IndexDef{"line_code", {"parent_code"}, false}};
	child.checks = {CheckDef{"qty_positive", "(qty > 0)"}, CheckDef{"price_positive", "(price > (0)::numeric)"}};
	child.foreign_keys = {ForeignKeyDef{"line_parent_fk", {"parent_id"}, "parent", {"id"}, 'c', 'a'},
	                      ForeignKeyDef{"line_code_fk", {"parent_code"}, "parent", {"code"}, 'n', 'c'},
	                      ForeignKeyDef{"line_prev_fk", {"order_id", "prev_line"}, "order line", {"order_id", "line"}}};
	DdlOptions options;
	options.migrated_tables = {"parent", "order line"};
	options.all_tables_known = true;

	const DdlResult p = translate_table(parent, options);
	const DdlResult c = translate_table(child, options);
	EXPECT_TRUE(p.warnings.empty());
	ASSERT_EQ(c.warnings.size(), 2u);
	EXPECT_TRUE(contains(c.warnings[0], "\"price_positive\" was not translated"));
	EXPECT_TRUE(contains(c.warnings[1], "\"line_prev_fk\" references its own table"));
	ASSERT_EQ(c.statements.size(), 3u);
	EXPECT_TRUE(c.statements[0].rfind("CREATE TABLE IF NOT EXISTS \"order line\" (", 0) == 0);
	EXPECT_TRUE(c.statements[1].rfind("CREATE INDEX IF NOT EXISTS \"line_parent\"", 0) == 0);

	SqliteDb db;
	db.exec("PRAGMA foreign_keys = ON");
	for (int pass = 0; pass < 2; ++pass) { // idempotent
		run_all(db, p);
		run_all(db, c);
	}
	db.exec("INSERT INTO parent VALUES (1, 'a', 'one'), (2, 'b', 'two')");
	db.exec("INSERT INTO \"order line\" (order_id, line, parent_id, parent_code, price) VALUES "
	        "(7, 1, 1, 'a', '0.00'), (7, 2, 2, 'b', NULL), (7, 3, NULL, NULL, '-3')");
	EXPECT_EQ(db.select("qty FROM \"order line\" WHERE line = 1").i, 1) << "the default";
	const auto refused = [&](const std::string &sql, const char *error) {
		try {
			db.exec(sql);
			ADD_FAILURE() << "accepted: " << sql;
		} catch (const std::runtime_error &e) {
			EXPECT_TRUE(contains(e.what(), error)) << e.what();
		}
	};
	refused("INSERT INTO \"order line\" (order_id, line, parent_id) VALUES (8, 1, 99)",
	        "FOREIGN KEY constraint failed");
	refused("INSERT INTO \"order line\" (order_id, line, parent_code) VALUES (8, 1, 'zz')",
	        "FOREIGN KEY constraint failed");
	refused("INSERT INTO \"order line\" (order_id, line, qty) VALUES (8, 1, 0)",
	        "CHECK constraint failed: qty_positive");
	refused("INSERT INTO parent VALUES (3, '', NULL)", "CHECK constraint failed: code_not_empty");
	refused("INSERT INTO parent VALUES (1, 'c', NULL)", "UNIQUE constraint failed");
	// A line whose previous line comes later is accepted: the self-reference was not created.
	db.exec("INSERT INTO \"order line\" (order_id, line, prev_line) VALUES (9, 1, 2)");

	// Re-sending a parent chunk (the loader's upsert) leaves the children alone.
	db.exec("INSERT INTO parent (id, code, label) VALUES (1, 'a', 'uno') ON CONFLICT (id) DO UPDATE SET "
	        "code = excluded.code, label = excluded.label");
	EXPECT_EQ(db.count("\"order line\" WHERE parent_code = 'a' AND parent_id = 1"), 1);
	// ON UPDATE CASCADE and ON DELETE CASCADE / SET NULL act as in PostgreSQL.
	db.exec("UPDATE parent SET code = 'bb' WHERE id = 2");
	EXPECT_EQ(db.count("\"order line\" WHERE parent_code = 'bb'"), 1);
	db.exec("DELETE FROM parent WHERE id = 1");
	EXPECT_EQ(db.count("\"order line\" WHERE order_id = 7"), 2) << "ON DELETE CASCADE";
}

// What callers must know: SQLite needs the referenced columns to be the parent's primary key or to
// have a UNIQUE index as soon as the child table exists, even to upsert into the parent.
TEST(ForeignKey, ReferencedUniqueIndexMustExistBeforeParentRowsAreWritten) {
	SqliteDb db;
	db.exec("PRAGMA foreign_keys = ON");
	db.exec("CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT NOT NULL)");
	db.exec("CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p (code))");
	const std::string upsert =
	    "INSERT INTO p (id, code) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET code = excluded.code";
	try {
		db.exec(upsert); // the loader's statement
		ADD_FAILURE() << "accepted";
	} catch (const std::runtime_error &e) {
		EXPECT_TRUE(contains(e.what(), "foreign key mismatch")) << e.what();
	}
	db.exec("CREATE UNIQUE INDEX p_code ON p (code)");
	db.exec(upsert);
	db.exec(upsert);
	EXPECT_EQ(db.count("p"), 1);
}

// ---- schema_differences -------------------------------------------------------------------------

std::vector<D1Column> table_info(SqliteDb &db, const std::string &table) {
	std::vector<D1Column> out;
	for (const auto &row : db.query("SELECT name, type, \"notnull\", pk FROM pragma_table_info('" + table + "')"))
		out.push_back(D1Column{row[0].bytes, row[1].bytes, row[2].i != 0, static_cast<int>(row[3].i)});
	return out;
}

TEST(SchemaDifferences, WhatTranslateTableCreatesIsCompatible) {
	TableDef rowid;
	rowid.name = "r";
	rowid.columns = {col("id", "int8", true), col("x", "float8"), col("t", "timestamptz", true), col("b", "bytea"),
	                 col("f", "bool")};
	rowid.primary_key = {"id"};
	TableDef composite;
	composite.name = "c";
	composite.columns = {col("a", "int4", true), col("B", "text", true), col("n", "numeric")};
	composite.primary_key = {"B", "a"};
	TableDef nokey;
	nokey.name = "k";
	nokey.columns = {col("a", "int4")};
	SqliteDb db;
	for (const TableDef *t : {&rowid, &composite, &nokey}) {
		run_all(db, translate_table(*t));
		EXPECT_EQ(schema_differences(*t, table_info(db, t->name)), std::vector<std::string>{}) << t->name;
	}
}

TEST(SchemaDifferences, ReportsEachDifference) {
	TableDef t;
	t.name = "t";
	t.columns = {col("a", "int4", true), col("b", "int4"),       col("speed", "float8"), col("x2", "float8"),
	             col("n", "numeric"),    col("m", "int4", true), col("u", "text")};
	t.primary_key = {"a", "b"};
	// b is NOT NULL in D1 and nullable in t.columns, but PostgreSQL's key columns are NOT NULL: not reported
	const std::vector<D1Column> d1 = {{"a", "INTEGER", true, 1}, {"b", "BIGINT", true, 0},  {"x2", "INTEGER", false, 0},
	                                  {"n", "NUMERIC", true, 0}, {"m", "int", false, 0},    {"u", "", false, 0},
	                                  {"x", "TEXT", false, 0},   {"B", "INTEGER", false, 0}};
	EXPECT_EQ(schema_differences(t, d1),
	          (std::vector<std::string>{"column \"speed\" is missing in D1",
	                                    "column \"x2\" is INTEGER in D1 but REAL from PostgreSQL type float8",
	                                    "column \"n\" is NUMERIC in D1 but TEXT from PostgreSQL type numeric",
	                                    "column \"n\" is NOT NULL in D1 but nullable in PostgreSQL",
	                                    "column \"u\" has no declared type in D1 but TEXT from PostgreSQL type text",
	                                    "column \"x\" exists in D1 but not in PostgreSQL",
	                                    "column \"B\" exists in D1 but not in PostgreSQL",
	                                    "primary key is (a) in D1 but (a, b) in PostgreSQL"}));

	TableDef k;
	k.name = "k";
	k.columns = {col("a", "int4", true), col("b", "text", true)};
	k.primary_key = {"a", "b"};
	EXPECT_TRUE(schema_differences(k, {{"a", "INTEGER", true, 2}, {"b", "TEXT", true, 1}}).empty())
	    << "the same key columns in another order";
	EXPECT_EQ(schema_differences(k, {{"a", "INTEGER", false, 0}, {"b", "TEXT", false, 0}}),
	          std::vector<std::string>{"primary key is none in D1 but (a, b) in PostgreSQL"});
	EXPECT_EQ(schema_differences(k, {}),
	          (std::vector<std::string>{"column \"a\" is missing in D1", "column \"b\" is missing in D1",
	                                    "primary key is none in D1 but (a, b) in PostgreSQL"}));
}

// ON CONFLICT (a, b) finds a primary key declared (b, a): the order difference is harmless.
TEST(SchemaDifferences, UpsertMatchesKeyInAnyOrder) {
	SqliteDb db;
	db.exec("CREATE TABLE k (a INTEGER NOT NULL, b TEXT NOT NULL, v TEXT, PRIMARY KEY (b, a))");
	for (int i = 0; i < 2; ++i)
		db.exec("INSERT INTO k (a, b, v) VALUES (1, 'x', 'v" + std::to_string(i) +
		        "') ON CONFLICT (a, b) DO UPDATE SET v = excluded.v");
	EXPECT_EQ(db.select("v FROM k").bytes, "v1");
}

// translate_check (check_translation.hpp) on its own: the SQL translate_table puts in CONSTRAINT … CHECK,
// or the reason it gives in the warning.
TEST(CheckTranslation, DirectApi) {
	TableDef t;
	t.name = "t";
	t.columns = {col("qty", "int4"), col("price", "numeric"), col("name", "text")};
	const CheckTranslation ok = translate_check(t, "((qty >= 0) AND (name <> ''::text))");
	ASSERT_TRUE(ok.sql.has_value());
	EXPECT_EQ(*ok.sql, "((\"qty\" >= 0) AND (\"name\" <> ''))");
	EXPECT_TRUE(ok.reason.empty());
	SqliteDb db;
	db.exec("CREATE TABLE t (qty INTEGER, price TEXT, name TEXT, CHECK (" + *ok.sql + "))");
	db.exec("INSERT INTO t VALUES (1, '2.5', 'a')");
	EXPECT_THROW(db.exec("INSERT INTO t VALUES (-1, '2.5', 'a')"), std::runtime_error);
	const CheckTranslation refused = translate_check(t, "(price > (0)::numeric)");
	EXPECT_FALSE(refused.sql.has_value());
	EXPECT_TRUE(contains(refused.reason, "column \"price\" is numeric")) << refused.reason;
	const CheckTranslation bad = translate_check(t, "(qty > ");
	EXPECT_FALSE(bad.sql.has_value());
	EXPECT_EQ(bad.reason, "unexpected end of the expression");
}

TEST(CheckpointTable, MatchesDesignAndRunsInSqlite) {
	const auto ddl = checkpoint_table_ddl();
	ASSERT_EQ(ddl.size(), 2u);
	EXPECT_EQ(ddl[0], "CREATE TABLE IF NOT EXISTS migration_checkpoints (\n"
	                  "  id INTEGER PRIMARY KEY AUTOINCREMENT, table_name TEXT NOT NULL,\n"
	                  "  start_id INTEGER NOT NULL, end_id INTEGER NOT NULL, records_processed INTEGER DEFAULT 0,\n"
	                  "  status TEXT CHECK(status IN ('pending','in_progress','completed','failed')),\n"
	                  "  error_message TEXT, started_at TEXT, completed_at TEXT,\n"
	                  "  created_at TEXT DEFAULT (datetime('now')))");
	EXPECT_EQ(ddl[1], "CREATE INDEX IF NOT EXISTS \"idx_migration_checkpoints_table\" ON migration_checkpoints "
	                  "(table_name, start_id)");
	SqliteDb db;
	for (int pass = 0; pass < 2; ++pass)
		for (const auto &s : ddl)
			db.exec(s);
	const auto cols = db.query("SELECT name FROM pragma_table_info('migration_checkpoints') ORDER BY cid");
	std::vector<std::string> names;
	for (const auto &c : cols)
		names.push_back(c[0].bytes);
	EXPECT_EQ(names, (std::vector<std::string>{"id", "table_name", "start_id", "end_id", "records_processed", "status",
	                                           "error_message", "started_at", "completed_at", "created_at"}));
	db.exec("INSERT INTO migration_checkpoints (table_name, start_id, end_id, status) VALUES ('t', 1, 50000, "
	        "'pending')");
	const auto row = db.query("SELECT records_processed, created_at IS NOT NULL FROM migration_checkpoints")[0];
	EXPECT_EQ(row[0].i, 0);
	EXPECT_EQ(row[1].i, 1);
	EXPECT_THROW(db.exec("INSERT INTO migration_checkpoints (table_name, start_id, end_id, status) VALUES ('t', 1, 2, "
	                     "'bogus')"),
	             std::runtime_error);
}

} // namespace
} // namespace pg2d1
