// test_request_sizer.cpp — RequestSizer with fake senders (splitting by the limits, halving on size-related
// failures, order and the trailer kept, regrowth after a run of successes, other failures untouched), and D1Client's
// size_failures_fail_fast through a scripted loopback server (413, overload, timeout).
// Must never assert an upper bound on elapsed time tighter than seconds (no flaky timing).
// Run by ctest (pg2d1_unit_tests).
#include "core/request_sizer.hpp"

#include "core/d1_client.hpp"

#include "loopback_server.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <jansson.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace pg2d1 {
namespace {

using test::capture_error;
using test::contains;
using test::d1_error;
using test::LoopbackServer;
using test::respond;
using test::ScriptedResponse;

Error size_error() {
	return Error::make_retryable(sqlstate::kConnectionFailure, "D1 request failed after 1 attempt",
	                             "HTTP 429, D1 error 7500: D1 DB is overloaded. Requests queued for too long.")
	    .mark_size_related();
}

// `n` statements "S0", "S1", … padded to `bytes` bytes each; the last is the trailer when `trailer` is set.
std::vector<Statement> statements(size_t n, size_t bytes, bool trailer = false) {
	std::vector<Statement> out;
	for (size_t i = 0; i < n; ++i) {
		std::string sql = (trailer && i + 1 == n) ? "TRAILER" : "S" + std::to_string(i);
		sql.resize(std::max(bytes, sql.size()), ' ');
		out.push_back(Statement{sql, {}});
	}
	return out;
}

std::string name_of(const Statement &s) {
	return s.sql.substr(0, s.sql.find(' '));
}

size_t request_bytes(const std::vector<Statement> &request) {
	size_t b = 0;
	for (const auto &s : request)
		b += statement_bytes(s);
	return b;
}

// Records every call and every acknowledged statement.
struct FakeD1 {
	size_t fail_over_bytes = SIZE_MAX; // a request larger than this fails as "too large"
	std::vector<std::vector<std::string>> calls;
	std::vector<std::string> acknowledged;
	std::vector<size_t> acknowledged_request_bytes;
	// for every request carrying the trailer: statements acknowledged before it plus those ahead of it in the request
	std::vector<size_t> trailer_positions;

