// ddl.cpp — PostgreSQL → SQLite type mapping, default/table/index/CHECK/FOREIGN KEY translation,
// D1 schema comparison, checkpoint table DDL.
// Must never pick a type, default or constraint that changes values or refuses rows silently:
// what it cannot translate exactly is a warning.
// Called by pg2d1_setup_schema / pg2d1_ddl (src/pg/*) and by the row encoder (value kinds).
#include "ddl.hpp"

#include "error.hpp"
#include "sqlite_encode.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <tuple>
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

// ---- CHECK constraints -------------------------------------------------------------------
// A recursive-descent translator over a whitelisted subset of PostgreSQL's deparsed expression
// syntax. Every construct is admitted only where SQLite gives it the PostgreSQL meaning for the
// values D1 holds (see value_kind_for and the row encoder); anything else throws Refused, whose
// reason ends up in the warning.

struct Refused {
	std::string reason;
};

[[noreturn]] void refuse(std::string reason) {
	throw Refused{std::move(reason)};
}

enum class Tok { Ident, QIdent, Number, String, Op, LParen, RParen, LBracket, RBracket, Comma, Dot, End };

struct Token {
	Tok type;
	std::string text; // Ident: lower-cased; QIdent/String: unquoted; Op/Number: as written
};

bool ident_start(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

bool ident_char(char c) {
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

bool digit(char c) {
	return c >= '0' && c <= '9';
}

// Reads a '…' or "…" token whose quote is doubled inside; i is at the opening quote.
std::string read_quoted(std::string_view s, size_t &i, char quote) {
	std::string out;
	for (++i;; ++i) {
		if (i >= s.size())
			refuse("unterminated quoted text");
		if (s[i] != quote) {
			out.push_back(s[i]);
		} else if (i + 1 < s.size() && s[i + 1] == quote) {
			out.push_back(quote);
			++i;
		} else {
			++i;
			return out;
		}
	}
}

std::vector<Token> tokenize(std::string_view s) {
	static const std::string_view kOpChars = "+-*/<>=~!@#%^&|`?";
	std::vector<Token> out;
	size_t i = 0;
	while (i < s.size()) {
		const char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			++i;
		} else if (ident_start(c)) {
			const size_t start = i;
			while (i < s.size() && ident_char(s[i]))
				++i;
			if (i < s.size() && s[i] == '\'')
				refuse("prefixed string constant " + std::string(s.substr(start, i - start)) + "'…' is not translated");
			out.push_back({Tok::Ident, lower(s.substr(start, i - start))});
		} else if (c == '"') {
			std::string name = read_quoted(s, i, '"');
			out.push_back({Tok::QIdent, std::move(name)});
		} else if (c == '\'') {
			std::string text = read_quoted(s, i, '\'');
			out.push_back({Tok::String, std::move(text)});
		} else if (digit(c) || (c == '.' && i + 1 < s.size() && digit(s[i + 1]))) {
			const size_t start = i;
			while (i < s.size() && digit(s[i]))
				++i;
			if (i < s.size() && s[i] == '.') {
				++i;
				while (i < s.size() && digit(s[i]))
					++i;
			}
			if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
				++i;
				if (i < s.size() && (s[i] == '+' || s[i] == '-'))
					++i;
				if (i >= s.size() || !digit(s[i]))
					refuse("malformed number");
				while (i < s.size() && digit(s[i]))
					++i;
			}
			if (i < s.size() && (ident_char(s[i]) || s[i] == '.'))
				refuse("malformed number");
			out.push_back({Tok::Number, std::string(s.substr(start, i - start))});
		} else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
			out.push_back({Tok::Op, "::"});
			i += 2;
		} else if (kOpChars.find(c) != std::string_view::npos) {
			const size_t start = i;
			while (i < s.size() && kOpChars.find(s[i]) != std::string_view::npos)
				++i;
			const std::string op(s.substr(start, i - start));
			if (op.find("--") != std::string::npos || op.find("/*") != std::string::npos)
				refuse("comments are not translated");
			out.push_back({Tok::Op, op});
		} else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '.') {
			out.push_back({c == '('   ? Tok::LParen
			               : c == ')' ? Tok::RParen
			               : c == '[' ? Tok::LBracket
			               : c == ']' ? Tok::RBracket
			               : c == ',' ? Tok::Comma
			                          : Tok::Dot,
			               std::string(1, c)});
			++i;
		} else {
			refuse(std::string("unexpected character '") + c + "'");
		}
	}
	out.push_back({Tok::End, ""});
	return out;
}

