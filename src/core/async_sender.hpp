// async_sender.hpp — sends requests on one background thread, in submission order, so the
// caller can read and encode the next rows while D1 answers (a pipeline one request deep
// plus a bounded queue).
// Must never reorder requests, lose a failure (the first one is rethrown to the caller on
// its next call), or let the thread touch anything but the send function's own state (in a
// PostgreSQL worker it must not call PostgreSQL; all signals are blocked on the thread).
// Called by the migration driver (src/pg/migrate.cpp); unit-tested in test_async_sender.cpp.
#pragma once

#include "statement.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pg2d1 {

class AsyncSender {
  public:
	using SendFn = std::function<void(std::vector<Statement> &&statements)>;
	// `should_abort` is polled while the caller waits; it must not throw or longjmp.
	AsyncSender(SendFn send, size_t max_queued, std::function<bool()> should_abort);
	~AsyncSender(); // stops the thread; requests not yet sent are dropped
	AsyncSender(const AsyncSender &) = delete;
	AsyncSender &operator=(const AsyncSender &) = delete;

	// Queues a request; blocks while `max_queued` are waiting. Rethrows an earlier failure.
	void submit(std::vector<Statement> statements, size_t rows);
	void submit(const std::vector<std::string> &sql, size_t rows); // statements without parameters
	// Waits until every submitted request was sent; rethrows a failure.
	void drain();
	// Rows of requests sent successfully so far.
	size_t rows_sent() const {
		return rows_sent_.load();
	}
	// Set when the sender is shutting down; a send function should stop waiting then.
	bool stopping() const {
		return stop_.load();
	}

  private:
	struct Item {
		std::vector<Statement> statements;
		size_t rows;
	};
	void run();
	void wait_until(const std::function<bool()> &done); // caller side, abortable
	void rethrow_failure();

	SendFn send_;
	size_t max_queued_;
	std::function<bool()> should_abort_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::deque<Item> queue_;
	bool busy_ = false;
	std::exception_ptr failure_;
	std::atomic<bool> stop_{false};
	std::atomic<size_t> rows_sent_{0};
	std::thread thread_;
};

} // namespace pg2d1
