// sync_sql.cpp — see sync_sql.hpp.
#include "sync_sql.hpp"

#include "error.hpp"
#include "sqlite_encode.hpp"

namespace pg2d1 {

namespace {
std::string column_list(const std::vector<std::string> &key_columns) {
	std::string out;
	for (auto &c : key_columns) {
		if (!out.empty()) {
			out += ",";
		}
		append_quoted_ident(out, c);
	}
	return key_columns.size() == 1 ? out : "(" + out + ")";
}

std::string tuple(const std::vector<std::string> &literals) {
	std::string out;
	for (auto &l : literals) {
		out += (out.empty() ? "" : ",") + l;
	}
	return literals.size() == 1 ? out : "(" + out + ")";
}
} // namespace

std::vector<std::string> delete_statements(const std::string &table, const std::vector<std::string> &key_columns,
                                           const std::vector<std::vector<std::string>> &keys,
                                           size_t max_statement_bytes, size_t max_keys) {
	std::vector<std::string> out;
	size_t in_stmt = 0;
	if (keys.empty() || key_columns.empty()) {
		return out;
	}
	const bool composite = key_columns.size() > 1;
	const std::string head = "DELETE FROM " + quote_ident(table) + " WHERE " + column_list(key_columns) +
	                         (composite ? " IN (VALUES " : " IN (");
	std::string stmt;
	for (auto &key : keys) {
		if (key.size() != key_columns.size()) {
			throw Error("22023", "a key of " + std::to_string(key.size()) + " values for a key of " +
			                         std::to_string(key_columns.size()) + " columns");
		}
		std::string t = tuple(key);
		if (head.size() + t.size() + 1 > max_statement_bytes) {
			throw Error("54000", "a key of " + std::to_string(t.size()) + " bytes does not fit in one D1 statement");
		}
		if (!stmt.empty() && (stmt.size() + 1 + t.size() + 1 > max_statement_bytes || in_stmt >= max_keys)) {
			out.push_back(stmt + ")");
			stmt.clear();
			in_stmt = 0;
		}
		in_stmt++;
		stmt += stmt.empty() ? head + t : "," + t;
	}
	out.push_back(stmt + ")");
	return out;
}

std::string d1_key_page_sql(const std::string &table, const std::vector<std::string> &key_columns,
                            const std::optional<std::vector<std::string>> &after_literals, size_t limit) {
	std::string cols;
	for (auto &c : key_columns) {
		if (!cols.empty()) {
			cols += ",";
		}
		append_quoted_ident(cols, c);
	}
	std::string sql = "SELECT " + cols + " FROM " + quote_ident(table);
	if (after_literals) {
		sql += " WHERE " + column_list(key_columns) + " > " + tuple(*after_literals);
	}
	return sql + " ORDER BY " + cols + " LIMIT " + std::to_string(limit);
}

std::vector<std::vector<Statement>> pack_requests(std::vector<Statement> statements, size_t max_statements,
                                                  size_t max_bytes) {
	std::vector<std::vector<Statement>> out;
	size_t bytes = 0;
	for (auto &s : statements) {
		size_t size = s.sql.size();
		for (auto &p : s.params) {
			size += p ? p->size() : 0;
		}
		if (out.empty() || out.back().size() >= max_statements || (!out.back().empty() && bytes + size > max_bytes)) {
			out.emplace_back();
			bytes = 0;
		}
		out.back().push_back(std::move(s));
		bytes += size;
	}
	return out;
}

} // namespace pg2d1