// What a (sub)expression is, as far as translation safety goes.
enum class Cls {
	Int,     // exact integer: integer columns, integer constants, length()
	Real,    // float8: float8 columns, double precision constants
	Numeric, // PostgreSQL numeric: decimal constants, ::numeric casts
	Text,    // text whose D1 value is exactly the PostgreSQL value (text, varchar, enum labels, text constants)
	Bool,    // boolean columns and every predicate
	Opaque,  // a column D1 holds differently from how PostgreSQL compares it: only IS [NOT] NULL
	Array,   // ARRAY[…] of constants, only as the right side of = ANY / <> ALL
};

struct Val {
	std::string sql;
	Cls cls = Cls::Bool;
	const ColumnDef *column = nullptr; // a bare column reference (parentheses allowed)
	bool constant = false;             // a constant, possibly cast: `text` holds its value
	std::string text;                  // constant value: digits of a number, or the unquoted string
	std::string why;                   // Opaque: why; float8 columns: why arithmetic is refused
	std::vector<Val> elems;            // Array elements
};

struct TypeName {
	std::string name;             // normalized: int2 int4 int8 numeric float4 float8 text varchar bool, else as written
	bool qualified_other = false; // schema-qualified with a schema other than pg_catalog
	bool typmod = false;
	bool array = false;
	std::string shown; // for messages
};

std::string cls_name(Cls c) {
	switch (c) {
	case Cls::Int:
		return "an integer";
	case Cls::Real:
		return "a float8";
	case Cls::Numeric:
		return "a numeric";
	case Cls::Text:
		return "a text";
	case Cls::Bool:
		return "a boolean";
	case Cls::Opaque:
		return "an untranslatable";
	case Cls::Array:
		return "an array";
	}
	return "an unknown";
}

bool is_number_cls(Cls c) {
	return c == Cls::Int || c == Cls::Real || c == Cls::Numeric;
}

size_t significant_digits(std::string_view num) {
	size_t first = std::string_view::npos, count = 0, pending_zeros = 0;
	for (size_t i = 0; i < num.size(); ++i) {
		const char c = num[i];
		if (c == 'e' || c == 'E')
			break;
		if (!digit(c))
			continue;
		if (first == std::string_view::npos && c == '0')
			continue; // leading zeros
		first = i;
		if (c == '0') {
			++pending_zeros; // trailing zeros are not significant unless a digit follows
		} else {
			count += pending_zeros + 1;
			pending_zeros = 0;
		}
	}
	return count;
}

class CheckTranslator {
  public:
	explicit CheckTranslator(const TableDef &t) : table_(t) {}

	std::string translate(std::string_view pg_expr) {
		toks_ = tokenize(pg_expr);
		pos_ = 0;
		Val v = parse_or();
		if (peek().type != Tok::End)
			unexpected();
		if (v.cls == Cls::Opaque)
			refuse(v.why);
		if (v.cls != Cls::Bool)
			refuse("the expression is not a boolean predicate");
		return v.sql;
	}

  private:
	const Token &peek(size_t ahead = 0) const {
		return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
	}
	Token next() {
		Token t = peek();
		if (pos_ < toks_.size() - 1)
			++pos_;
		return t;
	}
	bool is_kw(const char *kw, size_t ahead = 0) const {
		return peek(ahead).type == Tok::Ident && peek(ahead).text == kw;
	}
	bool is_op(const char *op) const {
		return peek().type == Tok::Op && peek().text == op;
	}
	void expect(Tok type) {
		if (peek().type != type)
			unexpected();
		next();
	}
	[[noreturn]] void unexpected() const {
		const Token &t = peek();
		if (t.type == Tok::Op) {
			if (t.text == "~~" || t.text == "~~*" || t.text == "!~~" || t.text == "!~~*")
				refuse("LIKE (" + t.text +
				       ") is not translated: SQLite's LIKE ignores ASCII case, PostgreSQL's does not");
			refuse("operator " + t.text + " is not translated");
		}
		if (t.type == Tok::End)
			refuse("unexpected end of the expression");
		if (t.type == Tok::Ident && (t.text == "like" || t.text == "ilike" || t.text == "similar"))
			refuse(lower(t.text) + " is not translated: SQLite's LIKE ignores ASCII case, PostgreSQL's does not");
		refuse("unsupported syntax near " + (t.type == Tok::String ? "'" + t.text + "'" : t.text));
	}
	struct Depth {
		explicit Depth(int &d) : d_(d) {
			if (++d_ > 200)
				refuse("the expression is nested too deeply");
		}
		~Depth() {
			--d_;
		}
		int &d_;
	};