	std::function<void(std::vector<Statement> &)> sender() {
		return [this](std::vector<Statement> &request) {
			std::vector<std::string> names;
			for (const auto &s : request)
				names.push_back(name_of(s));
			calls.push_back(names);
			for (size_t i = 0; i < names.size(); ++i) {
				if (names[i] == "TRAILER") {
					EXPECT_EQ(i + 1, names.size()) << "the trailer is the last statement of its request";
					trailer_positions.push_back(acknowledged.size() + i);
				}
			}
			if (request_bytes(request) > fail_over_bytes)
				throw size_error();
			acknowledged.insert(acknowledged.end(), names.begin(), names.end());
			acknowledged_request_bytes.push_back(request_bytes(request));
		};
	}
};

std::vector<std::string> names(const std::vector<Statement> &v) {
	std::vector<std::string> out;
	for (const auto &s : v)
		out.push_back(name_of(s));
	return out;
}

TEST(RequestSizer, StatementBytesCountsSqlAndParameters) {
	EXPECT_EQ(statement_bytes(Statement{"SELECT ?1, ?2", {std::string("abcd"), std::nullopt}}), 13u + 4u);
	EXPECT_EQ(statement_bytes(Statement{"", {}}), 0u);
}

TEST(RequestSizer, EverythingWithinTheLimitsIsOneRequest) {
	RequestSizer sizer(100000, 50);
	FakeD1 d1;
	const auto input = statements(10, 100, true);
	sizer.send(input, d1.sender());
	ASSERT_EQ(d1.calls.size(), 1u);
	EXPECT_EQ(d1.calls[0], names(input));
	EXPECT_EQ(sizer.shrinks(), 0u);
	EXPECT_EQ(sizer.current_bytes(), 100000u);
	EXPECT_EQ(sizer.current_statements(), 50u);
}

TEST(RequestSizer, SplitsByStatementsAndBytesInOrder) {
	{
		RequestSizer sizer(1000000, 3);
		FakeD1 d1;
		sizer.send(statements(10, 10), d1.sender());
		ASSERT_EQ(d1.calls.size(), 4u);
		EXPECT_EQ(d1.calls[3], std::vector<std::string>{"S9"});
	}
	{
		RequestSizer sizer(250, 100); // 100-byte statements: two per request
		FakeD1 d1;
		const auto input = statements(5, 100);
		sizer.send(input, d1.sender());
		ASSERT_EQ(d1.calls.size(), 3u);
		EXPECT_EQ(d1.calls[0], (std::vector<std::string>{"S0", "S1"}));
		EXPECT_EQ(d1.acknowledged, names(input));
	}
	{
		RequestSizer sizer(250, 100); // a statement over the byte limit goes alone
		FakeD1 d1;
		std::vector<Statement> input = statements(3, 10);
		input[1].sql.resize(1000, 'x');
		sizer.send(input, d1.sender());
		ASSERT_EQ(d1.calls.size(), 3u);
		EXPECT_EQ(d1.calls[1], std::vector<std::string>{"S1"});
	}
	{
		RequestSizer sizer(1000, 10);
		FakeD1 d1;
		sizer.send({}, d1.sender());
		EXPECT_TRUE(d1.calls.empty());
	}
}

TEST(RequestSizer, HalvesOnSizeFailuresKeepingOrderAndTheTrailerLast) {
	RequestSizer sizer(1000000, 64);
	FakeD1 d1;
	d1.fail_over_bytes = 1000; // 100-byte statements: at most 10 per request pass
	const auto input = statements(64, 100, true);
	sizer.send(input, d1.sender());

	EXPECT_EQ(d1.acknowledged, names(input)) << "every statement exactly once, in order";
	for (size_t b : d1.acknowledged_request_bytes)
		EXPECT_LE(b, 1000u);
	// 64 statements (6400 B) fail, then 32 (3200 B), 16 (1600 B); 8 statements (800 B) pass
	EXPECT_EQ(sizer.shrinks(), 3u);
	EXPECT_EQ(sizer.current_statements(), 8u);
	EXPECT_EQ(sizer.current_bytes(), 800u);
	EXPECT_EQ(d1.calls.size(), 3u + 8u);
	// sent in the first (failed) request of all 64, then in the last one of 8 (S56…S62, TRAILER); each time every
	// statement ahead of it was acknowledged or in the same request (a D1 batch is atomic)
	EXPECT_EQ(d1.trailer_positions, (std::vector<size_t>{63, 63}));
	EXPECT_EQ(d1.calls.back().front(), "S56");
	EXPECT_EQ(d1.calls.back().back(), "TRAILER");
	// the limits persist: the next send starts at the reduced size
	FakeD1 again;
	again.fail_over_bytes = 1000;
	sizer.send(statements(16, 100), again.sender());
	EXPECT_EQ(again.calls.size(), 2u);
	EXPECT_EQ(sizer.shrinks(), 3u);
}

TEST(RequestSizer, AFailedShortTailRequestStillGetsSmaller) {
	RequestSizer sizer(1000000, 64);
	FakeD1 d1;
	d1.fail_over_bytes = 250;
	sizer.send(statements(3, 100), d1.sender()); // 3 fail (300 B), then 1 + 1 + 1 pass
	EXPECT_EQ(sizer.shrinks(), 1u) << "halved relative to the failed request (3 → 1), not to the limit (64 → 32)";
	EXPECT_EQ(sizer.current_statements(), 1u);
	EXPECT_EQ(d1.calls.size(), 4u);
	EXPECT_EQ(d1.acknowledged, (std::vector<std::string>{"S0", "S1", "S2"}));
}

TEST(RequestSizer, GrowsBackByAQuarterAfterTwentySuccesses) {
	RequestSizer sizer(6400, 64);
	FakeD1 d1;
	d1.fail_over_bytes = 3200;
	sizer.send(statements(64, 100), d1.sender()); // 64 fail → 32 pass twice
	EXPECT_EQ(sizer.shrinks(), 1u);
	EXPECT_EQ(sizer.current_statements(), 32u);
	EXPECT_EQ(sizer.current_bytes(), 3200u);
	EXPECT_EQ(sizer.grows(), 0u);

	FakeD1 ok;
	sizer.send(statements(32 * 18, 100), ok.sender()); // 2 + 18 = 20 successes at the reduced size
	EXPECT_EQ(ok.calls.size(), 18u);
	EXPECT_EQ(sizer.grows(), 1u);
	EXPECT_EQ(sizer.current_statements(), 40u);
	EXPECT_EQ(sizer.current_bytes(), 4000u);

	FakeD1 more;
	sizer.send(statements(40 * 19, 100), more.sender());
	EXPECT_EQ(sizer.grows(), 1u) << "19 successes are not enough";
	sizer.send(statements(40, 100), more.sender());
	EXPECT_EQ(sizer.grows(), 2u);
	EXPECT_EQ(sizer.current_statements(), 50u);
	EXPECT_EQ(sizer.current_bytes(), 5000u);

	sizer.send(statements(50 * 20 + 62 * 20, 100), more.sender()); // 50 → 62, 62 → 64 (capped)
	EXPECT_EQ(sizer.grows(), 4u);
	EXPECT_EQ(sizer.current_statements(), 64u);
	EXPECT_EQ(sizer.current_bytes(), 6400u);
	sizer.send(statements(64 * 40, 100), more.sender());
	EXPECT_EQ(sizer.grows(), 4u) << "no growth at the maximum";
	EXPECT_EQ(sizer.shrinks(), 1u);
}

TEST(RequestSizer, AFailureBreaksTheRunOfSuccesses) {
	RequestSizer sizer(1000000, 8);
	FakeD1 d1;
	d1.fail_over_bytes = 400; // 8 × 100 fails → 4
	sizer.send(statements(8 * 1, 100), d1.sender());
	EXPECT_EQ(sizer.current_statements(), 4u);
	sizer.send(statements(4 * 19, 100), d1.sender()); // 2 + 19 = 21 successes: grows 4 → 5 at the 20th
	EXPECT_EQ(sizer.grows(), 1u);
	EXPECT_EQ(sizer.current_statements(), 5u);
	sizer.send(statements(5, 100), d1.sender()); // 500 B fails → 2
	EXPECT_EQ(sizer.shrinks(), 2u);
	EXPECT_EQ(sizer.current_statements(), 2u);
}

TEST(RequestSizer, OtherFailuresPropagateUnchangedWithoutShrinking) {
	RequestSizer sizer(1000000, 50);
	int calls = 0;
	const Error e = capture_error([&] {
		sizer.send(statements(10, 100), [&](std::vector<Statement> &) {
			++calls;
			throw Error(sqlstate::kExternalRoutine, "D1 rejected the statement", "HTTP 400, D1 error 7500: boom");
		});
	});
	EXPECT_STREQ(e.what(), "D1 rejected the statement");
	EXPECT_EQ(e.detail(), "HTTP 400, D1 error 7500: boom");
	EXPECT_FALSE(e.size_related());
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(sizer.shrinks(), 0u);

	const Error retryable = capture_error([&] {
		sizer.send(statements(10, 100), [&](std::vector<Statement> &) {
			throw Error::make_retryable(sqlstate::kConnectionFailure, "D1 request failed after 6 attempts");
		});
	});
	EXPECT_TRUE(retryable.retryable());
	EXPECT_EQ(sizer.shrinks(), 0u);

	EXPECT_THROW(sizer.send(statements(10, 100), [](std::vector<Statement> &) { throw std::runtime_error("x"); }),
	             std::runtime_error);
	EXPECT_EQ(sizer.shrinks(), 0u);
}

TEST(RequestSizer, ASingleStatementThatStillFailsPropagatesRetryable) {
	RequestSizer sizer(1000000, 16);
	std::vector<size_t> sizes;
	const Error e = capture_error([&] {
		sizer.send(statements(16, 100), [&](std::vector<Statement> &request) {
			sizes.push_back(request.size());
			throw size_error();
		});
	});
	EXPECT_EQ(sizes, (std::vector<size_t>{16, 8, 4, 2, 1}));
	EXPECT_EQ(sizer.shrinks(), 4u);
	EXPECT_EQ(sizer.current_statements(), 1u) << "never below one statement";
	EXPECT_GE(sizer.current_bytes(), 1u);
	EXPECT_TRUE(e.retryable()) << "the caller's waiting-for-D1 logic applies";
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
}

TEST(RequestSizer, LimitsAreAtLeastOne) {
	RequestSizer sizer(0, 0);
	EXPECT_EQ(sizer.current_bytes(), 1u);
	EXPECT_EQ(sizer.current_statements(), 1u);
	FakeD1 d1;
	sizer.send(statements(3, 10), d1.sender());
	EXPECT_EQ(d1.calls.size(), 3u);
}

// --- through D1Client and a loopback server -------------------------------------------------------

const std::string kToken = "tok-SIZER-5ec2e7";

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
	c.size_failures_fail_fast = true;
	return c;
}

