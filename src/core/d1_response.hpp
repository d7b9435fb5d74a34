// d1_response.hpp — parses Cloudflare v4 envelopes from D1 endpoints and classifies failures.
// Must never throw on a malformed body (HTML, empty, truncated): such bodies become a
// classified failure with the HTTP status; must never keep or echo request headers.
// Called by D1Client after every HTTP exchange; unit-tested with real and broken bodies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2d1 {

// What a caller should do about a failed exchange.
enum class FailureKind {
	None,        // success
	Transient,   // retry with backoff: transport error, 5xx, HTML body, D1 "retry" messages
	RateLimited, // HTTP 429 (API limit): wait Retry-After, then retry
	Overloaded,  // D1 overloaded / timeout / CPU / memory: back off harder, then retry
	Auth,        // 401/403, codes 1000/10000/7403/6003: do not retry
	NotFound,    // 404, 7003/7404: do not retry
	Permanent,   // SQL error (400/7500 SQLITE_*), 7400, quota: do not retry
};

const char *failure_kind_name(FailureKind k);

struct ApiMessage {
	long code = 0;
	std::string message;
};

// One statement's result. Values are rendered as text exactly: integers as decimal,
// reals as shortest round-trip text, strings as-is, null as nullopt, blobs (arrays of
// byte values) as lower-case hex, nested objects/arrays as compact JSON.
struct StatementResult {
	bool success = true;
	std::vector<std::string> columns; // in result order
	std::vector<std::vector<std::optional<std::string>>> rows;
	// meta
	double duration_ms = 0;
	long long changes = 0;
	long long rows_read = 0;
	long long rows_written = 0;
	long long size_after = 0;
};

struct Response {
	long http_status = 0;
	bool success = false;
	FailureKind failure = FailureKind::None;
	std::vector<ApiMessage> errors;          // envelope errors (with error_chain flattened after)
	std::vector<ApiMessage> messages;        // envelope messages
	std::string result_json;                 // the envelope's "result" as compact JSON ("" if absent)
	std::vector<StatementResult> statements; // for /query and /raw; empty otherwise
	std::optional<double> retry_after_s;     // from the Retry-After header, if any
	std::string body_excerpt;                // first ≤ 300 chars of a non-JSON body (for DETAIL)
	bool body_is_json = false;               // the body parsed as a JSON object
	std::string transport_error;             // set by D1Client when no HTTP response came (status 0)
	std::string cf_ray;                      // the cf-ray response header, if any (for support)

	// D1's own words or a description of the HTTP failure, for DETAIL, e.g.
	// `HTTP 400, D1 error 7500: no such table: foo: SQLITE_ERROR`,
	// `HTTP 504 with a non-JSON body: "<html> …"`, `no HTTP response: curl error 7 (…)`;
	// followed by " (Retry-After N s)" and " (cf-ray …)" when known.
	std::string describe() const;
};

// Appends a REAL exactly as result cells render it (shortest round-trip text; integral
// values below 1e21 written out in full, as JavaScript does). pg2d1_verify renders
// PostgreSQL's values with it so both sides compare in one canonical form.
void append_rendered_real(std::string &out, double v);

// Parses one HTTP exchange. `raw_shape` selects the /raw results shape
// ({columns, rows}) rather than /query's array of objects. `retry_after_header` is the
// value of a Retry-After header (delta-seconds or HTTP-date) or empty.
Response parse_response(long http_status, std::string_view body, bool raw_shape,
                        std::string_view retry_after_header = {});

// Classification by HTTP status and D1's messages (d1-rest-api.md §1.6).
FailureKind classify(long http_status, const std::vector<ApiMessage> &errors, bool body_is_json);

// Parses a Retry-After value: delta-seconds or an HTTP-date (relative to `now_epoch_s`).
std::optional<double> parse_retry_after(std::string_view value, double now_epoch_s);

} // namespace pg2d1
