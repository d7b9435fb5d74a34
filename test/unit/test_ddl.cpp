// test_ddl.cpp — type mapping, default translation and CREATE TABLE/INDEX, all executed in SQLite.
// Must never accept DDL that only looks right: SQLite runs it.
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
