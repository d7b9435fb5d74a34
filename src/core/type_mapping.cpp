// type_mapping.cpp — how PostgreSQL values are written to D1: value kinds, SQLite column types and
// the translation of column defaults (type_mapping.hpp).
// Must never map a type or a default to one that changes values silently: what it cannot translate exactly is nullopt.
// Called by ddl.cpp, check_translation.cpp, schema_compare.cpp and the row encoder (src/pg/rows.cpp).
#include "type_mapping.hpp"

#include "ddl_text.hpp"
#include "sqlite_encode.hpp"

#include <unordered_set>

namespace pg2d1 {

using namespace ddl_detail;

namespace {

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

} // namespace pg2d1