	static void require_value(const Val &v) {
		if (v.cls == Cls::Opaque)
			refuse(v.why);
		if (v.cls == Cls::Array)
			refuse("an array is only translated as the right side of = ANY or <> ALL");
	}

	// Predicates: AND, OR, NOT.
	Val parse_or() {
		Depth d(depth_);
		Val l = parse_and();
		while (is_kw("or")) {
			next();
			l = logic(l, "OR", parse_and());
		}
		return l;
	}
	Val parse_and() {
		Val l = parse_not();
		while (is_kw("and")) {
			next();
			l = logic(l, "AND", parse_not());
		}
		return l;
	}
	Val parse_not() {
		if (is_kw("not")) {
			Depth d(depth_);
			next();
			Val v = parse_not();
			require_bool(v);
			return plain("(NOT " + v.sql + ")", Cls::Bool);
		}
		return parse_is();
	}
	static void require_bool(const Val &v) {
		require_value(v);
		if (v.cls != Cls::Bool)
			refuse("AND / OR / NOT on " + cls_name(v.cls) + " value");
	}
	static Val logic(const Val &l, const char *op, const Val &r) {
		require_bool(l);
		require_bool(r);
		return plain("(" + l.sql + " " + op + " " + r.sql + ")", Cls::Bool);
	}
	static Val plain(std::string sql, Cls cls) {
		Val v;
		v.sql = std::move(sql);
		v.cls = cls;
		return v;
	}

	// x IS [NOT] NULL: the one test allowed on every value, whatever D1 holds.
	Val parse_is() {
		Val v = parse_comparison();
		while (is_kw("is")) {
			next();
			const bool negated = is_kw("not");
			if (negated)
				next();
			if (!is_kw("null"))
				refuse("IS " + std::string(negated ? "NOT " : "") + peek().text + " is not translated");
			next();
			if (v.cls == Cls::Array)
				refuse("IS NULL on an array is not translated");
			v = plain("(" + v.sql + (negated ? " IS NOT NULL)" : " IS NULL)"), Cls::Bool);
		}
		return v;
	}

	static bool is_comparison(const Token &t) {
		return t.type == Tok::Op && (t.text == "=" || t.text == "<>" || t.text == "!=" || t.text == "<" ||
		                             t.text == "<=" || t.text == ">" || t.text == ">=");
	}

	Val parse_comparison() {
		Val l = parse_between();
		if (!is_comparison(peek()))
			return l;
		std::string op = next().text;
		if (op == "!=")
			op = "<>";
		Val r;
		if (is_kw("any") || is_kw("some") || is_kw("all")) {
			const bool all = is_kw("all");
			next();
			expect(Tok::LParen);
			Val arr = parse_or();
			expect(Tok::RParen);
			if (!((op == "=" && !all) || (op == "<>" && all)))
				refuse(op + (all ? " ALL" : " ANY") + " is not translated (only = ANY and <> ALL)");
			r = in_list(l, arr.cls == Cls::Array ? arr.elems : std::vector<Val>{}, arr.cls == Cls::Array, all);
		} else {
			r = compare(l, op, parse_between());
		}
		if (is_comparison(peek()))
			refuse("chained comparisons are not translated");
		return r;
	}

