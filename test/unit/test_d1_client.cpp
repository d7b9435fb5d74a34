// test_d1_client.cpp — D1Client against a scripted loopback server: shape, retries, cancel, token secrecy, a rate
// limiter shared by several clients, and which failures are retryable.
// Must never assert an upper bound on elapsed time tighter than seconds (no flaky timing).
// Run by ctest (pg2d1_unit_tests).
#include "core/d1_client.hpp"

#include "loopback_server.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <jansson.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace pg2d1 {
namespace {

using test::capture_error;
using test::contains;
using test::d1_error;
using test::LoopbackServer;
using test::respond;
using test::ScriptedResponse;
using Clock = std::chrono::steady_clock;

const std::string kToken = "tok-SECRET-9f3a1c77e2";

double seconds_since(Clock::time_point start) {
	return std::chrono::duration<double>(Clock::now() - start).count();
}

D1Config config_for(const LoopbackServer &server) {
	D1Config c;
	c.api_url = server.base_url();
	c.account_id = "acc123";
	c.database_id = "db-456";
	c.api_token = kToken;
	c.requests_per_second = 0;
	c.backoff_base_ms = 1;
	c.backoff_max_ms = 20;
	c.max_retries = 3;
	c.jitter_seed = 1;
	c.request_timeout_ms = 10000;
	c.connect_timeout_ms = 2000;
	return c;
}

std::string ok_results(size_t n) {
	std::string body = R"({"success":true,"errors":[],"messages":[],"result":[)";
	for (size_t i = 0; i < n; ++i)
		body += std::string(i ? "," : "") + R"({"results":[{"n":)" + std::to_string(i) +
		        R"(}],"success":true,"meta":{"duration":0.1,"changes":1,"rows_written":1}})";
	return body + "]}";
}

const char *kHtml503 = "<html><body><h1>503 Service Unavailable</h1>\n  upstream   trouble</body></html>";

// Neither the token nor a recognisable piece of it.
void expect_no_token(const Error &e) {
	const std::string piece = kToken.substr(0, 10);
	EXPECT_FALSE(contains(e.what(), piece)) << e.what();
	EXPECT_FALSE(contains(e.detail(), piece)) << e.detail();
	EXPECT_FALSE(contains(e.hint(), piece)) << e.hint();
}

std::vector<Statement> two_statements() {
	return {Statement{"INSERT INTO t (id) VALUES (1)", {}}, Statement{"SELECT ?", {std::string("a\"b"), std::nullopt}}};
}

class D1ClientTest : public ::testing::Test {
  protected:
	void SetUp() override {
		::setenv("NO_PROXY", "127.0.0.1", 1); // a proxy from the environment must not catch loopback
		::setenv("no_proxy", "127.0.0.1", 1);
	}
};

TEST_F(D1ClientTest, RequestShapeHeadersBodyAndKeepAlive) {
	LoopbackServer server({respond(200, ok_results(2)), respond(200, ok_results(1))});
	D1Config c = config_for(server);
	c.api_url += "/"; // a trailing slash must not produce "//"
	D1Client client(c);
	const auto results = client.batch(two_statements());
	ASSERT_EQ(results.size(), 2u);
	EXPECT_EQ(results[1].rows[0][0], "1");
	client.batch({Statement{"SELECT 1", {}}});

	const auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 2u);
	const auto &r = reqs[0];
	EXPECT_EQ(r.method, "POST");
	EXPECT_EQ(r.target, "/client/v4/accounts/acc123/d1/database/db-456/query");
	EXPECT_EQ(r.headers.at("authorization"), "Bearer " + kToken);
	EXPECT_EQ(r.headers.at("content-type"), "application/json");
	EXPECT_EQ(r.headers.at("user-agent"), "pg2d1/0.1");
	EXPECT_EQ(r.headers.count("expect"), 0u);
	EXPECT_EQ(r.headers.count("accept-encoding"), 1u);
	EXPECT_EQ(r.body, batch_body(two_statements()));