std::string ok_results(size_t n) {
	std::string body = R"({"success":true,"errors":[],"messages":[],"result":[)";
	for (size_t i = 0; i < n; ++i)
		body += std::string(i ? "," : "") + R"({"results":[],"success":true,"meta":{"changes":1,"rows_written":1}})";
	return body + "]}";
}

const char *kOverloaded = "D1 DB is overloaded. Requests queued for too long.";

// The "sql" of every statement of a recorded batch body.
std::vector<std::string> sent_sql(const std::string &body) {
	std::vector<std::string> out;
	json_error_t err;
	json_t *root = json_loadb(body.data(), body.size(), 0, &err);
	EXPECT_NE(root, nullptr) << err.text;
	json_t *batch = json_object_get(root, "batch");
	for (size_t i = 0; i < json_array_size(batch); ++i)
		out.push_back(json_string_value(json_object_get(json_array_get(batch, i), "sql")));
	json_decref(root);
	return out;
}

class RequestSizerClientTest : public ::testing::Test {
  protected:
	void SetUp() override {
		::setenv("NO_PROXY", "127.0.0.1", 1);
		::setenv("no_proxy", "127.0.0.1", 1);
	}
};

// The server stands for a proxy with a 2,500-byte body limit: it answers 413 to the two bigger requests (8 and 4
// statements of ~1,000 bytes), then takes the 2-statement ones.
TEST_F(RequestSizerClientTest, Http413ShrinksUntilTheRequestsPass) {
	const std::string html413 = "<html><head><title>413 Request Entity Too Large</title></head></html>";
	LoopbackServer server({respond(413, html413), respond(413, html413), respond(200, ok_results(2)),
	                       respond(200, ok_results(2)), respond(200, ok_results(2)), respond(200, ok_results(2))});
	D1Client client(config_for(server));
	RequestSizer sizer(1000000, 50);
	std::vector<Statement> input;
	for (int i = 0; i < 8; ++i)
		input.push_back(
		    Statement{"INSERT INTO t VALUES (" + std::to_string(i) + ",'" + std::string(1000, 'x') + "')", {}});
	sizer.send(input, [&](std::vector<Statement> &request) { client.batch(request); });

	EXPECT_EQ(sizer.shrinks(), 2u);
	EXPECT_EQ(sizer.current_statements(), 2u);
	const auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 6u);
	EXPECT_EQ(sent_sql(reqs[0].body).size(), 8u);
	EXPECT_EQ(sent_sql(reqs[1].body).size(), 4u);
	std::vector<std::string> acknowledged;
	for (size_t i = 0; i < reqs.size(); ++i) {
		if (i < 2) {
			EXPECT_GT(reqs[i].body.size(), 2500u) << "413 only for big bodies";
			continue;
		}
		EXPECT_LE(reqs[i].body.size(), 2500u);
		for (auto &sql : sent_sql(reqs[i].body))
			acknowledged.push_back(sql);
	}
	std::vector<std::string> expected;
	for (const auto &s : input)
		expected.push_back(s.sql);
	EXPECT_EQ(acknowledged, expected) << "every statement once, in order";
	EXPECT_EQ(client.stats().retries, 0u) << "a 413 is never re-sent as it was";
	EXPECT_EQ(client.stats().requests, 6u);
}