	// l IN (…) / l NOT IN (…).
	static Val in_list(const Val &l, const std::vector<Val> &items, bool is_array, bool negated) {
		require_value(l);
		if (!is_array)
			refuse("= ANY / <> ALL is translated only with an ARRAY[…] of constants");
		if (items.empty())
			refuse("empty IN list");
		std::string sql = "(" + l.sql + (negated ? " NOT IN (" : " IN (");
		for (size_t i = 0; i < items.size(); ++i) {
			check_comparable(l, "=", items[i]);
			if (i > 0)
				sql.append(", ");
			sql.append(items[i].sql);
		}
		sql.append("))");
		return plain(std::move(sql), Cls::Bool);
	}

	// Throws unless `l op r` means in SQLite, on D1's values, what it means in PostgreSQL.
	static void check_comparable(const Val &l, const std::string &op, const Val &r) {
		require_value(l);
		require_value(r);
		if (is_number_cls(l.cls) && is_number_cls(r.cls)) {
			if ((l.cls == Cls::Real && r.cls == Cls::Numeric) || (l.cls == Cls::Numeric && r.cls == Cls::Real))
				refuse("a comparison of float8 with numeric is not translated");
			for (const Val *v : {&l, &r}) {
				if (v->cls == Cls::Numeric && v->constant && significant_digits(v->text) > 15)
					refuse("the constant " + v->text +
					       " has more significant digits than SQLite's REAL keeps (15); the comparison could change");
			}
			return;
		}
		if (l.cls == Cls::Text && r.cls == Cls::Text) {
			if (op != "=" && op != "<>")
				refuse("the ordering comparison " + op +
				       " of text depends on the collation (PostgreSQL's is not SQLite's BINARY)");
			return;
		}
		if (l.cls == Cls::Bool && r.cls == Cls::Bool)
			return;
		refuse("a comparison of " + cls_name(l.cls) + " with " + cls_name(r.cls) + " value is not translated");
	}

	static Val compare(const Val &l, const std::string &op, const Val &r) {
		check_comparable(l, op, r);
		return plain("(" + l.sql + " " + op + " " + r.sql + ")", Cls::Bool);
	}

	// x [NOT] BETWEEN a AND b, x [NOT] IN (a, b, …)
	Val parse_between() {
		Val l = parse_additive();
		const bool negated = is_kw("not") && (is_kw("between", 1) || is_kw("in", 1));
		if (negated)
			next();
		if (is_kw("between")) {
			next();
			if (is_kw("symmetric") || is_kw("asymmetric"))
				refuse("BETWEEN " + peek().text + " is not translated");
			Val lo = parse_additive();
			if (!is_kw("and"))
				unexpected();
			next();
			Val hi = parse_additive();
			check_comparable(l, "<=", lo);
			check_comparable(l, "<=", hi);
			return plain("(" + l.sql + (negated ? " NOT BETWEEN " : " BETWEEN ") + lo.sql + " AND " + hi.sql + ")",
			             Cls::Bool);
		}
		if (is_kw("in")) {
			next();
			expect(Tok::LParen);
			std::vector<Val> items;
			for (;;) {
				items.push_back(constant_item(parse_additive()));
				if (peek().type != Tok::Comma)
					break;
				next();
			}
			expect(Tok::RParen);
			return in_list(l, items, true, negated);
		}
		return l;
	}

	static const Val &constant_item(const Val &v) {
		if (!v.constant)
			refuse("IN lists are translated only with constants");
		return v;
	}

	Val parse_additive() {
		Val l = parse_multiplicative();
		while (is_op("+") || is_op("-")) {
			const std::string op = next().text;
			l = arith(l, op, parse_multiplicative());
		}
		return l;
	}
	Val parse_multiplicative() {
		Val l = parse_unary();
		while (is_op("*") || is_op("/")) {
			const std::string op = next().text;
			l = arith(l, op, parse_unary());
		}
		return l;
	}
	static void require_arith(const Val &v) {
		require_value(v);
		if (v.cls == Cls::Numeric)
			refuse("numeric arithmetic is exact in PostgreSQL but floating-point in SQLite");
		if (v.cls != Cls::Int && v.cls != Cls::Real)
			refuse("arithmetic on " + cls_name(v.cls) + " value is not translated");
		if (!v.why.empty())
			refuse(v.why);
	}
	static Val arith(const Val &l, const std::string &op, const Val &r) {
		require_arith(l);
		require_arith(r);
		// int / int truncates toward zero in both; int with float8 is float8 in both.
		return plain("(" + l.sql + " " + op + " " + r.sql + ")",
		             l.cls == Cls::Int && r.cls == Cls::Int ? Cls::Int : Cls::Real);
	}
	Val parse_unary() {
		if (is_op("-")) {
			Depth d(depth_);
			next();
			Val v = parse_unary();
			require_arith(v);
			return plain("(- " + v.sql + ")", v.cls);
		}
		return parse_postfix();
	}