	json_error_t err;
	json_t *root = json_loads(r.body.c_str(), 0, &err);
	ASSERT_NE(root, nullptr) << err.text;
	json_t *batch = json_object_get(root, "batch");
	ASSERT_EQ(json_array_size(batch), 2u);
	EXPECT_STREQ(json_string_value(json_object_get(json_array_get(batch, 0), "sql")), "INSERT INTO t (id) VALUES (1)");
	EXPECT_EQ(json_object_get(json_array_get(batch, 0), "params"), nullptr) << "no params key when there are none";
	json_t *params = json_object_get(json_array_get(batch, 1), "params");
	EXPECT_STREQ(json_string_value(json_array_get(params, 0)), "a\"b");
	EXPECT_TRUE(json_is_null(json_array_get(params, 1)));
	json_decref(root);

	EXPECT_EQ(reqs[1].connection, reqs[0].connection) << "the connection is kept alive and reused";
	EXPECT_EQ(client.stats().requests, 2u);
	EXPECT_EQ(client.stats().retries, 0u);
	EXPECT_EQ(client.stats().bytes_sent, reqs[0].body.size() + reqs[1].body.size());
	EXPECT_GT(client.stats().bytes_received, 0u);
}

TEST_F(D1ClientTest, LargeBodyIsSentWholeWithoutExpectContinue) {
	LoopbackServer server({respond(200, ok_results(1))});
	D1Client client(config_for(server));
	const Statement big{"SELECT '" + std::string(1500000, 'x') + "'", {}};
	client.batch({big});
	const auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 1u);
	EXPECT_EQ(reqs[0].headers.count("expect"), 0u) << "no 100-continue round trip";
	EXPECT_EQ(reqs[0].body, batch_body({big}));
}

TEST_F(D1ClientTest, RetriesHtml503ThenSucceeds) {
	LoopbackServer server({respond(503, kHtml503), respond(502, ""), respond(200, ok_results(1))});
	D1Client client(config_for(server));
	const auto results = client.batch({Statement{"SELECT 1", {}}});
	EXPECT_EQ(results.size(), 1u);
	EXPECT_EQ(server.request_count(), 3u);
	EXPECT_EQ(client.stats().requests, 3u);
	EXPECT_EQ(client.stats().retries, 2u);
}

