// async_sender.hpp — sends requests on one background thread, in submission order, so the
// caller can read and encode the next rows while D1 answers (a pipeline one request deep
// plus a bounded queue); stop_all() stops every sender of the process from an exit callback.
// Must never reorder requests, lose a failure (the first one is rethrown to the caller on
// its next call), report requests as sent that a stop dropped, let the thread outlive the
// object, or let the thread touch anything but the send function's own state (in a
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
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pg2d1 {

class AsyncSender {
  public:
	using SendFn = std::function<void(std::vector<Statement> &&statements)>;
	// `should_abort` is polled while the caller waits; it must not throw or longjmp.
	// The send function must poll stop_token() (a D1Client's abort callback capturing it by
	// value) so that a stop interrupts a request in flight.
	AsyncSender(SendFn send, size_t max_queued, std::function<bool()> should_abort);
	~AsyncSender(); // stop_and_join(): requests not yet sent are dropped
	AsyncSender(const AsyncSender &) = delete;
	AsyncSender &operator=(const AsyncSender &) = delete;

	// Queues a request; blocks while `max_queued` are waiting. Rethrows an earlier failure;
	// throws Error 57014 once the sender was stopped.
	void submit(std::vector<Statement> statements, size_t rows);
	void submit(const std::vector<std::string> &sql, size_t rows); // statements without parameters
	// Waits until every submitted request was sent; rethrows a failure; throws Error 57014
	// when the sender was stopped (queued requests may then have been dropped).
	void drain();
	// Rows of requests sent successfully so far.
	size_t rows_sent() const {
		return rows_sent_.load();
	}
	// Set when the sender is shutting down; a send function should stop waiting then.
	bool stopping() const {
		return stop_->load();
	}
	// The stop flag itself, shared: valid whatever is destroyed first (capture it by value in
	// the send function's abort callback instead of reading the sender).
	std::shared_ptr<const std::atomic<bool>> stop_token() const {
		return stop_;
	}
	// Sets the stop flag, drops queued requests and joins the thread (which returns within the
	// send function's abort polling interval). Idempotent, thread-safe, callable from an exit
	// callback; called from the sender's own thread it only sets the flag.
	void stop_and_join() noexcept;
	// stop_and_join() on every live sender of the process (for an exit callback: proc_exit runs
	// no C++ destructors).
	static void stop_all() noexcept;

  private:
	struct Item {
		std::vector<Statement> statements;
		size_t rows;
	};
	void run();
	void wait_until(const std::function<bool()> &done); // caller side, abortable
	void rethrow_failure();
	void stop_and_join_registered() noexcept; // stop_and_join without touching the registry

	SendFn send_;
	size_t max_queued_;
	std::function<bool()> should_abort_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::deque<Item> queue_;
	bool busy_ = false;
	std::exception_ptr failure_;
	const std::shared_ptr<std::atomic<bool>> stop_;
	std::atomic<size_t> rows_sent_{0};
	std::mutex join_mu_; // serialises joins of thread_
	std::thread thread_;
};

} // namespace pg2d1
