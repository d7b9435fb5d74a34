// batch_planner.cpp — packs encoded rows into multi-row upserts and the upserts into D1 requests.
// Must never exceed a limit, reorder, drop or duplicate a row; a row too big alone throws Error 54000.
// Called by the migration driver (src/pg/migrate.*) through BatchPlanner and upsert_prefix/suffix().
#include "batch_planner.hpp"

#include "error.hpp"
#include "sqlite_encode.hpp"

#include <algorithm>
#include <unordered_set>

namespace pg2d1 {

namespace {

constexpr size_t kMaxStatementReserve = 1 << 20;

void check_target(const UpsertTarget &t) {
	if (t.columns.empty())
		throw Error(sqlstate::kInvalidParameter, "upsert into \"" + t.table + "\" has no columns");
	if (t.key_columns.empty())
		throw Error(sqlstate::kInvalidParameter, "table \"" + t.table + "\" has no primary key columns",
		            "pg2d1 writes idempotent upserts (INSERT … ON CONFLICT (key) DO UPDATE), which need a key.",
		            "Add a primary key to the table before migrating it.");
	const std::unordered_set<std::string> columns(t.columns.begin(), t.columns.end());
	for (const auto &key : t.key_columns) {
		if (columns.count(key) == 0)
			throw Error(sqlstate::kInvalidParameter,
			            "key column \"" + key + "\" is not among the columns of \"" + t.table + "\"");
	}
}

void append_ident_list(std::string &out, const std::vector<std::string> &names) {
	out.push_back('(');
	for (size_t i = 0; i < names.size(); ++i) {
		if (i > 0)
			out.push_back(',');
		append_quoted_ident(out, names[i]);
	}
	out.push_back(')');
}

void check_limits(const Limits &l, size_t fixed_bytes) {
	if (l.max_statements_per_request == 0 || l.max_statement_bytes == 0 || l.max_request_bytes == 0)
		throw Error(sqlstate::kInvalidParameter, "batch limits must be positive",
		            "max_statement_bytes=" + std::to_string(l.max_statement_bytes) +
		                ", max_request_bytes=" + std::to_string(l.max_request_bytes) +
		                ", max_statements_per_request=" + std::to_string(l.max_statements_per_request) + ".");
	if (fixed_bytes >= l.max_statement_bytes)
		throw Error(sqlstate::kProgramLimit,
		            "the upsert statement text alone needs " + std::to_string(fixed_bytes) +
		                " bytes, more than the statement limit of " + std::to_string(l.max_statement_bytes),
		            {}, "Raise pg2d1.max_statement_bytes (D1 allows up to 100000).");
}

[[noreturn]] void throw_too_big(const char *what, size_t bytes, size_t limit, const char *hint) {
	throw Error(sqlstate::kProgramLimit,
	            std::string(what) + " needs " + std::to_string(bytes) + " bytes, more than the limit of " +
	                std::to_string(limit) + " bytes",
	            {}, hint);
}

} // namespace

std::string upsert_prefix(const UpsertTarget &t) {
	check_target(t);
	std::string out = "INSERT INTO ";
	append_quoted_ident(out, t.table);
	out.push_back(' ');
	append_ident_list(out, t.columns);
	out.append(" VALUES ");
	return out;
}

std::string upsert_suffix(const UpsertTarget &t) {
	check_target(t);
	std::string out = " ON CONFLICT ";
	append_ident_list(out, t.key_columns);
	const std::unordered_set<std::string> keys(t.key_columns.begin(), t.key_columns.end());
	bool first = true;
	for (const auto &col : t.columns) {
		if (keys.count(col) != 0)
			continue;
		out.append(first ? " DO UPDATE SET " : ",");
		append_quoted_ident(out, col);
		out.append("=excluded.");
		append_quoted_ident(out, col);
		first = false;
	}
	if (first)
		out.append(" DO NOTHING");
	return out;
}

BatchPlanner::BatchPlanner(UpsertTarget target, Limits limits)
    : target_(std::move(target)), limits_(limits), prefix_(upsert_prefix(target_)), suffix_(upsert_suffix(target_)) {
	check_limits(limits_, prefix_.size() + suffix_.size());
}

void BatchPlanner::add_row(std::string_view tuple) {
	const size_t alone = prefix_.size() + tuple.size() + suffix_.size();
	if (alone > limits_.max_statement_bytes)
		throw_too_big("one row of the upsert statement", alone, limits_.max_statement_bytes,
		              "D1 limits each SQL statement to 100000 bytes (pg2d1.max_statement_bytes); values this "
		              "large cannot be sent as inline literals.");
	if (alone > limits_.max_request_bytes)
		throw_too_big("one row of the upsert statement", alone, limits_.max_request_bytes,
		              "Raise pg2d1.max_request_bytes.");

	if (!stmt_.empty()) {
		const size_t grown = stmt_.size() + 1 + tuple.size() + suffix_.size();
		if (grown > limits_.max_statement_bytes || req_.bytes + grown > limits_.max_request_bytes)
			close_statement();
	}
	if (stmt_.empty()) {
		if (!req_.statements.empty() && req_.bytes + alone > limits_.max_request_bytes)
			close_request();
		stmt_.reserve(std::min(limits_.max_statement_bytes, kMaxStatementReserve));
		stmt_.append(prefix_);
	} else {
		stmt_.push_back(',');
	}
	stmt_.append(tuple);
	++stmt_rows_;

	if (limits_.max_rows_per_request > 0 && req_.rows + stmt_rows_ >= limits_.max_rows_per_request) {
		close_statement();
		close_request();
	}
}

void BatchPlanner::add_row_with_params(std::string_view tuple, std::vector<std::string> params) {
	const size_t text = prefix_.size() + tuple.size() + suffix_.size();
	if (text > limits_.max_statement_bytes)
		throw_too_big("one row of the upsert statement (large values as parameters)", text, limits_.max_statement_bytes,
		              "Raise pg2d1.max_statement_bytes (D1 allows 100000).");
	if (params.size() > limits_.max_bound_params)
		throw Error(sqlstate::kProgramLimit,
		            "one row needs " + std::to_string(params.size()) + " bound parameters for its large values",
		            "D1 allows " + std::to_string(limits_.max_bound_params) + " bound parameters per statement.",
		            "Raise pg2d1.max_bound_params only if your D1 allows more.");
	size_t bytes = text;
	for (const auto &p : params)
		bytes += p.size();
	close_statement();
	if (!req_.statements.empty() && req_.bytes + bytes > limits_.max_request_bytes)
		close_request();
	std::string sql;
	sql.reserve(text);
	sql.append(prefix_).append(tuple).append(suffix_);
	req_.params.resize(req_.statements.size());
	req_.statements.push_back(std::move(sql));
	req_.params.push_back(std::move(params));
	req_.bytes += bytes;
	req_.rows += 1;
	if (req_.statements.size() >= limits_.max_statements_per_request || req_.bytes >= limits_.max_request_bytes ||
	    (limits_.max_rows_per_request > 0 && req_.rows >= limits_.max_rows_per_request))
		close_request();
}

std::vector<Statement> Request::to_statements() && {
	std::vector<Statement> out;
	out.reserve(statements.size());
	for (size_t i = 0; i < statements.size(); i++) {
		Statement st{std::move(statements[i]), {}};
		if (i < params.size()) {
			for (auto &p : params[i])
				st.params.emplace_back(std::move(p));
		}
		out.push_back(std::move(st));
	}
	return out;
}

void BatchPlanner::close_statement() {
	if (stmt_.empty())
		return;
	stmt_.append(suffix_);
	req_.bytes += stmt_.size();
	req_.rows += stmt_rows_;
	req_.statements.push_back(std::move(stmt_));
	stmt_.clear();
	stmt_rows_ = 0;
	if (req_.statements.size() >= limits_.max_statements_per_request)
		close_request();
}

void BatchPlanner::close_request() {
	if (req_.statements.empty())
		return;
	ready_.push_back(std::move(req_));
	req_ = Request{};
}

void BatchPlanner::finish(std::optional<std::string> trailer) {
	close_statement();
	if (trailer) {
		if (trailer->size() > limits_.max_statement_bytes)
			throw_too_big("the checkpoint statement", trailer->size(), limits_.max_statement_bytes,
			              "Raise pg2d1.max_statement_bytes.");
		if (trailer->size() > limits_.max_request_bytes)
			throw_too_big("the checkpoint statement", trailer->size(), limits_.max_request_bytes,
			              "Raise pg2d1.max_request_bytes.");
		Request *last = !req_.statements.empty() ? &req_ : (!ready_.empty() ? &ready_.back() : nullptr);
		const bool fits = last != nullptr && last->statements.size() < limits_.max_statements_per_request &&
		                  last->bytes + trailer->size() <= limits_.max_request_bytes;
		if (!fits) {
			close_request();
			last = &req_;
		}
		last->bytes += trailer->size();
		last->statements.push_back(std::move(*trailer));
	}
	close_request();
}

Request BatchPlanner::pop_request() {
	if (ready_.empty())
		throw Error(sqlstate::kInternal, "BatchPlanner::pop_request called with no request ready");
	Request r = std::move(ready_.front());
	ready_.pop_front();
	return r;
}

size_t BatchPlanner::pending_rows() const {
	size_t rows = req_.rows + stmt_rows_;
	for (const auto &r : ready_)
		rows += r.rows;
	return rows;
}

} // namespace pg2d1