TEST_F(D1ClientTest, SqlErrorIsNotRetried) {
	LoopbackServer server(
	    {respond(400, d1_error(7500, "no such table: foo: SQLITE_ERROR")), respond(200, ok_results(1))});
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.batch({Statement{"SELECT * FROM foo", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kExternalRoutine);
	EXPECT_STREQ(e.what(), "D1 rejected the statement");
	EXPECT_EQ(e.detail(), "HTTP 400, D1 error 7500: no such table: foo: SQLITE_ERROR");
	EXPECT_EQ(server.request_count(), 1u);
	EXPECT_EQ(client.stats().retries, 0u);
}

TEST_F(D1ClientTest, StatementTooLongIsAProgramLimit) {
	LoopbackServer server({respond(400, d1_error(7500, "statement too long: SQLITE_TOOBIG")),
	                       respond(400, d1_error(7500, "too many SQL variables at offset 411: SQLITE_ERROR")),
	                       respond(413, "<html>413 Request Entity Too Large</html>")});
	D1Client client(config_for(server));
	for (int i = 0; i < 3; ++i) {
		const Error e = capture_error([&] { client.batch({Statement{"INSERT …", {}}}); });
		EXPECT_EQ(e.sqlstate(), sqlstate::kProgramLimit);
		EXPECT_TRUE(contains(e.hint(), "pg2d1.max_")) << e.hint();
	}
	EXPECT_EQ(server.request_count(), 3u);
}

TEST_F(D1ClientTest, RateLimitedWaitsForRetryAfter) {
	LoopbackServer server(
	    {respond(429, d1_error(971, "Please wait and consider throttling your request speed"), {{"Retry-After", "1"}}),
	     respond(200, ok_results(1))});
	D1Client client(config_for(server)); // backoff alone would wait ~1 ms
	const auto start = Clock::now();
	client.batch({Statement{"SELECT 1", {}}});
	EXPECT_GE(seconds_since(start), 0.95);
	EXPECT_GE(client.stats().wait_ms, 950);
	const auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 2u);
	EXPECT_GE(std::chrono::duration<double>(reqs[1].received - reqs[0].received).count(), 0.95);
}

TEST_F(D1ClientTest, OverloadedIsRetriedWithALongerWait) {
	LoopbackServer server({respond(429, d1_error(7500, "D1 DB is overloaded. Requests queued for too long.")),
	                       respond(200, ok_results(1))});
	D1Config c = config_for(server);
	c.backoff_base_ms = 40;
	c.backoff_max_ms = 1000;
	D1Client client(c);
	client.batch({Statement{"SELECT 1", {}}});
	EXPECT_EQ(server.request_count(), 2u);
	EXPECT_GE(client.stats().wait_ms, 2 * 40 * 0.75) << "overload doubles the jittered backoff";
}

TEST_F(D1ClientTest, RetriesExhaustedGive08006WithD1sWords) {
	LoopbackServer server({},
	                      respond(500, d1_error(7500, "Network connection lost."), {{"cf-ray", "8a1b2c3d4e5f-AMS"}}));
	D1Config c = config_for(server);
	c.max_retries = 2;
	D1Client client(c);
	const Error e = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
	EXPECT_STREQ(e.what(), "D1 request failed after 3 attempts");
	EXPECT_TRUE(contains(e.detail(), "D1 error 7500: Network connection lost.")) << e.detail();
	EXPECT_TRUE(contains(e.detail(), "cf-ray 8a1b2c3d4e5f-AMS")) << e.detail();
	EXPECT_FALSE(e.hint().empty());
	EXPECT_EQ(server.request_count(), 3u);
	EXPECT_EQ(client.stats().retries, 2u);
}

TEST_F(D1ClientTest, Html504ExhaustedDescribesTheBody) {
	LoopbackServer server({}, respond(504, "<html>\n<title>504 Gateway Time-out</title>\n</html>"));
	D1Config c = config_for(server);
	c.max_retries = 1;
	D1Client client(c);
	const Error e = capture_error([&] { client.query_json("SELECT 1"); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
	EXPECT_EQ(e.detail(), "HTTP 504 with a non-JSON body: \"<html> <title>504 Gateway Time-out</title> </html>\"");
}

TEST_F(D1ClientTest, AuthFailureIs28000WithoutRetry) {
	LoopbackServer server(
	    {respond(403, d1_error(7403, "The given account is not valid or is not authorized to access this service"))});
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidAuthorization);
	EXPECT_TRUE(contains(e.detail(), "7403")) << e.detail();
	EXPECT_TRUE(contains(e.hint(), "D1 Edit permission")) << e.hint();
	EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(D1ClientTest, UnknownDatabaseIs42704) {
	LoopbackServer server({respond(404, d1_error(7404, "The database db-456 could not be found"))});
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.database_info(); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kUndefinedObject);
	EXPECT_TRUE(contains(e.hint(), "account_id and database_id"));
	EXPECT_EQ(server.request_count(), 1u);
	EXPECT_EQ(server.requests()[0].method, "GET");
}

TEST_F(D1ClientTest, AbortDuringTransferThrows57014Quickly) {
	ScriptedResponse slow = respond(200, ok_results(1));
	slow.delay_ms = 8000;
	LoopbackServer server({slow});
	const auto start = Clock::now();
	D1Client client(config_for(server), [&] { return seconds_since(start) > 0.2; });
	const Error e = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kQueryCanceled);
	EXPECT_STREQ(e.what(), "canceled by user request");
	EXPECT_LT(seconds_since(start), 4.0) << "cancel must not wait for the server";
}

TEST_F(D1ClientTest, AbortDuringBackoffThrows57014Quickly) {
	LoopbackServer server({}, respond(503, kHtml503));
	D1Config c = config_for(server);
	c.backoff_base_ms = 20000;
	c.backoff_max_ms = 20000;
	std::atomic<bool> abort{false};
	D1Client client(c, [&] { return abort.load(); });
	std::thread trigger([&] {
		while (server.request_count() == 0)
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		abort = true;
	});
	const auto start = Clock::now();
	const Error e = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	trigger.join();
	EXPECT_EQ(e.sqlstate(), sqlstate::kQueryCanceled);
	EXPECT_LT(seconds_since(start), 5.0);
	EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(D1ClientTest, ConnectionRefusedIsRetriedThenFails) {
	D1Config c;
	c.api_url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/client/v4";
	c.account_id = "acc";
	c.database_id = "db";
	c.api_token = kToken;
	c.requests_per_second = 0;
	c.backoff_base_ms = 1;
	c.backoff_max_ms = 5;
	c.max_retries = 2;
	D1Client client(c);
	const Error e = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
	EXPECT_STREQ(e.what(), "D1 request failed after 3 attempts");
	EXPECT_TRUE(contains(e.detail(), "no HTTP response: curl error 7")) << e.detail();
	EXPECT_TRUE(contains(e.detail(), "127.0.0.1")) << e.detail();
	EXPECT_EQ(client.stats().requests, 3u);
}

TEST_F(D1ClientTest, TimeoutIsTransient) {
	ScriptedResponse slow = respond(200, ok_results(1));
	slow.delay_ms = 3000;
	LoopbackServer server({slow});
	D1Config c = config_for(server);
	c.request_timeout_ms = 200;
	c.max_retries = 0;
	D1Client client(c);
	const Error e = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
	EXPECT_STREQ(e.what(), "D1 request failed after 1 attempt");
	EXPECT_TRUE(contains(e.detail(), "curl error 28")) << e.detail();
}

TEST_F(D1ClientTest, DroppedConnectionIsRetried) {
	ScriptedResponse drop;
	drop.close_without_response = true;
	LoopbackServer server({drop, respond(200, ok_results(1))});
	D1Client client(config_for(server));
	EXPECT_EQ(client.batch({Statement{"SELECT 1", {}}}).size(), 1u);
	EXPECT_EQ(server.request_count(), 2u);
}

// Every failure path we can provoke: the token appears in no error field.
TEST_F(D1ClientTest, TokenNeverAppearsInAnyError) {
	ScriptedResponse echo;
	echo.status = 502;
	echo.echo_request_head = true; // a misbehaving proxy echoing our request headers
	ScriptedResponse slow = respond(200, ok_results(1));
	slow.delay_ms = 3000;
	LoopbackServer server({
	    respond(400, d1_error(7500, "no such table: foo: SQLITE_ERROR")),
	    respond(401, d1_error(10000, "Authentication error")),
	    respond(404, d1_error(7404, "not found")),
	    respond(429, d1_error(971, "slow down"), {{"Retry-After", "0"}}),
	    respond(503, kHtml503),
	    echo,
	    respond(400, d1_error(6003, "Invalid format for Authorization header: Bearer " + kToken)),
	    respond(200, R"({"success":true,"result":[]})"),
	    respond(502, std::string(280, 'x') + " Bearer " + kToken + " tail"), // excerpt cut inside the token
	    respond(401, d1_error(1000, "Invalid API Token")),
	    respond(401, d1_error(1000, "Invalid API Token " + kToken)),
	    slow,
	});
	D1Config c = config_for(server);
	c.max_retries = 0;
	const auto start = Clock::now();
	D1Client client(c, [&] { return seconds_since(start) > 1.5 && server.request_count() >= 12; });
	std::vector<Error> errors;
	for (int i = 0; i < 9; ++i)
		errors.push_back(capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); }));
	errors.push_back(capture_error([&] { client.verify_token(); }));
	errors.push_back(capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); })); // canceled
	EXPECT_TRUE(contains(errors[5].detail(), "[redacted]")) << errors[5].detail();
	EXPECT_EQ(errors.back().sqlstate(), sqlstate::kQueryCanceled);

	D1Config refused = c;
	refused.api_url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port());
	D1Client refused_client(refused);
	errors.push_back(capture_error([&] { refused_client.database_info(); }));

	D1Config bad_url = c;
	bad_url.api_url = "ftp://" + kToken;
	errors.push_back(capture_error([&] { D1Client x(bad_url); }));
	D1Config bad_token = c;
	bad_token.api_token = kToken + "\r\nX-Injected: 1";
	errors.push_back(capture_error([&] { D1Client x(bad_token); }));

	for (const auto &e : errors) {
		EXPECT_FALSE(e.sqlstate().empty());
		expect_no_token(e);
	}
}