TEST_F(RequestSizerClientTest, FailFastMarksOverloadWithoutRetrying) {
	LoopbackServer server({}, respond(429, d1_error(7500, kOverloaded)));
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.batch(statements(2, 10)); });
	EXPECT_TRUE(e.size_related());
	EXPECT_TRUE(e.retryable());
	EXPECT_TRUE(contains(e.detail(), kOverloaded)) << e.detail();
	EXPECT_EQ(server.request_count(), 1u) << "thrown at once";
	EXPECT_EQ(client.stats().retries, 0u);
}

TEST_F(RequestSizerClientTest, ASingleStatementKeepsTheNormalRetries) {
	LoopbackServer server({}, respond(429, d1_error(7500, kOverloaded)));
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.batch(statements(1, 10)); });
	EXPECT_TRUE(e.retryable());
	EXPECT_TRUE(e.size_related());
	EXPECT_EQ(server.request_count(), 4u) << "1 + max_retries";
}

TEST_F(RequestSizerClientTest, WithoutFailFastSizeFailuresAreRetriedAsBefore) {
	LoopbackServer server({respond(429, d1_error(7500, "D1 DB storage operation exceeded timeout which caused "
	                                                   "object to be reset.")),
	                       respond(200, ok_results(2))});
	D1Config c = config_for(server);
	c.size_failures_fail_fast = false;
	D1Client client(c);
	EXPECT_EQ(client.batch(statements(2, 10)).size(), 2u);
	EXPECT_EQ(server.request_count(), 2u);
	EXPECT_EQ(client.stats().retries, 1u);
}

