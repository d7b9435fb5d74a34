// d1_client.hpp — synchronous D1 REST client (libcurl + jansson) with retries, backoff with
// jitter, Retry-After and a requests/s rate limiter that several clients (threads, processes) may share.
// Must never put the API token anywhere but the Authorization header: not in errors,
// messages, stats or logs. Must never retry a permanent failure.
// Called by the PostgreSQL side (src/pg/*) for validate, setup_schema, migrate and query.
#pragma once

#include "d1_response.hpp"
#include "rate_limiter.hpp"
#include "statement.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

struct D1Config {
	std::string api_url = "https://api.cloudflare.com/client/v4"; // no trailing slash needed
	std::string account_id;
	std::string database_id;
	std::string api_token;
	long request_timeout_ms = 60000;
	long connect_timeout_ms = 10000;
	int max_retries = 5;              // retries after the first attempt, for retryable failures
	double requests_per_second = 3.5; // slot spacing in the rate limiter; <= 0 disables (pauses still apply)
	double backoff_base_ms = 500;     // first backoff; doubles each retry, ±25 % jitter
	double backoff_max_ms = 30000;
	uint64_t jitter_seed = 0; // 0 = seeded from the clock
	// Shared budget: every client given the same limiter sends at most requests_per_second in total, and a
	// 429 / Retry-After seen by one of them pauses them all. nullptr: the client makes a private one.
	std::shared_ptr<RateLimiter> rate_limiter;
};

struct ClientStats {
	uint64_t requests = 0; // HTTP exchanges, retries included
	uint64_t retries = 0;
	uint64_t bytes_sent = 0; // request bodies
	uint64_t bytes_received = 0;
	double wait_ms = 0; // time slept for rate limiting and backoff
};

// Adds another client's counters (a worker sums its bookkeeping and data clients).
inline ClientStats &operator+=(ClientStats &a, const ClientStats &b) {
	a.requests += b.requests;
	a.retries += b.retries;
	a.bytes_sent += b.bytes_sent;
	a.bytes_received += b.bytes_received;
	a.wait_ms += b.wait_ms;
	return a;
}

struct DatabaseInfo {
	std::string uuid;
	std::string name;
	std::string version;
	long long num_tables = 0;
	long long file_size = 0;
};

struct TokenInfo {
	std::string id;
	std::string status; // "active", "disabled", "expired"
};

class D1Client {
  public:
	// `should_abort` is polled while waiting (backoff, rate limit, transfers); when it
	// returns true the call throws Error 57014. It must not throw or longjmp.
	explicit D1Client(D1Config config, std::function<bool()> should_abort = {});
	~D1Client();
	D1Client(const D1Client &) = delete;
	D1Client &operator=(const D1Client &) = delete;

	// POST …/query with {"batch":[{sql,params?},…]}; one StatementResult per statement.
	// Throws Error (with D1's words in DETAIL) when the request finally fails. Every method throws an
	// Error with retryable() set when D1 stayed unreachable, rate-limited or overloaded through all retries
	// (the caller may wait and send the same request again), and without it for permanent failures.
	std::vector<StatementResult> batch(const std::vector<Statement> &statements);

	// POST …/raw with a single statement; columns keep their order.
	StatementResult raw(const Statement &statement);

	// POST …/query with a single sql (may hold several ';'-separated statements);
	// returns the envelope's "result" array as compact JSON text.
	std::string query_json(const std::string &sql);

	// GET …/d1/database/{id}
	DatabaseInfo database_info();

	// GET …/accounts/{account}/tokens/verify, falling back to /user/tokens/verify.
	TokenInfo verify_token();

	const ClientStats &stats() const {
		return stats_;
	}
	const D1Config &config() const {
		return config_;
	}

  private:
	struct Impl;
	Response exchange(const char *method, const std::string &path, const std::string *body, bool raw_shape);
	D1Config config_;
	std::function<bool()> should_abort_;
	ClientStats stats_;
	std::unique_ptr<Impl> impl_;
};

// Serialises a batch body {"batch":[…]} exactly as D1Client sends it (for tests and
// request-size planning).
std::string batch_body(const std::vector<Statement> &statements);

} // namespace pg2d1