TEST_F(D1ClientTest, RateLimiterSpacesRequests) {
	LoopbackServer server({}, respond(200, ok_results(1)));
	D1Config c = config_for(server);
	c.requests_per_second = 20;
	D1Client client(c);
	const int n = 6;
	const auto start = Clock::now();
	for (int i = 0; i < n; ++i)
		client.batch({Statement{"SELECT 1", {}}});
	EXPECT_GE(seconds_since(start), (n - 1) / 20.0 * 0.95);
	const auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), static_cast<size_t>(n));
	// Arrivals, less half an interval: the first request also opened the connection, so it may arrive later
	// after its slot than the others (seen under ASan on a loaded machine).
	EXPECT_GE(std::chrono::duration<double>(reqs.back().received - reqs.front().received).count(), (n - 1.5) / 20.0);
	EXPECT_GT(client.stats().wait_ms, 0);
}

// A shared limiter that counts what the clients ask of it.
class RecordingLimiter : public RateLimiter {
  public:
	int64_t reserve(int64_t now_ns, double rps) override {
		++reserves;
		const int64_t at = inner.reserve(now_ns, rps);
		std::lock_guard<std::mutex> lock(mu);
		slots.push_back(at);
		return at;
	}
	void pause_until(int64_t until_ns) override {
		inner.pause_until(until_ns);
		++pauses;
	}
	LocalRateLimiter inner;
	std::atomic<int> reserves{0};
	std::atomic<int> pauses{0};
	std::mutex mu;
	std::vector<int64_t> slots; // what reserve() handed out
};

