// d1_schema.cpp — D1's tables and their columns, read over the API (d1_schema.hpp).
// Must never guess: what D1 reports is compared as is. Called by functions.cpp, migrate.cpp.
#include "d1_schema.hpp"

#include "error.hpp"
#include "sqlite_encode.hpp"

namespace pg2d1 {

std::vector<std::string> d1_table_names(D1Client &client) {
	StatementResult r =
	    client.raw({"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
	                "ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
	                {}});
	std::vector<std::string> out;
	for (auto &row : r.rows) {
		if (!row.empty() && row[0]) {
			out.push_back(*row[0]);
		}
	}
	return out;
}

std::vector<std::string> d1_table_differences(D1Client &client, const TableDef &table) {
	StatementResult r = client.raw({"SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)", {table.name}});
	if (r.rows.empty()) {
		return {};
	}
	std::vector<D1Column> cols;
	for (auto &row : r.rows) {
		if (row.size() < 4 || !row[0]) {
			continue;
		}
		D1Column c;
		c.name = *row[0];
		c.type = row[1].value_or("");
		c.notnull = row[2] && *row[2] != "0";
		c.pk = row[3] ? std::stoi(*row[3]) : 0;
		cols.push_back(std::move(c));
	}
	return schema_differences(table, cols);
}

void check_d1_table_matches(D1Client &client, const TableDef &table, const std::string &display_name) {
	std::vector<std::string> diff = d1_table_differences(client, table);
	if (diff.empty()) {
		return;
	}
	std::string detail;
	for (auto &d : diff) {
		detail += (detail.empty() ? "" : "; ") + d;
	}
	throw Error("42P07", "D1 table " + quote_ident(table.name) + " does not match \"" + display_name + "\"", detail,
	            "Drop or rename the D1 table (SELECT pg2d1_query('DROP TABLE " + quote_ident(table.name) +
	                "');) and run pg2d1_migrate again: pg2d1 creates it and sends every row. Or alter it to match "
	                "and run pg2d1_migrate(…, resume => false) so existing rows get the new columns' values; pg2d1 "
	                "never changes an existing D1 table.");
}

} // namespace pg2d1