	Val parse_postfix() {
		Val v = parse_primary();
		while (is_op("::")) {
			next();
			v = cast(v, parse_type());
		}
		if (peek().type == Tok::LBracket)
			refuse("array subscripts are not translated");
		return v;
	}

	TypeName parse_type() {
		TypeName t;
		std::vector<std::string> parts;
		for (;;) {
			const Token tok = next();
			if (tok.type != Tok::Ident && tok.type != Tok::QIdent)
				refuse("unsupported type name in a cast");
			std::string word = tok.text;
			if (tok.type == Tok::Ident) {
				if ((word == "character" || word == "char" || word == "bit") && is_kw("varying")) {
					next();
					word += " varying";
				} else if (word == "double" && is_kw("precision")) {
					next();
					word += " precision";
				}
			}
			parts.push_back(word);
			if (peek().type != Tok::Dot)
				break;
			next();
		}
		t.name = parts.back();
		t.qualified_other = parts.size() > 1 && parts.front() != "pg_catalog";
		for (const auto &p : parts)
			t.shown += (t.shown.empty() ? "" : ".") + p;
		if (peek().type == Tok::LParen) {
			t.typmod = true;
			t.shown += next().text;
			while (peek().type != Tok::RParen && peek().type != Tok::End)
				t.shown += next().text;
			expect(Tok::RParen);
			t.shown += ")";
		}
		if (is_kw("with") || is_kw("without"))
			refuse("a cast to " + t.shown + " " + peek().text + " time zone is not translated");
		if (peek().type == Tok::LBracket) {
			next();
			expect(Tok::RBracket);
			t.array = true;
			t.shown += "[]";
			if (peek().type == Tok::LBracket)
				refuse("multi-dimensional arrays are not translated");
		}
		if (!t.qualified_other) {
			static const std::pair<const char *, const char *> kAliases[] = {
			    {"integer", "int4"},  {"int", "int4"},        {"bigint", "int8"},
			    {"smallint", "int2"}, {"decimal", "numeric"}, {"double precision", "float8"},
			    {"real", "float4"},   {"boolean", "bool"},    {"character varying", "varchar"}};
			for (const auto &a : kAliases)
				if (t.name == a.first)
					t.name = a.second;
		}
		return t;
	}

	bool is_enum_type(const TypeName &t) const {
		return std::any_of(table_.columns.begin(), table_.columns.end(),
		                   [&](const ColumnDef &c) { return c.typcategory == 'E' && c.typname == t.name; });
	}

	static Val constant(std::string sql, Cls cls, std::string text) {
		Val v = plain(std::move(sql), cls);
		v.constant = true;
		v.text = std::move(text);
		return v;
	}

	static std::string number_sql(std::string_view num) {
		if (!num.empty() && num.front() == '+')
			num.remove_prefix(1);
		return num.front() == '-' ? "(" + std::string(num) + ")" : std::string(num);
	}

	static bool fits_int64(std::string_view num) {
		if (!num.empty() && num.front() == '+')
			num.remove_prefix(1);
		int64_t v = 0;
		const auto res = std::from_chars(num.data(), num.data() + num.size(), v);
		return res.ec == std::errc() && res.ptr == num.data() + num.size();
	}

