// async_sender.cpp — AsyncSender (see async_sender.hpp).
// Must never run the send function on the caller's thread or two at a time.
// Called by the migration driver.
#include "async_sender.hpp"

#include "error.hpp"

#include <chrono>
#include <csignal>
#include <pthread.h>

namespace pg2d1 {

AsyncSender::AsyncSender(SendFn send, size_t max_queued, std::function<bool()> should_abort)
    : send_(std::move(send)), max_queued_(max_queued ? max_queued : 1), should_abort_(std::move(should_abort)) {
	// Block every signal while the thread is created so it inherits a full mask: signal
	// handlers of the host process (PostgreSQL's) must only ever run on its main thread.
	sigset_t all;
	sigset_t old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	try {
		thread_ = std::thread([this] { run(); });
	} catch (...) {
		pthread_sigmask(SIG_SETMASK, &old, nullptr);
		throw;
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

AsyncSender::~AsyncSender() {
	{
		std::lock_guard<std::mutex> lock(mu_);
		stop_ = true;
		queue_.clear();
	}
	cv_.notify_all();
	if (thread_.joinable()) {
		thread_.join();
	}
}

void AsyncSender::run() {
	for (;;) {
		Item item;
		{
			std::unique_lock<std::mutex> lock(mu_);
			cv_.wait(lock, [this] { return stop_ || (!queue_.empty() && !failure_); });
			if (stop_) {
				return;
			}
			item = std::move(queue_.front());
			queue_.pop_front();
			busy_ = true;
		}
		cv_.notify_all(); // room in the queue
		std::exception_ptr err;
		try {
			send_(std::move(item.statements));
		} catch (...) {
			err = std::current_exception();
		}
		{
			std::lock_guard<std::mutex> lock(mu_);
			busy_ = false;
			if (err) {
				failure_ = err;
				queue_.clear();
			} else {
				rows_sent_ += item.rows;
			}
		}
		cv_.notify_all();
	}
}

void AsyncSender::rethrow_failure() {
	std::exception_ptr err;
	{
		std::lock_guard<std::mutex> lock(mu_);
		err = failure_;
	}
	if (err) {
		std::rethrow_exception(err);
	}
}

void AsyncSender::wait_until(const std::function<bool()> &done) {
	std::unique_lock<std::mutex> lock(mu_);
	while (!done()) {
		if (should_abort_ && should_abort_()) {
			throw Error(sqlstate::kQueryCanceled, "canceled by user request");
		}
		cv_.wait_for(lock, std::chrono::milliseconds(50));
	}
}

void AsyncSender::submit(const std::vector<std::string> &sql, size_t rows) {
	std::vector<Statement> statements;
	statements.reserve(sql.size());
	for (const auto &s : sql)
		statements.push_back({s, {}});
	submit(std::move(statements), rows);
}

void AsyncSender::submit(std::vector<Statement> statements, size_t rows) {
	rethrow_failure();
	wait_until([this] { return failure_ || queue_.size() < max_queued_; });
	rethrow_failure();
	{
		std::lock_guard<std::mutex> lock(mu_);
		queue_.push_back({std::move(statements), rows});
	}
	cv_.notify_all();
}

void AsyncSender::drain() {
	wait_until([this] { return failure_ || (queue_.empty() && !busy_); });
	rethrow_failure();
}

} // namespace pg2d1
