// async_sender.cpp — AsyncSender (see async_sender.hpp) and the process-wide registry behind stop_all().
// Must never run the send function on the caller's thread or two at a time, nor let the thread outlive the object.
// Called by the migration driver; stop_all() by an exit callback of the PostgreSQL side.
#include "async_sender.hpp"

#include "error.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <pthread.h>

namespace pg2d1 {

namespace {

// Live senders of the process. Leaked on purpose: exit() runs no destructor that a late
// stop_all() or a sender's destructor could race with.
struct Registry {
	std::mutex mu;
	std::vector<AsyncSender *> live;
};

Registry &registry() {
	static auto *const r = new Registry;
	return *r;
}

[[noreturn]] void throw_stopped() {
	throw Error(sqlstate::kQueryCanceled, "canceled: the D1 sender was stopped");
}

} // namespace

AsyncSender::AsyncSender(SendFn send, size_t max_queued, std::function<bool()> should_abort)
    : send_(std::move(send)), max_queued_(max_queued ? max_queued : 1), should_abort_(std::move(should_abort)),
      stop_(std::make_shared<std::atomic<bool>>(false)) {
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
	try {
		Registry &reg = registry();
		std::lock_guard<std::mutex> lock(reg.mu);
		reg.live.push_back(this);
	} catch (...) {
		stop_and_join_registered();
		throw;
	}
}

AsyncSender::~AsyncSender() {
	stop_and_join();
}

void AsyncSender::stop_and_join() noexcept {
	{
		Registry &reg = registry();
		std::lock_guard<std::mutex> lock(reg.mu);
		reg.live.erase(std::remove(reg.live.begin(), reg.live.end(), this), reg.live.end());
	}
	stop_and_join_registered();
}

void AsyncSender::stop_all() noexcept {
	Registry &reg = registry();
	std::lock_guard<std::mutex> lock(reg.mu);
	// Held while joining: a sender being destroyed on another thread waits in stop_and_join()
	// for this lock, so every pointer in the list stays valid until it was joined.
	for (AsyncSender *s : reg.live)
		s->stop_and_join_registered();
	reg.live.clear();
}

void AsyncSender::stop_and_join_registered() noexcept {
	{
		std::lock_guard<std::mutex> lock(mu_);
		stop_->store(true);
		queue_.clear();
	}
	cv_.notify_all();
	std::lock_guard<std::mutex> lock(join_mu_);
	if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
		thread_.join(); // the send function sees the flag through its abort polling and returns
}

void AsyncSender::run() {
	for (;;) {
		Item item;
		{
			std::unique_lock<std::mutex> lock(mu_);
			cv_.wait(lock, [this] { return stop_->load() || (!queue_.empty() && !failure_); });
			if (stop_->load()) {
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

// Returns when `done` holds or the sender was stopped (callers check which).
void AsyncSender::wait_until(const std::function<bool()> &done) {
	std::unique_lock<std::mutex> lock(mu_);
	while (!done() && !stop_->load()) {
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
		if (stop_->load())
			throw_stopped(); // nobody would send it
		queue_.push_back({std::move(statements), rows});
	}
	cv_.notify_all();
}

void AsyncSender::drain() {
	wait_until([this] { return failure_ || (queue_.empty() && !busy_); });
	rethrow_failure();
	if (stop_->load())
		throw_stopped(); // queued requests may have been dropped: never report them as sent
}

} // namespace pg2d1
