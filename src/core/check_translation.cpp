// check_translation.cpp — PostgreSQL CHECK expressions (pg_get_expr text) to SQLite, over a whitelisted grammar.
// Must never translate an expression whose SQLite meaning, on the values D1 holds, differs from PostgreSQL's.
// Called by translate_table (ddl.cpp) for every CheckDef.
#include "check_translation.hpp"

#include "ddl_text.hpp"
#include "sqlite_encode.hpp"
#include "type_mapping.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace pg2d1 {

using namespace ddl_detail;

namespace {

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

} // namespace

CheckTranslation translate_check(const TableDef &table, std::string_view pg_expr) {
	CheckTranslation out;
	try {
		out.sql = CheckTranslator(table).translate(pg_expr);
	} catch (const Refused &r) {
		out.reason = r.reason;
	}
	return out;
}

} // namespace pg2d1