	// A float8 constant: the double PostgreSQL's float8in (correctly rounded) reads from the digits,
	// written so that SQLite reads back exactly that double (its own conversion is not always exact).
	static Val real_constant(const Val &v) {
		std::string_view num = v.text;
		if (!num.empty() && num.front() == '+')
			num.remove_prefix(1);
		double d = 0;
		const auto res = std::from_chars(num.data(), num.data() + num.size(), d);
		if (res.ec != std::errc() || res.ptr != num.data() + num.size() || !std::isfinite(d))
			return opaque(v.sql, "the constant " + v.text + " is not translated as a float8");
		std::string sql;
		append_real_literal(sql, d);
		return constant(sql.front() == '-' ? "(" + sql + ")" : sql, Cls::Real, v.text);
	}

	Val cast(const Val &v, const TypeName &t) {
		if (t.array) {
			if (v.cls != Cls::Array)
				refuse("a cast to " + t.shown + " of a non-array is not translated");
			TypeName elem = t;
			elem.array = false;
			Val out = v;
			for (auto &e : out.elems)
				e = cast(e, elem);
			return out;
		}
		if (v.cls == Cls::Array)
			refuse("a cast of an array to " + t.shown + " is not translated");
		if (t.typmod)
			return opaque(v.sql, "the cast to " + t.shown + " may change the value");
		if (v.constant)
			return cast_constant(v, t);
		if (v.column != nullptr)
			return cast_column(v, t);
		refuse("the cast of an expression to " + t.shown + " is not translated");
	}

	Val cast_constant(const Val &v, const TypeName &t) const {
		const std::string &n = t.qualified_other ? t.shown : t.name;
		const bool integer_text = is_number(v.text, false);
		const bool number_text = is_number(v.text, true);
		switch (v.cls) {
		case Cls::Int:
			if (n == "int2" || n == "int4" || n == "int8")
				return v;
			if (n == "numeric")
				return constant(v.sql, Cls::Numeric, v.text);
			if (n == "float8")
				return real_constant(v);
			break;
		case Cls::Numeric:
			if (n == "numeric")
				return v;
			if (n == "float8")
				return real_constant(v);
			break;
		case Cls::Real:
			if (n == "float8")
				return v;
			break;
		case Cls::Bool:
			if (n == "bool")
				return v;
			break;
		case Cls::Text:
			if (n == "text" || n == "varchar" || (!t.qualified_other && is_enum_type(t)))
				return v;
			if ((n == "int2" || n == "int4" || n == "int8") && integer_text && fits_int64(v.text))
				return constant(number_sql(v.text), Cls::Int, v.text);
			if (n == "numeric" && number_text)
				return constant(number_sql(v.text), Cls::Numeric, v.text);
			if (n == "float8" && number_text)
				return real_constant(v);
			break;
		default:
			break;
		}
		return opaque(v.sql,
		              "the constant cast to " + t.shown + " is not translated (D1 may hold such values differently)");
	}

	// A value only IS [NOT] NULL may test (a cast keeps whether the value is NULL).
	static Val opaque(std::string sql, std::string why) {
		Val v = plain(std::move(sql), Cls::Opaque);
		v.why = std::move(why);
		return v;
	}

	Val cast_column(const Val &v, const TypeName &t) const {
		const ColumnDef &c = *v.column;
		const std::string &n = t.qualified_other ? t.shown : t.name;
		const ValueKind kind = value_kind_for(c.typname, c.typcategory);
		// Only casts that keep every value exactly as D1 holds it (no padding, rounding or reformatting).
		if ((n == "text" || n == "varchar") && (c.typname == "text" || c.typname == "varchar" || c.typcategory == 'E'))
			return plain(v.sql, Cls::Text);
		if (kind == ValueKind::Integer &&
		    (n == "int8" || (n == "int4" && (c.typname == "int2" || c.typname == "int4"))))
			return plain(v.sql, Cls::Int);
		if (kind == ValueKind::Integer && n == "numeric")
			return plain(v.sql, Cls::Numeric); // compared exactly; numeric arithmetic stays refused
		return opaque(v.sql, "the cast (" + c.name + ")::" + t.shown + " of column " + quote_ident(c.name) +
		                         " is not translated");
	}

