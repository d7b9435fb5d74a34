// ddl.cpp — PostgreSQL → SQLite type mapping, default/table/index translation, checkpoint table DDL.
// Must never pick a type or default that changes values silently: what it cannot translate is a warning.
// Called by pg2d1_setup_schema / pg2d1_ddl (src/pg/*) and by the row encoder (value kinds).
#include "ddl.hpp"

#include "error.hpp"
#include "sqlite_encode.hpp"

#include <algorithm>
#include <unordered_set>

namespace pg2d1 {

namespace {

constexpr size_t kD1MaxColumns = 100;

std::string lower(std::string_view s) {
	std::string out(s);
	for (auto &c : out)
		c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; // ASCII only, whatever the locale
	return out;
}

std::string_view trim(std::string_view s) {
	const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
	while (!s.empty() && space(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && space(s.back()))
		s.remove_suffix(1);
	return s;
}

// Removes parentheses that enclose the whole expression: "((-1))" -> "-1".
std::string_view strip_parens(std::string_view s) {
	s = trim(s);
	while (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
		int depth = 0;
		bool encloses = true;
		for (size_t i = 0; i + 1 < s.size(); ++i) {
			depth += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
			if (depth == 0) {
				encloses = false;
				break;
			}
		}
		if (!encloses)
			break;
		s = trim(s.substr(1, s.size() - 2));
	}
	return s;
}

// A plain decimal number: -12, 3.25, 1e10 (no hex, no NaN/Infinity).
bool is_number(std::string_view s, bool allow_fraction) {
	size_t i = 0;
	if (i < s.size() && (s[i] == '-' || s[i] == '+'))
		++i;
	size_t digits = 0;
	bool seen_point = false, seen_exp = false;
	for (; i < s.size(); ++i) {
		const char c = s[i];
		if (c >= '0' && c <= '9') {
			++digits;
		} else if (c == '.' && allow_fraction && !seen_point && !seen_exp) {
			seen_point = true;
		} else if ((c == 'e' || c == 'E') && allow_fraction && digits > 0 && !seen_exp) {
			seen_exp = true;
			if (i + 1 < s.size() && (s[i + 1] == '-' || s[i + 1] == '+'))
				++i;
			digits = 0;
		} else {
			return false;
		}
	}
	return digits > 0;
}

// A quoted SQL string '…' ('' for a quote), optionally followed by ::type. Returns the
// unquoted text and the cast type name ("" when none).
bool parse_string_literal(std::string_view s, std::string &text, std::string &cast) {
	if (s.empty() || s.front() != '\'')
		return false;
	size_t i = 1;
	text.clear();
	for (;; ++i) {
		if (i >= s.size())
			return false;
		if (s[i] != '\'') {
			text.push_back(s[i]);
			continue;
		}
		if (i + 1 < s.size() && s[i + 1] == '\'') {
			text.push_back('\'');
			++i;
			continue;
		}
		break;
	}
	std::string_view rest = trim(s.substr(i + 1));
	if (rest.empty()) {
		cast.clear();
		return true;
	}
	if (rest.substr(0, 2) != "::")
		return false;
	rest = trim(rest.substr(2));
	const size_t paren = rest.find('(');
	cast = lower(trim(rest.substr(0, paren))); // drop a typmod: character varying(20)
	return !cast.empty();
}

// Strips a trailing ::type from a non-string expression: "0::numeric" -> "0".
std::string_view strip_cast(std::string_view s, std::string &cast) {
	const size_t at = s.rfind("::");
	if (at == std::string_view::npos || s.find('\'') != std::string_view::npos) {
		cast.clear();
		return s;
	}
	cast = lower(trim(s.substr(at + 2)));
	return strip_parens(s.substr(0, at));
}

bool is_text_cast(const std::string &cast) {
	static const std::unordered_set<std::string> kText = {
	    "", "text", "character varying", "varchar", "character", "bpchar", "char", "name"};
	return kText.count(cast) != 0;
}

std::optional<std::string> number_default(std::string_view num, ValueKind kind) {
	std::string out;
	if (kind == ValueKind::Integer && is_number(num, false)) {
		out.assign(num.front() == '+' ? num.substr(1) : num);
		return out;
	}
	if (kind == ValueKind::Real && is_number(num, true)) {
		out.assign(num.front() == '+' ? num.substr(1) : num);
		if (out.find_first_of(".eE") == std::string::npos)
			out.append(".0");
		return out;
	}
	if (kind == ValueKind::Text && is_number(num, true) && num.find_first_of("eE") == std::string_view::npos) {
		// numeric is migrated as its text output, which for a plain decimal is the same text
		append_text_literal(out, num.front() == '+' ? num.substr(1) : num);
		return out;
	}
	return std::nullopt;
}

std::optional<std::string> string_default(const std::string &text, const std::string &cast, ValueKind kind) {
	std::string out;
	switch (kind) {
	case ValueKind::Text:
		if (!is_text_cast(cast) || !is_valid_utf8(text))
			return std::nullopt;
		append_text_literal(out, text);
		return out;
	case ValueKind::Integer:
	case ValueKind::Real:
		return number_default(trim(text), kind);
	case ValueKind::Boolean: {
		const std::string t = lower(trim(text));
		if (t == "true" || t == "t" || t == "yes" || t == "on" || t == "1")
			return std::string("1");
		if (t == "false" || t == "f" || t == "no" || t == "off" || t == "0")
			return std::string("0");
		return std::nullopt;
	}
	case ValueKind::Blob: {
		if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
			return std::nullopt;
		out = "X'";
		for (size_t i = 2; i < text.size(); ++i) {
			const char c = text[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
				return std::nullopt;
			out.push_back(c >= 'a' ? static_cast<char>(c - 'a' + 'A') : c);
		}
		out.push_back('\'');
		return out;
	}
	}
	return std::nullopt;
}

std::optional<std::string> keyword_default(const std::string &expr, ValueKind kind) {
	if (expr == "null")
		return std::string("NULL");
	if (kind == ValueKind::Boolean && (expr == "true" || expr == "false"))
		return std::string(expr == "true" ? "1" : "0");
	if (kind != ValueKind::Text)
		return std::nullopt;
	if (expr == "now()" || expr == "current_timestamp" || expr == "transaction_timestamp()")
		return std::string("CURRENT_TIMESTAMP");
	if (expr == "current_date")
		return std::string("CURRENT_DATE");
	return std::nullopt;
}

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

std::string create_table_sql(const TableDef &t, DdlResult &result) {
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

ValueKind value_kind_for(std::string_view typname, char typcategory) {
	if (typcategory == 'A' || typcategory == 'E')
		return ValueKind::Text;
	if (typname == "int2" || typname == "int4" || typname == "int8" || typname == "oid")
		return ValueKind::Integer;
	if (typname == "bool")
		return ValueKind::Boolean;
	if (typname == "float4" || typname == "float8")
		return ValueKind::Real;
	if (typname == "bytea")
		return ValueKind::Blob;
	return ValueKind::Text;
}

const char *sqlite_type_for(ValueKind kind) {
	switch (kind) {
	case ValueKind::Integer:
	case ValueKind::Boolean:
		return "INTEGER";
	case ValueKind::Real:
		return "REAL";
	case ValueKind::Blob:
		return "BLOB";
	case ValueKind::Text:
		return "TEXT";
	}
	return "TEXT";
}

std::optional<std::string> translate_default(std::string_view pg_expr, ValueKind kind) {
	const std::string_view expr = strip_parens(pg_expr);
	if (expr.empty())
		return std::nullopt;
	std::string text, cast;
	if (expr.front() == '\'') {
		if (!parse_string_literal(expr, text, cast))
			return std::nullopt;
		return string_default(text, cast, kind);
	}
	const std::string_view bare = strip_cast(expr, cast);
	if (is_number(bare, true))
		return number_default(bare, kind);
	return keyword_default(lower(bare), kind);
}

DdlResult translate_table(const TableDef &table) {
	check_table(table);
	DdlResult result;
	if (table.columns.size() > kD1MaxColumns)
		result.warnings.push_back("table " + quote_ident(table.name) + " has " + std::to_string(table.columns.size()) +
		                          " columns; D1 allows at most " + std::to_string(kD1MaxColumns));
	if (table.primary_key.empty())
		result.warnings.push_back("table " + quote_ident(table.name) +
		                          " has no primary key; pg2d1 needs one to write idempotent upserts");
	result.statements.push_back(create_table_sql(table, result));
	for (const auto &idx : table.indexes) {
		if (auto sql = create_index_sql(table, idx, result))
			result.statements.push_back(std::move(*sql));
	}
	return result;
}

std::vector<std::string> checkpoint_table_ddl() {
	return {
	    "CREATE TABLE IF NOT EXISTS migration_checkpoints (\n"
	    "  id INTEGER PRIMARY KEY AUTOINCREMENT, table_name TEXT NOT NULL,\n"
	    "  start_id INTEGER NOT NULL, end_id INTEGER NOT NULL, records_processed INTEGER DEFAULT 0,\n"
	    "  status TEXT CHECK(status IN ('pending','in_progress','completed','failed')),\n"
	    "  error_message TEXT, started_at TEXT, completed_at TEXT,\n"
	    "  created_at TEXT DEFAULT (datetime('now')))",
	    "CREATE INDEX IF NOT EXISTS \"idx_migration_checkpoints_table\" ON migration_checkpoints (table_name, "
	    "start_id)",
	};
}

} // namespace pg2d1
