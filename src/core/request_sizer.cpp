// request_sizer.cpp — splits statements into requests within the current limits, halves them on size-related
// failures and grows them back after a run of successes.
// Must never reorder, drop or duplicate statements, or retry a failure that is not size-related.
// Called through RequestSizer (request_sizer.hpp).
#include "request_sizer.hpp"

#include "error.hpp"

#include <algorithm>
#include <iterator>

namespace pg2d1 {

size_t statement_bytes(const Statement &statement) {
	size_t bytes = statement.sql.size();
	for (const auto &p : statement.params)
		bytes += p ? p->size() : 0;
	return bytes;
}

RequestSizer::RequestSizer(size_t max_bytes, size_t max_statements)
    : max_bytes_(std::max<size_t>(max_bytes, 1)), max_statements_(std::max<size_t>(max_statements, 1)),
      bytes_(max_bytes_), statements_(max_statements_) {}

void RequestSizer::shrink(size_t failed_statements, size_t failed_bytes) {
	statements_ = std::max<size_t>(std::min(statements_, failed_statements) / 2, 1);
	bytes_ = std::max<size_t>(std::min(bytes_, failed_bytes) / 2, 1);
	streak_ = 0;
	++shrinks_;
}

void RequestSizer::succeeded() {
	if (bytes_ >= max_bytes_ && statements_ >= max_statements_) {
		streak_ = 0;
		return;
	}
	if (++streak_ < kRegrowAfter)
		return;
	const auto grow = [](size_t current, size_t max) {
		return std::min(max, current + std::max<size_t>(current / 4, 1));
	};
	bytes_ = grow(bytes_, max_bytes_);
	statements_ = grow(statements_, max_statements_);
	streak_ = 0;
	++grows_;
}

void RequestSizer::send(std::vector<Statement> statements,
                        const std::function<void(std::vector<Statement> &)> &send_request) {
	size_t next = 0; // first statement not yet acknowledged
	std::vector<Statement> request;
	while (next < statements.size()) {
		// the longest run from `next` within the limits; at least one statement
		size_t end = next, bytes = 0;
		while (end < statements.size() && end - next < statements_) {
			const size_t b = statement_bytes(statements[end]);
			if (end > next && bytes + b > bytes_)
				break;
			bytes += b;
			++end;
		}
		request.clear();
		request.insert(request.end(), std::make_move_iterator(statements.begin() + static_cast<ptrdiff_t>(next)),
		               std::make_move_iterator(statements.begin() + static_cast<ptrdiff_t>(end)));
		try {
			send_request(request);
		} catch (const Error &e) {
			streak_ = 0;
			if (!e.size_related() || request.size() != end - next || request.size() <= 1)
				throw;
			// give the statements back and send them again in smaller requests
			std::move(request.begin(), request.end(), statements.begin() + static_cast<ptrdiff_t>(next));
			shrink(end - next, bytes);
			continue;
		} catch (...) {
			streak_ = 0;
			throw;
		}
		next = end;
		succeeded();
	}
}

} // namespace pg2d1
