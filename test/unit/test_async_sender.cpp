// test_async_sender.cpp — AsyncSender keeps order, bounds its queue, surfaces the first
// failure to the caller, stops waiting on abort, runs sends off the caller's thread, and
// stops (stop_and_join, stop_all, destructor) even while a request hangs in libcurl.
// Must never pass if a request is reordered, dropped on success, or a failure is lost, or if
// the thread or a reader of the stop flag outlives what it reads (run under ASan too).
// Run by ctest (pg2d1_unit_tests).
#include "core/async_sender.hpp"
#include "core/d1_client.hpp"
#include "core/error.hpp"

#include "loopback_server.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

using pg2d1::AsyncSender;

TEST(AsyncSender, SendsEverythingInOrderOffTheCallersThread) {
	std::mutex mu;
	std::vector<std::string> seen;
	std::thread::id caller = std::this_thread::get_id();
	std::atomic<bool> other_thread{true};
	{
		AsyncSender s(
		    [&](std::vector<pg2d1::Statement> &&st) {
			    other_thread = other_thread && std::this_thread::get_id() != caller;
			    std::this_thread::sleep_for(std::chrono::microseconds(200));
			    std::lock_guard<std::mutex> l(mu);
			    for (auto &x : st)
				    seen.push_back(x.sql);
		    },
		    2, {});
		for (int i = 0; i < 200; i++) {
			s.submit(std::vector<std::string>{std::to_string(i)}, 3);
		}
		s.drain();
		EXPECT_EQ(s.rows_sent(), 600u);
	}
	ASSERT_EQ(seen.size(), 200u);
	for (int i = 0; i < 200; i++) {
		EXPECT_EQ(seen[i], std::to_string(i));
	}
	EXPECT_TRUE(other_thread);
}