TEST_F(RequestSizerClientTest, OtherRetryableFailuresKeepTheirRetries) {
	LoopbackServer server({respond(503, "<html>503</html>"),
	                       respond(429, d1_error(971, "Please wait and consider throttling your request speed")),
	                       respond(429, d1_error(7500, kOverloaded), {{"Retry-After", "0"}}),
	                       respond(200, ok_results(2))});
	D1Client client(config_for(server));
	EXPECT_EQ(client.batch(statements(2, 10)).size(), 2u)
	    << "5xx, a rate limit and an overload with Retry-After are not size failures";
	EXPECT_EQ(server.request_count(), 4u);
	EXPECT_EQ(client.stats().retries, 3u);
}

TEST_F(RequestSizerClientTest, PermanentFailuresAreNotSizeRelated) {
	LoopbackServer server({respond(400, d1_error(7500, "no such table: t: SQLITE_ERROR"))});
	D1Client client(config_for(server));
	const Error e = capture_error([&] { client.batch(statements(2, 10)); });
	EXPECT_FALSE(e.size_related());
	EXPECT_FALSE(e.retryable());
	EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(RequestSizerClientTest, RequestTimeoutIsASizeFailure) {
	ScriptedResponse slow = respond(200, ok_results(2));
	slow.delay_ms = 1500;
	LoopbackServer server({slow});
	D1Config c = config_for(server);
	c.request_timeout_ms = 300;
	D1Client client(c);
	const Error e = capture_error([&] { client.batch(statements(2, 10)); });
	EXPECT_TRUE(e.size_related());
	EXPECT_TRUE(e.retryable());
	EXPECT_TRUE(contains(e.detail(), "curl error 28")) << e.detail();
	EXPECT_EQ(client.stats().requests, 1u) << "not retried: the sizer sends smaller requests instead";
}

} // namespace
} // namespace pg2d1
