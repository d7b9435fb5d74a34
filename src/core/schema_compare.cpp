// schema_compare.cpp — an existing D1 table (PRAGMA table_info) compared with the one translate_table would create.
// Must never call a D1 table compatible when a row pg2d1 writes could be refused or stored with another affinity.
// Called by d1_table_differences (d1_schema.cpp) before pg2d1_setup_schema and every migration.
#include "schema_compare.hpp"

#include "ddl_text.hpp"
#include "sqlite_encode.hpp"
#include "type_mapping.hpp"

#include <algorithm>

namespace pg2d1 {

using namespace ddl_detail;

namespace {

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

} // namespace

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

} // namespace pg2d1