TEST(AsyncSender, QueueIsBounded) {
	std::atomic<int> started{0};
	std::atomic<bool> release{false};
	AsyncSender s(
	    [&](std::vector<pg2d1::Statement> &&) {
		    started++;
		    while (!release)
			    std::this_thread::sleep_for(std::chrono::milliseconds(1));
	    },
	    1, {});
	s.submit(std::vector<std::string>{"a"}, 1); // taken by the thread
	while (started == 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	s.submit(std::vector<std::string>{"b"}, 1); // waits in the queue
	std::atomic<bool> third_done{false};
	std::thread t([&] {
		s.submit(std::vector<std::string>{"c"}, 1); // must block: queue full
		third_done = true;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_FALSE(third_done);
	release = true;
	t.join();
	s.drain();
	EXPECT_EQ(s.rows_sent(), 3u);
}

TEST(AsyncSender, FirstFailureReachesTheCallerAndLaterRequestsAreNotSent) {
	std::atomic<int> sent{0};
	AsyncSender s(
	    [&](std::vector<pg2d1::Statement> &&st) {
		    if (st[0].sql == "bad")
			    throw pg2d1::Error("38000", "D1 rejected the statement", "d1 words");
		    sent++;
	    },
	    4, {});
	s.submit(std::vector<std::string>{"ok"}, 1);
	s.submit(std::vector<std::string>{"bad"}, 1);
	try {
		s.drain();
		FAIL() << "drain must rethrow";
	} catch (const pg2d1::Error &e) {
		EXPECT_EQ(e.sqlstate(), "38000");
		EXPECT_EQ(e.detail(), "d1 words");
	}
	EXPECT_THROW(s.submit(std::vector<std::string>{"after"}, 1), pg2d1::Error);
	EXPECT_EQ(sent, 1);
	EXPECT_EQ(s.rows_sent(), 1u);
}

TEST(AsyncSender, AbortStopsTheWait) {
	std::atomic<bool> abort{false};
	std::atomic<bool> release{false}; // the send stays busy until the test is done
	AsyncSender s(
	    [&](std::vector<pg2d1::Statement> &&) {
		    while (!release)
			    std::this_thread::sleep_for(std::chrono::milliseconds(1));
	    },
	    1, [&] { return abort.load(); });
	s.submit(std::vector<std::string>{"slow"}, 1);
	std::thread t([&] {
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		abort = true;
	});
	bool threw = false;
	try {
		s.drain();
	} catch (const pg2d1::Error &e) {
		threw = e.sqlstate() == "57014";
	}
	t.join();
	release = true;
	EXPECT_TRUE(threw) << "drain must throw 57014 on abort while a send is busy";
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
	return std::chrono::duration<double>(Clock::now() - start).count();
}

// Threads of this process, from /proc/self/task.
int thread_count() {
	DIR *d = opendir("/proc/self/task");
	if (d == nullptr)
		return -1;
	int n = 0;
	while (dirent *e = readdir(d))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void wait_for(const std::function<bool()> &cond) {
	const auto start = Clock::now();
	while (!cond() && seconds_since(start) < 10)
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	ASSERT_TRUE(cond());
}

// A send function that blocks until its sender's stop flag is set, like a D1Client polling it.
struct BlockingSend {
	std::shared_ptr<const std::atomic<bool>> token;
	std::atomic<bool> started{false};
	std::atomic<bool> returned{false};
	void operator()() {
		started = true;
		while (!token->load())
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		returned = true;
		throw pg2d1::Error("57014", "canceled by user request");
	}
};

} // namespace

TEST(AsyncSender, StopAndJoinInterruptsARequestBlockedInLibcurl) {
	::setenv("NO_PROXY", "127.0.0.1", 1);
	::setenv("no_proxy", "127.0.0.1", 1);
	pg2d1::test::ScriptedResponse slow;
	slow.body = R"({"success":true,"errors":[],"result":[{"results":[],"success":true}]})";
	slow.delay_ms = 8000;
	pg2d1::test::LoopbackServer server({slow});
	pg2d1::D1Config c;
	c.api_url = server.base_url();
	c.account_id = "acc";
	c.database_id = "db";
	c.api_token = "tok";
	c.requests_per_second = 0;
	c.max_retries = 0;
	c.request_timeout_ms = 30000;

	const int threads_before = thread_count();
	std::unique_ptr<pg2d1::D1Client> client; // outlives the sender: declared first
	std::atomic<bool> send_returned{false};
	auto sender = std::make_unique<AsyncSender>(
	    [&](std::vector<pg2d1::Statement> &&st) {
		    try {
			    client->batch(st);
		    } catch (...) {
			    send_returned = true;
			    throw;
		    }
		    send_returned = true;
	    },
	    2, std::function<bool()>{});
	// The client's abort callback holds the token, not the sender (the order migrate.cpp can use).
	client = std::make_unique<pg2d1::D1Client>(c, [token = sender->stop_token()] { return token->load(); });
	EXPECT_EQ(thread_count(), threads_before + 1);

	sender->submit(std::vector<std::string>{"SELECT 1"}, 1);
	wait_for([&] { return server.request_count() == 1; });
	std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the request is now waiting in libcurl
	EXPECT_FALSE(send_returned);
	const auto start = Clock::now();
	sender->stop_and_join();
	EXPECT_LT(seconds_since(start), 3.0) << "the stop must not wait for the server's 8 s";
	EXPECT_TRUE(send_returned) << "stop_and_join returned before the send function did";
	EXPECT_EQ(thread_count(), threads_before) << "the sender thread is gone";
	EXPECT_TRUE(sender->stopping());

	// Once stopped: nothing is reported as sent, nothing can be queued, stopping again is harmless.
	EXPECT_EQ(sender->rows_sent(), 0u);
	const pg2d1::Error e = pg2d1::test::capture_error([&] { sender->drain(); });
	EXPECT_EQ(e.sqlstate(), "57014");
	const pg2d1::Error f = pg2d1::test::capture_error([&] { sender->submit(std::vector<std::string>{"x"}, 1); });
	EXPECT_EQ(f.sqlstate(), "57014");
	sender->stop_and_join();
	AsyncSender::stop_all(); // no longer registered
	sender.reset();
}

TEST(AsyncSender, StopAllStopsEveryLiveSender) {
	BlockingSend first;
	BlockingSend second;
	AsyncSender a([&](std::vector<pg2d1::Statement> &&) { first(); }, 2, {});
	AsyncSender b([&](std::vector<pg2d1::Statement> &&) { second(); }, 2, {});
	first.token = a.stop_token();
	second.token = b.stop_token();
	a.submit(std::vector<std::string>{"a"}, 1);
	b.submit(std::vector<std::string>{"b"}, 1);
	b.submit(std::vector<std::string>{"b2"}, 1); // queued behind the blocked one: dropped
	wait_for([&] { return first.started && second.started; });
	const auto start = Clock::now();
	AsyncSender::stop_all();
	EXPECT_LT(seconds_since(start), 3.0);
	EXPECT_TRUE(first.returned);
	EXPECT_TRUE(second.returned);
	EXPECT_TRUE(a.stopping() && b.stopping());
	EXPECT_THROW(a.drain(), pg2d1::Error);
	EXPECT_THROW(b.submit(std::vector<std::string>{"c"}, 1), pg2d1::Error);
	EXPECT_EQ(b.rows_sent(), 0u);
	// the destructors run after stop_all: they join nothing and must not crash
}

TEST(AsyncSender, DestructorStopsABlockedSend) {
	BlockingSend blocked;
	const auto start = Clock::now();
	{
		AsyncSender s([&](std::vector<pg2d1::Statement> &&) { blocked(); }, 1, {});
		blocked.token = s.stop_token();
		s.submit(std::vector<std::string>{"a"}, 1);
		wait_for([&] { return blocked.started.load(); });
	}
	EXPECT_TRUE(blocked.returned);
	EXPECT_LT(seconds_since(start), 5.0);
}

TEST(AsyncSender, StopTokenOutlivesTheSender) {
	std::shared_ptr<const std::atomic<bool>> token;
	std::function<bool()> abort_callback;
	{
		AsyncSender s([](std::vector<pg2d1::Statement> &&) {}, 1, {});
		token = s.stop_token();
		abort_callback = [t = s.stop_token()] { return t->load(); };
		EXPECT_FALSE(token->load());
		EXPECT_FALSE(abort_callback());
		s.submit(std::vector<std::string>{"a"}, 2);
		s.drain();
		EXPECT_EQ(s.rows_sent(), 2u);
	}
	// The sender is gone; the flag it set on the way out is still readable (ASan: no use after free).
	EXPECT_TRUE(token->load());
	EXPECT_TRUE(abort_callback());
	AsyncSender::stop_all(); // the destroyed sender deregistered itself
	// A client whose abort callback holds the token stops at once, long after the sender died.
	pg2d1::D1Config c;
	c.api_url = "http://127.0.0.1:" + std::to_string(pg2d1::test::LoopbackServer::closed_port());
	c.account_id = "acc";
	c.database_id = "db";
	c.api_token = "tok";
	pg2d1::D1Client client(c, abort_callback);
	const pg2d1::Error e = pg2d1::test::capture_error([&] { client.batch({pg2d1::Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e.sqlstate(), "57014");
	EXPECT_EQ(client.stats().requests, 0u);
}

TEST(AsyncSender, ConcurrentStopAndJoinAndStopAllAreSafe) {
	for (int round = 0; round < 20; ++round) {
		BlockingSend blocked;
		auto s = std::make_unique<AsyncSender>([&](std::vector<pg2d1::Statement> &&) { blocked(); }, 1,
		                                       std::function<bool()>{});
		blocked.token = s->stop_token();
		s->submit(std::vector<std::string>{"a"}, 1);
		std::thread other([] { AsyncSender::stop_all(); });
		s->stop_and_join();
		other.join();
		s.reset();
		EXPECT_TRUE(!blocked.started || blocked.returned);
	}
}