// The loopback server serves one connection at a time, so each client gets its own server; both record
// arrival times on the same steady clock.
TEST_F(D1ClientTest, TwoClientsSharingALimiterSendAtTheSharedRate) {
	LoopbackServer server_a({}, respond(200, ok_results(1)));
	LoopbackServer server_b({}, respond(200, ok_results(1)));
	auto limiter = std::make_shared<RecordingLimiter>();
	D1Config ca = config_for(server_a);
	D1Config cb = config_for(server_b);
	ca.requests_per_second = cb.requests_per_second = 20;
	ca.rate_limiter = cb.rate_limiter = limiter;
	D1Client a(ca);
	D1Client b(cb);
	const int per_client = 4, n = 2 * per_client;
	const auto start = Clock::now();
	std::thread ta([&] {
		for (int i = 0; i < per_client; ++i)
			a.batch({Statement{"SELECT 1", {}}});
	});
	std::thread tb([&] {
		for (int i = 0; i < per_client; ++i)
			b.batch({Statement{"SELECT 1", {}}});
	});
	ta.join();
	tb.join();
	// Each on its own bucket, they would finish in (per_client - 1) / rps = 0.15 s; sharing one, in (n - 1) / rps.
	EXPECT_GE(seconds_since(start), (n - 1) / 20.0 * 0.95);
	EXPECT_EQ(limiter->reserves, n);
	std::vector<int64_t> slots = limiter->slots;
	std::sort(slots.begin(), slots.end());
	for (size_t i = 1; i < slots.size(); ++i)
		EXPECT_GE(slots[i] - slots[i - 1], 50 * 1000000) << "slots " << i - 1 << " and " << i;
	// What the servers saw: arrivals jitter by the connection setup and the machine's load, so the bound sits
	// between the unshared 0.15 s and the shared 0.35 s.
	std::vector<Clock::time_point> times;
	for (const auto *server : {&server_a, &server_b})
		for (const auto &r : server->requests())
			times.push_back(r.received);
	ASSERT_EQ(times.size(), static_cast<size_t>(n));
	std::sort(times.begin(), times.end());
	EXPECT_GE(std::chrono::duration<double>(times.back() - times.front()).count(), 0.25);
	EXPECT_GT(a.stats().wait_ms + b.stats().wait_ms, 0);
}

