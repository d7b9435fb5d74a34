// test_async_sender.cpp — AsyncSender keeps order, bounds its queue, surfaces the first
// failure to the caller, stops waiting on abort, and runs sends off the caller's thread.
// Must never pass if a request is reordered, dropped on success, or a failure is lost.
// Run by ctest (pg2d1_unit_tests).
#include "core/async_sender.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
