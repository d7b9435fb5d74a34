// ddl.cpp — CREATE TABLE / CREATE INDEX translation: columns, primary key, defaults, CHECK and FOREIGN KEY
// constraints, secondary indexes (ddl.hpp).
// Must never create a constraint, default or index that refuses rows or changes values silently: what it cannot
// translate exactly is a warning.
// Called by pg2d1_setup_schema / pg2d1_ddl (src/pg/functions.cpp) and the migration worker (src/pg/migrate.cpp).
#include "ddl.hpp"

#include "ddl_text.hpp"
#include "error.hpp"
#include "sqlite_encode.hpp"

#include <algorithm>
#include <tuple>
#include <unordered_set>

namespace pg2d1 {

using namespace ddl_detail;

namespace {

constexpr size_t kD1MaxColumns = 100;

std::string default_warning(const ColumnDef &c) {
	std::string w = "column " + quote_ident(c.name) + ": default " + *c.pg_default + " was not translated";
	if (lower(*c.pg_default).find("nextval(") != std::string::npos)
		return w + " (sequences do not exist in D1; the migrated ids are kept, new rows need explicit ids or "
		           "SQLite's rowid)";
	return w + " (no SQLite equivalent); the D1 column has no default";
}

bool is_rowid_alias(const TableDef &t, const ColumnDef &c) {
	return t.primary_key.size() == 1 && t.primary_key[0] == c.name &&
	       value_kind_for(c.typname, c.typcategory) == ValueKind::Integer;
}

void append_column(std::string &sql, const TableDef &t, const ColumnDef &c, DdlResult &result) {
	const ValueKind kind = value_kind_for(c.typname, c.typcategory);
	append_quoted_ident(sql, c.name);
	sql.push_back(' ');
	sql.append(sqlite_type_for(kind));
	if (is_rowid_alias(t, c)) {
		sql.append(" PRIMARY KEY"); // the rowid alias: fastest lookups and inserts
		return;
	}
	const bool in_key = std::find(t.primary_key.begin(), t.primary_key.end(), c.name) != t.primary_key.end();
	if (c.not_null || in_key)
		sql.append(" NOT NULL");
	if (!c.pg_default)
		return;
	const auto translated = translate_default(*c.pg_default, kind);
	if (translated) {
		sql.append(" DEFAULT ");
		sql.append(*translated);
	} else {
		result.warnings.push_back(default_warning(c));
	}
}

void append_ident_list(std::string &sql, const std::vector<std::string> &names) {
	sql.push_back('(');
	for (size_t i = 0; i < names.size(); ++i) {
		if (i > 0)
			sql.push_back(',');
		append_quoted_ident(sql, names[i]);
	}
	sql.push_back(')');
}

// ---- FOREIGN KEY constraints ---------------------------------------------------------------

const char *fk_action(char code) {
	switch (code) {
	case 'a':
		return "";
	case 'r':
		return "RESTRICT";
	case 'c':
		return "CASCADE";
	case 'n':
		return "SET NULL";
	case 'd':
		return "SET DEFAULT";
	default:
		return nullptr;
	}
}

// Whether equal PostgreSQL values of this column's type always have equal D1 values, so that
// SQLite's equality on the parent key accepts every row PostgreSQL accepted.
bool fk_safe_column(const ColumnDef &c) {
	switch (value_kind_for(c.typname, c.typcategory)) {
	case ValueKind::Integer:
	case ValueKind::Boolean:
	case ValueKind::Blob:
		return true;
	case ValueKind::Real:
		return c.typname == "float8";
	case ValueKind::Text: {
		static const std::unordered_set<std::string> kSafe = {"text",      "varchar",     "uuid", "date",
		                                                      "timestamp", "timestamptz", "time", "name"};
		return c.typcategory == 'E' || (c.typcategory != 'A' && kSafe.count(c.typname) != 0);
	}
	}
	return false;
}
// The FOREIGN KEY clause, or nullopt with a warning saying why not.
std::optional<std::string> foreign_key_sql(const TableDef &t, const ForeignKeyDef &fk, const DdlOptions &options,
                                           DdlResult &result) {
	const std::string head = "foreign key " + quote_ident(fk.name);
	if (fk.ref_table == t.name) {
		result.warnings.push_back(
		    head + " references its own table " + quote_ident(t.name) +
		    "; not created: D1 enforces foreign keys at once and rows are loaded in key order over many "
		    "requests, so a row whose parent row comes later would be refused");
		return std::nullopt;
	}
	if (options.all_tables_known && std::find(options.migrated_tables.begin(), options.migrated_tables.end(),
	                                          fk.ref_table) == options.migrated_tables.end()) {
		result.warnings.push_back(head + " references " + quote_ident(fk.ref_table) +
		                          ", which is not migrated; not created");
		return std::nullopt;
	}
	if (fk.columns.empty() || fk.columns.size() != fk.ref_columns.size()) {
		result.warnings.push_back(head + " was not created: its column lists are empty or of different lengths");
		return std::nullopt;
	}
	for (const auto &name : fk.columns) {
		const ColumnDef *c = find_column(t, name);
		if (c == nullptr) {
			result.warnings.push_back(head + " was not created: " + quote_ident(name) + " is not a column of " +
			                          quote_ident(t.name));
			return std::nullopt;
		}
		if (!fk_safe_column(*c)) {
			result.warnings.push_back(head + " was not created: column " + quote_ident(name) + " is " + c->typname +
			                          ", whose equal values can have different text in D1, so SQLite could refuse "
			                          "rows PostgreSQL accepted");
			return std::nullopt;
		}
	}
	const char *on_delete = fk_action(fk.on_delete);
	const char *on_update = fk_action(fk.on_update);
	if (on_delete == nullptr || on_update == nullptr) {
		result.warnings.push_back(head + " was not created: unknown referential action code '" +
		                          std::string(1, on_delete == nullptr ? fk.on_delete : fk.on_update) + "'");
		return std::nullopt;
	}
	std::string sql = "CONSTRAINT ";
	append_quoted_ident(sql, fk.name);
	sql.append(" FOREIGN KEY ");
	append_ident_list(sql, fk.columns);
	sql.append(" REFERENCES ");
	append_quoted_ident(sql, fk.ref_table);
	sql.push_back(' ');
	append_ident_list(sql, fk.ref_columns);
	for (const auto &[what, action, code] :
	     {std::tuple{"ON DELETE", on_delete, fk.on_delete}, std::tuple{"ON UPDATE", on_update, fk.on_update}}) {
		if (*action == '\0')
			continue;
		sql.append(" ").append(what).append(" ").append(action);
		if (code != 'd')
			continue;
		for (const auto &name : fk.columns) {
			const ColumnDef *c = find_column(t, name);
			if (c->pg_default && !translate_default(*c->pg_default, value_kind_for(c->typname, c->typcategory)))
				result.warnings.push_back(head + ": " + what + " SET DEFAULT sets column " + quote_ident(name) +
				                          " to NULL in D1, its PostgreSQL default " + *c->pg_default +
				                          " was not translated");
		}
	}
	return sql;
}

void check_table(const TableDef &t) {
	if (t.columns.empty())
		throw Error(sqlstate::kInvalidParameter, "table " + quote_ident(t.name) + " has no columns to translate");
	std::unordered_set<std::string> names;
	for (const auto &c : t.columns)
		names.insert(c.name);
	for (const auto &k : t.primary_key) {
		if (names.count(k) == 0)
			throw Error(sqlstate::kInvalidParameter,
			            "primary key column " + quote_ident(k) + " is not a column of " + quote_ident(t.name));
	}
}

std::string create_table_sql(const TableDef &t, const DdlOptions &options, DdlResult &result) {
	std::string sql = "CREATE TABLE IF NOT EXISTS ";
	append_quoted_ident(sql, t.name);
	sql.append(" (");
	bool inline_key = false;
	for (size_t i = 0; i < t.columns.size(); ++i) {
		if (i > 0)
			sql.append(", ");
		append_column(sql, t, t.columns[i], result);
		inline_key = inline_key || is_rowid_alias(t, t.columns[i]);
	}
	if (!t.primary_key.empty() && !inline_key) {
		sql.append(", PRIMARY KEY ");
		append_ident_list(sql, t.primary_key);
	}
	for (const auto &check : t.checks) {
		const CheckTranslation check_sql = translate_check(t, check.pg_expr);
		if (check_sql.sql) {
			sql.append(", CONSTRAINT ");
			append_quoted_ident(sql, check.name);
			sql.append(" CHECK (").append(*check_sql.sql).push_back(')');
		} else {
			result.warnings.push_back("CHECK constraint " + quote_ident(check.name) +
			                          " was not translated: " + check_sql.reason + " (" + check.pg_expr + ")");
		}
	}
	for (const auto &fk : t.foreign_keys) {
		if (auto clause = foreign_key_sql(t, fk, options, result))
			sql.append(", ").append(*clause);
	}
	sql.push_back(')');
	return sql;
}

std::optional<std::string> create_index_sql(const TableDef &t, const IndexDef &idx, DdlResult &result) {
	const bool known = std::all_of(idx.columns.begin(), idx.columns.end(), [&](const std::string &col) {
		return std::any_of(t.columns.begin(), t.columns.end(), [&](const ColumnDef &c) { return c.name == col; });
	});
	if (idx.columns.empty() || !known) {
		result.warnings.push_back("index " + quote_ident(idx.name) +
		                          " was not created: only indexes on plain columns of the table are translated");
		return std::nullopt;
	}
	std::string sql = idx.unique ? "CREATE UNIQUE INDEX IF NOT EXISTS " : "CREATE INDEX IF NOT EXISTS ";
	append_quoted_ident(sql, idx.name);
	sql.append(" ON ");
	append_quoted_ident(sql, t.name);
	sql.push_back(' ');
	append_ident_list(sql, idx.columns);
	return sql;
}

} // namespace

DdlResult translate_table(const TableDef &table) {
	return translate_table(table, DdlOptions{});
}

DdlResult translate_table(const TableDef &table, const DdlOptions &options) {
	check_table(table);
	DdlResult result;
	if (table.columns.size() > kD1MaxColumns)
		result.warnings.push_back("table " + quote_ident(table.name) + " has " + std::to_string(table.columns.size()) +
		                          " columns; D1 allows at most " + std::to_string(kD1MaxColumns));
	if (table.primary_key.empty())
		result.warnings.push_back("table " + quote_ident(table.name) +
		                          " has no primary key; pg2d1 needs one to write idempotent upserts");
	result.statements.push_back(create_table_sql(table, options, result));
	for (const auto &idx : table.indexes) {
		if (auto sql = create_index_sql(table, idx, result))
			result.statements.push_back(std::move(*sql));
	}
	result.warnings.insert(result.warnings.end(), table.untranslatable.begin(), table.untranslatable.end());
	return result;
}

} // namespace pg2d1