	Val column_ref(const std::string &name) const {
		const auto it = std::find_if(table_.columns.begin(), table_.columns.end(),
		                             [&](const ColumnDef &c) { return c.name == name; });
		if (it == table_.columns.end())
			refuse(quote_ident(name) + " is not a column of the table");
		const ColumnDef &c = *it;
		Val v;
		append_quoted_ident(v.sql, c.name);
		v.column = &c;
		switch (value_kind_for(c.typname, c.typcategory)) {
		case ValueKind::Integer:
			v.cls = Cls::Int;
			break;
		case ValueKind::Boolean:
			v.cls = Cls::Bool;
			break;
		case ValueKind::Real:
			if (c.typname == "float8") {
				v.cls = Cls::Real;
				v.why = "arithmetic on float8 column " + quote_ident(c.name) +
				        " is not translated: NaN is stored in D1 as the text 'NaN', which SQLite arithmetic reads as 0";
			} else {
				v.cls = Cls::Opaque;
				v.why = "column " + quote_ident(c.name) + " is " + c.typname +
				        ", whose values D1 holds as REAL with other rounding: comparisons could change";
			}
			break;
		case ValueKind::Blob:
			v.cls = Cls::Opaque;
			v.why = "column " + quote_ident(c.name) + " is bytea: only IS [NOT] NULL is translated on it";
			break;
		case ValueKind::Text:
			if (c.typname == "text" || c.typname == "varchar" || c.typcategory == 'E') {
				v.cls = Cls::Text;
			} else {
				v.cls = Cls::Opaque;
				v.why = "column " + quote_ident(c.name) + " is " + c.typname +
				        ", which D1 stores as TEXT: SQLite would compare the text, not the " + c.typname + " values";
			}
			break;
		}
		return v;
	}

	Val parse_primary() {
		const Token t = peek();
		switch (t.type) {
		case Tok::LParen: {
			Depth d(depth_);
			next();
			Val v = parse_or();
			expect(Tok::RParen);
			return v;
		}
		case Tok::Number: {
			next();
			const bool integer = is_number(t.text, false) && fits_int64(t.text);
			return constant(t.text, integer ? Cls::Int : Cls::Numeric, t.text);
		}
		case Tok::String: {
			next();
			if (!is_valid_utf8(t.text))
				refuse("a string constant is not valid UTF-8");
			std::string sql;
			append_text_literal(sql, t.text);
			return constant(std::move(sql), Cls::Text, t.text);
		}
		case Tok::QIdent:
			next();
			if (peek().type == Tok::LParen || peek().type == Tok::Dot)
				refuse("the reference " + quote_ident(t.text) + " is not translated");
			return column_ref(t.text);
		case Tok::Ident:
			break;
		default:
			unexpected();
		}
		next();
		if (t.text == "true" || t.text == "false")
			return constant(t.text == "true" ? "1" : "0", Cls::Bool, t.text);
		if (t.text == "null")
			refuse("a NULL constant is not translated");
		if (t.text == "array" && peek().type == Tok::LBracket) {
			Depth d(depth_);
			next();
			Val arr = plain("", Cls::Array);
			if (peek().type == Tok::RBracket)
				refuse("empty arrays are not translated");
			for (;;) {
				arr.elems.push_back(constant_item(parse_or()));
				if (peek().type != Tok::Comma)
					break;
				next();
			}
			expect(Tok::RBracket);
			return arr;
		}
		if (peek().type == Tok::LParen) {
			if (t.text != "length" && t.text != "char_length" && t.text != "character_length")
				refuse("function " + t.text + "() is not translated");
			Depth d(depth_);
			next();
			Val arg = parse_or();
			expect(Tok::RParen);
			require_value(arg);
			if (arg.cls != Cls::Text)
				refuse(t.text + "() of " + cls_name(arg.cls) + " value is not translated");
			return plain("length(" + arg.sql + ")", Cls::Int); // characters in both
		}
		if (peek().type == Tok::Dot)
			refuse("qualified names are not translated");
		static const char *const kKeywords[] = {
		    "and", "or",  "not",  "is",   "in",    "between", "case",    "when",   "then",   "else",     "end",
		    "any", "all", "some", "like", "ilike", "similar", "collate", "exists", "select", "distinct", "row"};
		for (const char *kw : kKeywords)
			if (t.text == kw)
				refuse(t.text + " is not translated here");
		return column_ref(t.text);
	}