TEST_F(D1ClientTest, RetryAfterSeenByOneClientDelaysAnother) {
	LoopbackServer server_a(
	    {respond(429, d1_error(971, "Please wait and consider throttling your request speed"), {{"Retry-After", "1"}}),
	     respond(200, ok_results(1))});
	LoopbackServer server_b({}, respond(200, ok_results(1)));
	auto limiter = std::make_shared<RecordingLimiter>();
	D1Config ca = config_for(server_a);
	D1Config cb = config_for(server_b);
	ca.rate_limiter = cb.rate_limiter = limiter; // requests_per_second = 0: only the pause holds B back
	D1Client a(ca);
	D1Client b(cb);
	std::thread ta([&] { a.batch({Statement{"SELECT 1", {}}}); });
	while (limiter->pauses == 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	b.batch({Statement{"SELECT 1", {}}});
	ta.join();
	const auto first = server_a.requests().at(0).received;
	ASSERT_EQ(server_b.request_count(), 1u);
	EXPECT_GE(std::chrono::duration<double>(server_b.requests()[0].received - first).count(), 0.95)
	    << "B must wait out the Retry-After A was given";
	EXPECT_GE(b.stats().wait_ms, 800);
	EXPECT_EQ(b.stats().retries, 0u);
	ASSERT_EQ(server_a.request_count(), 2u);
	EXPECT_GE(std::chrono::duration<double>(server_a.requests()[1].received - first).count(), 0.95);
}

TEST_F(D1ClientTest, A429WithoutRetryAfterPausesOthersForTheBackoff) {
	LoopbackServer server_a({respond(429, d1_error(971, "slow down")), respond(200, ok_results(1))});
	LoopbackServer server_b({}, respond(200, ok_results(1)));
	auto limiter = std::make_shared<RecordingLimiter>();
	D1Config ca = config_for(server_a);
	ca.backoff_base_ms = 400;
	ca.backoff_max_ms = 400;
	D1Config cb = config_for(server_b);
	ca.rate_limiter = cb.rate_limiter = limiter;
	D1Client a(ca);
	D1Client b(cb);
	std::thread ta([&] { a.batch({Statement{"SELECT 1", {}}}); });
	while (limiter->pauses == 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	b.batch({Statement{"SELECT 1", {}}});
	ta.join();
	const auto first = server_a.requests().at(0).received;
	EXPECT_GE(std::chrono::duration<double>(server_b.requests().at(0).received - first).count(), 0.3);
	EXPECT_EQ(limiter->pauses, 1);
}

TEST_F(D1ClientTest, RetryableOnlyWhenTheFailureMayPass) {
	LoopbackServer placeholder; // only for the settings of config_for
	D1Config base = config_for(placeholder);
	// connection refused on a closed port, retries exhausted
	D1Config refused = base;
	refused.api_url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/client/v4";
	refused.max_retries = 1;
	const Error e_refused = capture_error([&] { D1Client(refused).batch({Statement{"SELECT 1", {}}}); });
	EXPECT_TRUE(e_refused.retryable()) << e_refused.detail();
	EXPECT_EQ(e_refused.sqlstate(), sqlstate::kConnectionFailure);

	// a timeout
	ScriptedResponse slow = respond(200, ok_results(1));
	slow.delay_ms = 3000;
	LoopbackServer slow_server({slow});
	D1Config timeout = config_for(slow_server);
	timeout.request_timeout_ms = 200;
	timeout.max_retries = 0;
	const Error e_timeout = capture_error([&] { D1Client(timeout).batch({Statement{"SELECT 1", {}}}); });
	EXPECT_TRUE(e_timeout.retryable()) << e_timeout.detail();

	// 503 / 429 / overloaded after every retry (one server per client: the server serves one connection at a time)
	LoopbackServer server({respond(503, kHtml503), respond(503, kHtml503), respond(503, kHtml503),
	                       respond(401, d1_error(10000, "Authentication error")),
	                       respond(404, d1_error(7404, "The database could not be found")),
	                       respond(400, d1_error(7500, "no such table: foo: SQLITE_ERROR"))});
	D1Config c = config_for(server);
	c.max_retries = 2;
	D1Client client(c);
	const Error e_503 = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_STREQ(e_503.what(), "D1 request failed after 3 attempts");
	EXPECT_TRUE(e_503.retryable());
	EXPECT_EQ(server.request_count(), 3u);
	LoopbackServer busy_server({respond(429, d1_error(971, "slow down"), {{"Retry-After", "0"}}),
	                            respond(429, d1_error(7500, "D1 DB is overloaded. Requests queued for too long."))});
	D1Config once = config_for(busy_server);
	once.max_retries = 0;
	D1Client client_once(once);
	const Error e_429 = capture_error([&] { client_once.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_TRUE(e_429.retryable()) << e_429.detail();
	const Error e_overloaded = capture_error([&] { client_once.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_TRUE(e_overloaded.retryable()) << e_overloaded.detail();

	// permanent failures are not
	const Error e_401 = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_EQ(e_401.sqlstate(), sqlstate::kInvalidAuthorization);
	EXPECT_FALSE(e_401.retryable());
	const Error e_404 = capture_error([&] { client.database_info(); });
	EXPECT_EQ(e_404.sqlstate(), sqlstate::kUndefinedObject);
	EXPECT_FALSE(e_404.retryable());
	const Error e_sql = capture_error([&] { client.batch({Statement{"SELECT * FROM foo", {}}}); });
	EXPECT_EQ(e_sql.sqlstate(), sqlstate::kExternalRoutine);
	EXPECT_FALSE(e_sql.retryable());
	EXPECT_EQ(server.request_count(), 6u) << "permanent failures are sent once";

	// a permanent transport error (curl rejects the URL): not retried, not retryable
	D1Config bad_port = base;
	bad_port.api_url = "http://127.0.0.1:99999/client/v4";
	D1Client bad(bad_port);
	const Error e_url = capture_error([&] { bad.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_FALSE(e_url.retryable()) << e_url.detail();
	EXPECT_TRUE(contains(e_url.detail(), "curl error 3")) << e_url.detail();
	EXPECT_EQ(bad.stats().requests, 1u);

	// errors built without the factory (every other call site) stay non-retryable
	EXPECT_FALSE(Error(sqlstate::kInternal, "x").retryable());
	EXPECT_TRUE(Error::make_retryable(sqlstate::kConnectionFailure, "x", "d", "h").retryable());
}

TEST_F(D1ClientTest, VerifyTokenAtTheAccountEndpoint) {
	LoopbackServer server({respond(
	    200,
	    R"({"result":{"id":"6247ac8d9c10ba11154a2b82d35953b7","status":"active"},"success":true,"errors":[],"messages":[{"code":10000,"message":"This API Token is valid and active","type":null}]})")});
	D1Client client(config_for(server));
	const TokenInfo t = client.verify_token();
	EXPECT_EQ(t.id, "6247ac8d9c10ba11154a2b82d35953b7");
	EXPECT_EQ(t.status, "active");
	ASSERT_EQ(server.request_count(), 1u);
	EXPECT_EQ(server.requests()[0].target, "/client/v4/accounts/acc123/tokens/verify");
	EXPECT_EQ(server.requests()[0].method, "GET");
}

TEST_F(D1ClientTest, VerifyTokenFallsBackToTheUserEndpoint) {
	LoopbackServer server({respond(401, d1_error(1000, "Invalid API Token")),
	                       respond(200, R"({"result":{"id":"abc","status":"expired"},"success":true,"errors":[]})")});
	D1Client client(config_for(server));
	const TokenInfo t = client.verify_token();
	EXPECT_EQ(t.status, "expired");
	const auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 2u);
	EXPECT_EQ(reqs[1].target, "/client/v4/user/tokens/verify");
}

TEST_F(D1ClientTest, VerifyTokenFailingBothWaysNamesBoth) {
	LoopbackServer server(
	    {respond(404, d1_error(7003, "No route for the URI")), respond(401, d1_error(1000, "Invalid API Token"))});
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.verify_token(); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidAuthorization);
	EXPECT_TRUE(contains(e.detail(), "account endpoint: HTTP 404")) << e.detail();
	EXPECT_TRUE(contains(e.detail(), "user endpoint: HTTP 401, D1 error 1000")) << e.detail();
}

TEST_F(D1ClientTest, DatabaseInfo) {
	LoopbackServer server({respond(
	    200,
	    R"({"success":true,"errors":[],"messages":[],"result":{"uuid":"xxxxxxxx-xxxx","name":"my-database","created_at":"2022-11-15T18:25:44.442097Z","version":"production","num_tables":12,"file_size":53248,"jurisdiction":null}})")});
	D1Client client(config_for(server));
	const DatabaseInfo info = client.database_info();
	EXPECT_EQ(info.uuid, "xxxxxxxx-xxxx");
	EXPECT_EQ(info.name, "my-database");
	EXPECT_EQ(info.version, "production");
	EXPECT_EQ(info.num_tables, 12);
	EXPECT_EQ(info.file_size, 53248);
	EXPECT_EQ(server.requests()[0].target, "/client/v4/accounts/acc123/d1/database/db-456");
}

TEST_F(D1ClientTest, RawKeepsColumnOrder) {
	LoopbackServer server({respond(
	    200,
	    R"({"success":true,"errors":[],"messages":[],"result":[{"results":{"columns":["z","a"],"rows":[[1,"x"],[2,null]]},"success":true,"meta":{"rows_read":2}}]})")});
	D1Client client(config_for(server));
	const StatementResult r = client.raw(Statement{"SELECT z, a FROM t WHERE id > ?", {std::string("0")}});
	EXPECT_EQ(r.columns, (std::vector<std::string>{"z", "a"}));
	EXPECT_EQ(r.rows[1], (std::vector<std::optional<std::string>>{"2", std::nullopt}));
	EXPECT_EQ(r.rows_read, 2);
	const auto req = server.requests()[0];
	EXPECT_EQ(req.target, "/client/v4/accounts/acc123/d1/database/db-456/raw");
	EXPECT_EQ(req.body, R"({"sql":"SELECT z, a FROM t WHERE id > ?","params":["0"]})");
}

TEST_F(D1ClientTest, QueryJsonReturnsTheResultArray) {
	LoopbackServer server({respond(200, ok_results(2))});
	D1Client client(config_for(server));
	const std::string json = client.query_json("SELECT 0; SELECT 1");
	EXPECT_EQ(json.substr(0, 22), R"([{"results":[{"n":0}],)");
	EXPECT_EQ(server.requests()[0].body, R"({"sql":"SELECT 0; SELECT 1"})");
}

TEST_F(D1ClientTest, BatchChecksOneResultPerStatement) {
	LoopbackServer server({respond(200, ok_results(1)),
	                       respond(200, R"({"success":true,"errors":[],"result":[{"results":[],"success":false}]})")});
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.batch(two_statements()); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kExternalRoutine);
	EXPECT_STREQ(e.what(), "D1 returned 1 results for 2 statements");
	const Error f = capture_error([&] { client.batch({Statement{"SELECT 1", {}}}); });
	EXPECT_STREQ(f.what(), "D1 reported statement 1 of 1 as failed");
	EXPECT_TRUE(client.batch({}).empty()) << "an empty batch sends nothing";
	EXPECT_EQ(server.request_count(), 2u);
}

TEST(D1ClientConfig, InvalidConfigurationIs22023WithAHint) {
	D1Config good;
	good.account_id = "a";
	good.database_id = "d";
	good.api_token = "t";
	const std::vector<std::pair<std::string, std::function<void(D1Config &)>>> cases = {
	    {"empty account", [](D1Config &c) { c.account_id.clear(); }},
	    {"empty database", [](D1Config &c) { c.database_id.clear(); }},
	    {"empty token", [](D1Config &c) { c.api_token.clear(); }},
	    {"ftp url", [](D1Config &c) { c.api_url = "ftp://api.cloudflare.com"; }},
	    {"no scheme", [](D1Config &c) { c.api_url = "api.cloudflare.com/client/v4"; }},
	    {"path in account", [](D1Config &c) { c.account_id = "../user"; }},
	    {"newline in token", [](D1Config &c) { c.api_token = "abc\ndef"; }},
	    {"negative retries", [](D1Config &c) { c.max_retries = -1; }},
	};
	for (const auto &[name, mutate] : cases) {
		D1Config c = good;
		mutate(c);
		const Error e = capture_error([&] { D1Client client(c); });
		EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidParameter) << name;
		EXPECT_FALSE(e.hint().empty()) << name;
	}
	EXPECT_NO_THROW(D1Client client(good));
}

TEST(BatchBody, ExactJsonWithoutNullParams) {
	EXPECT_EQ(batch_body(two_statements()),
	          R"js({"batch":[{"sql":"INSERT INTO t (id) VALUES (1)"},{"sql":"SELECT ?","params":["a\"b",null]}]})js");
	EXPECT_EQ(batch_body({Statement{"SELECT '\xE6\x9D\xB1\n'", {}}}),
	          "{\"batch\":[{\"sql\":\"SELECT '\xE6\x9D\xB1\\n'\"}]}");
	EXPECT_EQ(batch_body({}), R"({"batch":[]})");
}

TEST(BatchBody, InvalidUtf8Is22000) {
	const Error e = capture_error([] { batch_body({Statement{"SELECT '\xC3\x28'", {}}}); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kDataException);
	EXPECT_TRUE(contains(e.what(), "statement 1"));
	const Error p = capture_error([] { batch_body({Statement{"SELECT ?", {std::string("\xFF")}}}); });
	EXPECT_EQ(p.sqlstate(), sqlstate::kDataException);
	EXPECT_TRUE(contains(p.what(), "parameter 1 of statement 1")) << p.what();
}

} // namespace
} // namespace pg2d1
