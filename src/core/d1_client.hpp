// d1_client.hpp — synchronous D1 REST client (libcurl + jansson) with retries, backoff with
// jitter, Retry-After and a requests/s rate limiter that several clients (threads, processes) may share;
// also D1's import API (init → PUT to a presigned R2 URL → ingest → poll).
// Must never put the API token anywhere but the Authorization header of API requests: not in errors,
// messages, stats or logs, and never in an upload to a presigned URL; must never print a presigned URL's
// query string (its signature). Must never retry a permanent failure.
// Called by the PostgreSQL side (src/pg/*) for validate, setup_schema, migrate, import and query.
#pragma once

#include "d1_response.hpp"
#include "error.hpp"
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
	// batch() of more than one statement throws at once, without retries, when the failure says the request was
	// too large or too slow (HTTP 413, a request timeout, D1 overloaded or "exceeded timeout" without Retry-After):
	// the Error has size_related() set so a RequestSizer can send the same statements in smaller requests. A
	// single-statement batch keeps the normal retries. Other failures are unaffected.
	bool size_failures_fail_fast = false;
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

// One answer of D1's import endpoint (d1-rest-api.md §6): init's "upload needed" form (Response A: filename and
// upload_url), or a polling response (init's Response B, ingest, poll).
struct ImportState {
	bool ok = true;                    // result.success (false = D1's polling-failure form {success:false,error})
	std::string status;                // "active" | "complete" | "error" | "" (polling failure / init Response A)
	std::string filename;              // init Response A
	std::string upload_url;            // init Response A; empty for Response B (file already uploaded: import started)
	std::string at_bookmark;           // Time Travel bookmark of the import (poll with it)
	std::vector<std::string> messages; // D1's log lines since the last poll ("Processed 1477 queries.")
	std::string error;                 // result.error, or result.errors[] joined with "; "
	int64_t num_queries = -1;          // complete only (result.result.num_queries)
	int64_t rows_written = -1;         // complete only (result.result.meta.rows_written)
	bool needs_upload() const {
		return !upload_url.empty();
	}
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

	// Import API: POST …/d1/database/{db}/import, with batch()'s retries, rate limit, abort and error classes
	// (a poll answered 202 "active" is a success) and a request timeout of at least 90 s. `etag` is the lowercase
	// MD5 hex of the SQL file (md5.hpp); an etag that is not 32 hex digits throws Error 22023.
	// {"action":"init","etag":…}: Response A (needs_upload()) or Response B (already uploaded; import started).
	ImportState import_init(const std::string &etag);
	// PUT of the file at `file_path` to the presigned `upload_url`, streamed from disk (never loaded whole) with a
	// Content-Length, without the Authorization header or any Cloudflare header; no rate-limit slot, abortable.
	// Succeeds on HTTP 200 with an ETag equal to `etag` (quotes stripped, case-insensitive); anything else is
	// retried with backoff (transport errors too), then thrown as a retryable Error ("File could not be uploaded
	// (HTTP 500). Please retry.", "File contents did not upload successfully (ETag mismatch). Please retry.").
	// Messages name the URL as scheme://host/path only. A file that cannot be read throws a permanent Error.
	void import_upload(const std::string &upload_url, const std::string &file_path, const std::string &etag);
	// {"action":"ingest","etag":…,"filename":…}: starts the import of the uploaded file.
	ImportState import_ingest(const std::string &etag, const std::string &filename);
	// {"action":"poll","current_bookmark":…}: the import's progress since the last poll.
	ImportState import_poll(const std::string &bookmark);

	const ClientStats &stats() const {
		return stats_;
	}
	const D1Config &config() const {
		return config_;
	}

  private:
	struct Impl;
	Response exchange(const char *method, const std::string &path, const std::string *body, bool raw_shape);
	ImportState import_call(const std::string &body);
	D1Config config_;
	std::function<bool()> should_abort_;
	ClientStats stats_;
	std::unique_ptr<Impl> impl_;
};

// Serialises a batch body {"batch":[…]} exactly as D1Client sends it (for tests and
// request-size planning).
std::string batch_body(const std::vector<Statement> &statements);

} // namespace pg2d1