	const TableDef &table_;
	std::vector<Token> toks_;
	size_t pos_ = 0;
	int depth_ = 0;
};

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

const ColumnDef *find_column(const TableDef &t, const std::string &name) {
	const auto it =
	    std::find_if(t.columns.begin(), t.columns.end(), [&](const ColumnDef &c) { return c.name == name; });
	return it == t.columns.end() ? nullptr : &*it;
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
		try {
			const std::string expr = CheckTranslator(t).translate(check.pg_expr);
			sql.append(", CONSTRAINT ");
			append_quoted_ident(sql, check.name);
			sql.append(" CHECK (").append(expr).push_back(')');
		} catch (const Refused &r) {
			result.warnings.push_back("CHECK constraint " + quote_ident(check.name) +
			                          " was not translated: " + r.reason + " (" + check.pg_expr + ")");
		}
	}
	for (const auto &fk : t.foreign_keys) {
		if (auto clause = foreign_key_sql(t, fk, options, result))
			sql.append(", ").append(*clause);
	}
	sql.push_back(')');
	return sql;
}

// SQLite's column affinity for a declared type (https://sqlite.org/datatype3.html, 3.1).
std::string sqlite_affinity(std::string_view decl) {
	std::string up(decl);
	for (auto &c : up)
		c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
	const auto has = [&](const char *s) { return up.find(s) != std::string::npos; };
	if (has("INT"))
		return "INTEGER";
	if (has("CHAR") || has("CLOB") || has("TEXT"))
		return "TEXT";
	if (has("BLOB") || trim(up).empty())
		return "BLOB";
	if (has("REAL") || has("FLOA") || has("DOUB"))
		return "REAL";
	return "NUMERIC";
}

std::string key_text(const std::vector<std::string> &key) {
	if (key.empty())
		return "none";
	std::string out = "(";
	for (size_t i = 0; i < key.size(); ++i)
		out.append(i > 0 ? ", " : "").append(key[i]);
	return out + ")";
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

std::vector<std::string> schema_differences(const TableDef &table, const std::vector<D1Column> &d1) {
	std::vector<std::string> out;
	const auto in_d1 = [&](const std::string &name) {
		const auto it = std::find_if(d1.begin(), d1.end(), [&](const D1Column &c) { return c.name == name; });
		return it == d1.end() ? nullptr : &*it;
	};
	for (const auto &c : table.columns) {
		const D1Column *d = in_d1(c.name);
		if (d == nullptr) {
			out.push_back("column " + quote_ident(c.name) + " is missing in D1");
			continue;
		}
		const char *want = sqlite_type_for(value_kind_for(c.typname, c.typcategory));
		if (sqlite_affinity(d->type) != sqlite_affinity(want))
			out.push_back("column " + quote_ident(c.name) +
			              (d->type.empty() ? std::string(" has no declared type") : " is " + d->type) + " in D1 but " +
			              want + " from PostgreSQL type " + c.typname);
		const bool pg_not_null = c.not_null || std::find(table.primary_key.begin(), table.primary_key.end(), c.name) !=
		                                           table.primary_key.end();
		if (d->notnull && !pg_not_null)
			out.push_back("column " + quote_ident(c.name) + " is NOT NULL in D1 but nullable in PostgreSQL");
	}
	for (const auto &d : d1) {
		if (find_column(table, d.name) == nullptr)
			out.push_back("column " + quote_ident(d.name) + " exists in D1 but not in PostgreSQL");
	}
	std::vector<const D1Column *> key;
	for (const auto &d : d1)
		if (d.pk > 0)
			key.push_back(&d);
	std::sort(key.begin(), key.end(), [](const D1Column *a, const D1Column *b) { return a->pk < b->pk; });
	std::vector<std::string> d1_key;
	for (const auto *d : key)
		d1_key.push_back(d->name);
	// The same set in another order is the same constraint, and ON CONFLICT (…) matches it either way.
	std::vector<std::string> a = d1_key, b = table.primary_key;
	std::sort(a.begin(), a.end());
	std::sort(b.begin(), b.end());
	if (a != b)
		out.push_back("primary key is " + key_text(d1_key) + " in D1 but " + key_text(table.primary_key) +
		              " in PostgreSQL");
	return out;
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
