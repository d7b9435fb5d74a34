// d1_client.cpp — D1 REST client: reused libcurl handle, jittered backoff, Retry-After, shared rate limit, aborts;
// the import API, with the file streamed to a presigned R2 URL by a second handle that never carries the token.
// Must never put the API token anywhere but the Authorization header of API requests, print a presigned URL's
// query string, retry a permanent failure, load an import file into memory, or raise signals.
// Called by the PostgreSQL side (src/pg/*) for validate, setup_schema, migrate, import and query.
#include "d1_client.hpp"

#include "error.hpp"

#include <curl/curl.h>
#include <jansson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <ctime>
#include <strings.h>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <thread>

namespace pg2d1 {

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

constexpr auto kSlice = std::chrono::milliseconds(50); // longest wait between abort polls
constexpr int kSliceMs = 50;
constexpr double kMaxRetryAfterS = 300;                 // Cloudflare blocks for at most 5 minutes
constexpr size_t kMaxResponseBytes = size_t(256) << 20; // D1 caps results at 50 MB
constexpr const char *kUserAgent = "pg2d1/0.1";
// /import answers slowly (init has been seen to time out at D1's gateway after 60 s): never wait less than this.
constexpr long kImportTimeoutMs = 90000;
// An upload of up to 5 GB has no total timeout; it fails when under 1 KiB/s for the request timeout (≥ this).
constexpr long kUploadLowSpeedBytes = 1024;
constexpr long kUploadMinStallS = 30;

struct JsonDeleter {
	void operator()(json_t *j) const {
		json_decref(j);
	}
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;

void init_curl_once() {
	static std::once_flag once;
	static CURLcode result = CURLE_OK;
	std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
	if (result != CURLE_OK)
		throw Error(sqlstate::kInternal, "libcurl could not be initialised", curl_easy_strerror(result));
}

// --- configuration ----------------------------------------------------------------------

[[noreturn]] void bad_config(const std::string &message, const std::string &hint) {
	throw Error(sqlstate::kInvalidParameter, message, {}, hint);
}

bool is_path_safe(const std::string &s) {
	return std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
	});
}

bool is_header_safe(const std::string &s) {
	return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c > 0x20 && c < 0x7F; });
}

bool starts_with(const std::string &s, const char *prefix) {
	return s.compare(0, std::strlen(prefix), prefix) == 0;
}

void validate_config(const D1Config &c) {
	const char *server_hint = "Set account_id and database_id in the options of the pg2d1 foreign server.";
	if (c.account_id.empty())
		bad_config("D1 account_id is empty", server_hint);
	if (c.database_id.empty())
		bad_config("D1 database_id is empty", server_hint);
	if (!is_path_safe(c.account_id) || !is_path_safe(c.database_id))
		bad_config("D1 account_id and database_id may only contain letters, digits, '-' and '_'", server_hint);
	if (c.api_token.empty())
		bad_config("D1 api_token is empty",
		           "Set api_token in the user mapping for the server (or CLOUDFLARE_API_TOKEN in the environment).");
	if (!is_header_safe(c.api_token))
		bad_config("D1 api_token contains characters that cannot be sent in an HTTP header",
		           "Copy the token again without spaces or line breaks.");
	if (!starts_with(c.api_url, "https://") && !starts_with(c.api_url, "http://"))
		bad_config("D1 api_url must start with https:// or http://",
		           "Use https://api.cloudflare.com/client/v4 (the default) or a local test server URL.");
	if (c.request_timeout_ms <= 0 || c.connect_timeout_ms <= 0 || c.max_retries < 0 || c.backoff_base_ms < 0 ||
	    c.backoff_max_ms < 0 || !std::isfinite(c.requests_per_second))
		bad_config("D1 client timeouts, retries and backoff must be positive numbers",
		           "Check pg2d1.request_timeout_ms, pg2d1.max_retries and pg2d1.requests_per_second.");
}

std::string strip_trailing_slashes(std::string url) {
	while (!url.empty() && url.back() == '/')
		url.pop_back();
	return url;
}

// --- error mapping ----------------------------------------------------------------------

std::string redact(std::string text, const std::string &secret) {
	if (secret.empty())
		return text;
	for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
		text.replace(at, secret.size(), "[redacted]");
	return text;
}

bool is_retryable(FailureKind k) {
	return k == FailureKind::Transient || k == FailureKind::RateLimited || k == FailureKind::Overloaded;
}

bool mentions(const Response &r, std::initializer_list<const char *> needles) {
	for (const auto &e : r.errors) {
		for (const char *n : needles) {
			if (e.message.find(n) != std::string::npos)
				return true;
		}
	}
	return false;
}

bool is_statement_error(const Response &r) {
	for (const auto &e : r.errors) {
		if (e.code == 7500 || e.message.find("SQLITE_") != std::string::npos)
			return true;
	}
	return false;
}

std::string attempts_text(int attempts) {
	return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

// The error for a failure, by kind (retryable or not is decided by failure_error below).
Error failure_error_kind(const Response &r, int attempts, const std::string &detail) {
	using namespace sqlstate;
	if (r.http_status == 0 && !is_retryable(r.failure))
		return Error(kConnectionFailure, "D1 request failed", detail,
		             "Check api_url and the server's network and TLS setup.");
	switch (r.failure) {
	case FailureKind::Auth:
		return Error(kInvalidAuthorization, "D1 rejected the API token", detail,
		             "Check the api_token in the user mapping for the server and that it has D1 Edit "
		             "permission for this account.");
	case FailureKind::NotFound:
		return Error(kUndefinedObject, "D1 account or database not found", detail,
		             "Check account_id and database_id in the server options.");
	case FailureKind::RateLimited:
		return Error(kConnectionFailure, "D1 request failed after " + attempts_text(attempts), detail,
		             "Cloudflare's API allows 1200 requests per 5 minutes per user; lower "
		             "pg2d1.requests_per_second or wait a few minutes before resuming.");
	case FailureKind::Overloaded:
		return Error(kConnectionFailure, "D1 request failed after " + attempts_text(attempts), detail,
		             "The D1 database is overloaded: resume later, or send smaller requests (batch_size, "
		             "pg2d1.max_request_bytes).");
	case FailureKind::Transient:
	case FailureKind::None:
		return Error(kConnectionFailure, "D1 request failed after " + attempts_text(attempts), detail,
		             "D1 or the network to it kept failing; writes are idempotent, so the job can be resumed "
		             "later (pg2d1.max_retries sets how often a request is retried).");
	case FailureKind::Permanent:
		break;
	}
	if (mentions(r, {"free tier daily"}))
		return Error(kProgramLimit, "D1 free-tier daily limit reached", detail,
		             "Upgrade the Cloudflare plan or wait until 00:00 UTC, then resume.");
	if (mentions(r, {"too long", "TOOBIG", "too many SQL variables"}))
		return Error(kProgramLimit, "D1 rejected the statement as too large", detail,
		             "Lower pg2d1.max_statement_bytes or pg2d1.max_bound_params so each statement stays within "
		             "D1's limits.");
	if (r.http_status == 413)
		return Error(kProgramLimit, "D1 rejected the request as too large", detail,
		             "Lower pg2d1.max_request_bytes or batch_size.");
	if (is_statement_error(r))
		return Error(kExternalRoutine, "D1 rejected the statement", detail);
	return Error(kExternalRoutine, "D1 rejected the request", detail);
}

// Transient, RateLimited and Overloaded failures (transport ones included: refused, timed out, reset) reached
// the caller only after the retry budget was spent: they are retryable (wait, then send the same request again).
// Everything else — auth, not found, SQL and size errors, a permanent transport error such as a malformed URL
// or a TLS certificate that does not verify — is not.
Error failure_error(const Response &r, int attempts, const std::string &detail) {
	Error e = failure_error_kind(r, attempts, detail);
	if (!is_retryable(r.failure))
		return e;
	return Error::make_retryable(e.sqlstate(), e.what(), e.detail(), e.hint());
}

Error canceled_error() {
	return Error(sqlstate::kQueryCanceled, "canceled by user request");
}

// A failure that says the request was too large or too slow, so that a smaller one may pass: HTTP 413, a request
// that timed out after it was sent (`timed_out_sending`), or D1 overloaded / "exceeded timeout" / CPU or memory
// limit without a Retry-After (with one, D1 asks for a pause rather than a smaller request).
bool is_size_failure(const Response &r, bool timed_out_sending) {
	if (r.failure == FailureKind::None)
		return false;
	if (r.http_status == 413)
		return true;
	if (r.http_status == 0)
		return timed_out_sending;
	return r.failure == FailureKind::Overloaded && !r.retry_after_s;
}

bool is_transient_transport(CURLcode rc) {
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_READ_ERROR:
		return true;
	default:
		return false;
	}
}

// --- request bodies ---------------------------------------------------------------------

json_t *json_text(const std::string &s, const std::string &what) {
	json_t *j = json_stringn(s.data(), s.size());
	if (j == nullptr)
		throw Error(sqlstate::kDataException, what + " is not valid UTF-8", {},
		            "D1 takes JSON, which must be UTF-8; check the data and the server encoding.");
	return j;
}

JsonPtr statement_json(const Statement &st, size_t index) {
	const std::string where = "statement " + std::to_string(index + 1);
	JsonPtr obj(json_object());
	json_object_set_new(obj.get(), "sql", json_text(st.sql, "the SQL text of " + where));
	if (st.params.empty())
		return obj; // never "params": null (D1 answers 7400)
	json_t *params = json_array();
	json_object_set_new(obj.get(), "params", params);
	for (size_t i = 0; i < st.params.size(); ++i) {
		const auto &p = st.params[i];
		json_array_append_new(params,
		                      p ? json_text(*p, "parameter " + std::to_string(i + 1) + " of " + where) : json_null());
	}
	return obj;
}

int append_chunk(const char *buffer, size_t size, void *out) {
	try {
		static_cast<std::string *>(out)->append(buffer, size);
		return 0;
	} catch (...) {
		return -1; // never unwind through jansson's C frames
	}
}

// Serialised through a callback, so no buffer allocated by jansson has to be freed here
// (pg2d1.so links its own jansson with its own allocator).
std::string dump_compact(const json_t *root, size_t size_hint = 0) {
	std::string out;
	out.reserve(size_hint);
	if (json_dump_callback(root, append_chunk, &out, JSON_COMPACT) != 0)
		throw Error(sqlstate::kDataException, "the D1 request body could not be encoded as JSON");
	return out;
}

std::string single_body(const Statement &st) {
	return dump_compact(statement_json(st, 0).get());
}

std::string string_field(const json_t *obj, const char *key) {
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? std::string(json_string_value(v), json_string_length(v)) : std::string();
}

long long integer_field(const json_t *obj, const char *key) {
	const json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? static_cast<long long>(json_number_value(v)) : 0;
}

JsonPtr parse_result_object(const std::string &result_json, const char *what) {
	JsonPtr j(json_loadb(result_json.data(), result_json.size(), JSON_DECODE_INT_AS_REAL, nullptr));
	if (!j || !json_is_object(j.get()))
		throw Error(sqlstate::kExternalRoutine, std::string("D1 answered ") + what + " without a result object",
		            "result: " + result_json.substr(0, 300));
	return j;
}

// --- import -------------------------------------------------------------------------------

bool is_md5_hex(const std::string &s) {
	return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
		       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
	       });
}

void check_etag(const std::string &etag) {
	if (!is_md5_hex(etag))
		throw Error(sqlstate::kInvalidParameter, "the import etag must be the file's MD5 as 32 hexadecimal digits",
		            "etag: \"" + etag.substr(0, 64) + "\"");
}

// {"action":…, key: value, …} with every value a JSON string.
std::string import_body(std::initializer_list<std::pair<const char *, const std::string *>> fields) {
	JsonPtr root(json_object());
	for (const auto &[key, value] : fields)
		json_object_set_new(root.get(), key, json_text(*value, std::string("the import ") + key));
	return dump_compact(root.get());
}

// Strings of a JSON array, or the "message" of its objects.
std::vector<std::string> string_items(const json_t *array) {
	std::vector<std::string> out;
	for (size_t i = 0; i < json_array_size(array); ++i) {
		const json_t *item = json_array_get(array, i);
		if (json_is_string(item))
			out.emplace_back(json_string_value(item), json_string_length(item));
		else if (json_is_object(item) && json_is_string(json_object_get(item, "message")))
			out.push_back(string_field(item, "message"));
	}
	return out;
}

int64_t count_field(const json_t *obj, const char *key) {
	const json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? static_cast<int64_t>(json_number_value(v)) : -1;
}

// The envelope's "result" of an /import answer: init's {filename, upload_url}, a polling response
// {success, type, status, at_bookmark, messages, error|errors, result?}, or the polling failure {success:false, error}.
ImportState parse_import_state(const std::string &result_json) {
	const JsonPtr root = parse_result_object(result_json, "the import request");
	const json_t *result = root.get();
	ImportState st;
	st.ok = !json_is_false(json_object_get(result, "success"));
	st.status = string_field(result, "status");
	st.filename = string_field(result, "filename");
	st.upload_url = string_field(result, "upload_url");
	st.at_bookmark = string_field(result, "at_bookmark");
	st.messages = string_items(json_object_get(result, "messages"));
	st.error = string_field(result, "error");
	if (st.error.empty()) {
		for (const auto &e : string_items(json_object_get(result, "errors")))
			st.error += (st.error.empty() ? "" : "; ") + e;
	}
	const json_t *outcome = json_object_get(result, "result");
	if (json_is_object(outcome)) {
		st.num_queries = count_field(outcome, "num_queries");
		const json_t *meta = json_object_get(outcome, "meta");
		if (json_is_object(meta))
			st.rows_written = count_field(meta, "rows_written");
	}
	return st;
}

// scheme://host[:port]/path of a URL: no user info, no query (a presigned URL's signature), no fragment.
std::string shown_url(const std::string &url) {
	const size_t scheme_end = url.find("://");
	if (scheme_end == std::string::npos)
		return "(an URL without a scheme)";
	const size_t authority_start = scheme_end + 3;
	const size_t cut = url.find_first_of("?#", authority_start);
	const std::string rest =
	    url.substr(authority_start, cut == std::string::npos ? std::string::npos : cut - authority_start);
	const size_t path_start = rest.find('/');
	std::string authority = rest.substr(0, path_start);
	const size_t at = authority.rfind('@');
	if (at != std::string::npos)
		authority.erase(0, at + 1);
	return url.substr(0, authority_start) + authority +
	       (path_start == std::string::npos ? std::string() : rest.substr(path_start));
}

// What shown_url leaves out (query, fragment, user info): redacted from any text that might echo the URL.
std::vector<std::string> url_secrets(const std::string &url) {
	std::vector<std::string> out;
	const size_t cut = url.find_first_of("?#");
	if (cut != std::string::npos && cut + 1 < url.size()) {
		const std::string query = url.substr(cut + 1);
		out.push_back(query);
		// and each parameter's value on its own (a server may echo the signature alone)
		for (size_t from = 0; from < query.size();) {
			size_t end = query.find_first_of("&#", from);
			end = end == std::string::npos ? query.size() : end;
			const size_t eq = query.find('=', from);
			if (eq != std::string::npos && eq < end && end - eq - 1 >= 6)
				out.push_back(query.substr(eq + 1, end - eq - 1));
			from = end + 1;
		}
	}
	const size_t scheme_end = url.find("://");
	if (scheme_end != std::string::npos) {
		const size_t authority_end = url.find_first_of("/?#", scheme_end + 3);
		const std::string authority = url.substr(
		    scheme_end + 3, authority_end == std::string::npos ? std::string::npos : authority_end - scheme_end - 3);
		const size_t at = authority.rfind('@');
		if (at != std::string::npos && at > 0)
			out.push_back(authority.substr(0, at));
	}
	return out;
}

std::string strip_quotes(std::string_view v) {
	if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
		v = v.substr(1, v.size() - 2);
	return std::string(v);
}

bool etag_matches(const std::string &header, const std::string &expected) {
	const std::string got = strip_quotes(header);
	return got.size() == expected.size() && strncasecmp(got.c_str(), expected.c_str(), got.size()) == 0;
}

// "<Code>: <Message>" of an S3/R2 XML error body, each cut to 200 bytes; empty when there is none.
std::string r2_error(const std::string &xml) {
	const auto element = [&](const char *name) {
		const std::string open = std::string("<") + name + ">", close = std::string("</") + name + ">";
		const size_t from = xml.find(open);
		if (from == std::string::npos)
			return std::string();
		const size_t start = from + open.size();
		const size_t end = xml.find(close, start);
		std::string text = xml.substr(start, end == std::string::npos ? 200 : std::min<size_t>(end - start, 200));
		std::replace_if(
		    text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n' || c == '\t'; }, ' ');
		return text;
	};
	const std::string code = element("Code"), message = element("Message");
	if (code.empty() && message.empty())
		return {};
	return code + (code.empty() || message.empty() ? "" : ": ") + message;
}

struct FileCloser {
	void operator()(std::FILE *f) const {
		std::fclose(f);
	}
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

constexpr curl_off_t kMaxUploadBytes = curl_off_t(5) << 30; // R2's single-PUT limit (5 GiB)

} // namespace

// --- transport ----------------------------------------------------------------------------

struct D1Client::Impl {
	Impl(const D1Config &config, const std::function<bool()> &should_abort, ClientStats &stats)
	    : config(config), should_abort(should_abort), stats(stats), base_url(strip_trailing_slashes(config.api_url)),
	      limiter(config.rate_limiter ? config.rate_limiter : std::make_shared<LocalRateLimiter>()) {
		easy = curl_easy_init();
		multi = curl_multi_init();
		if (easy == nullptr || multi == nullptr) {
			release();
			throw Error(sqlstate::kInternal, "libcurl could not create a handle");
		}
		const std::string auth = "Authorization: Bearer " + config.api_token;
		for (const char *h : {"Content-Type: application/json", "Accept: application/json", "Expect:"})
			headers = curl_slist_append(headers, h);
		headers = curl_slist_append(headers, auth.c_str());
		rng.seed(config.jitter_seed != 0 ? config.jitter_seed
		                                 : std::random_device{}() ^ Clock::now().time_since_epoch().count());
		set_fixed_options();
	}
	~Impl() {
		release();
	}
	void release() {
		if (multi != nullptr)
			curl_multi_cleanup(multi);
		if (easy != nullptr)
			curl_easy_cleanup(easy);
		if (upload_easy != nullptr)
			curl_easy_cleanup(upload_easy);
		curl_slist_free_all(headers);
		curl_slist_free_all(upload_headers);
		multi = nullptr, easy = nullptr, upload_easy = nullptr, headers = nullptr, upload_headers = nullptr;
	}
	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;

	void set_fixed_options();
	// `timeout_ms` 0 = config.request_timeout_ms. With `size_fail_fast`, a size failure (is_size_failure) is
	// returned at once instead of retried; last_size_failure tells whether the returned failure was one.
	Response exchange(const char *method, const std::string &path, const std::string *body, bool raw_shape,
	                  long timeout_ms = 0, bool size_fail_fast = false);
	Response perform(const char *method, const std::string &url, const std::string *body, bool raw_shape,
	                 long timeout_ms);
	CURLcode run_transfer(CURL *handle);
	void upload(const std::string &url, const std::string &file_path, const std::string &etag);
	void prepare_upload_handle();
	void throttle();
	void pause_others(int attempt, const Response &r, std::optional<double> &delay_ms);
	double retry_delay_ms(int attempt, const Response &r);
	void sleep_ms(double ms);
	bool abort_requested();
	void check_abort();

	static size_t on_body(char *data, size_t size, size_t count, void *self);
	static size_t on_header(char *data, size_t size, size_t count, void *self);
	static int on_progress(void *self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
	static size_t on_read(char *buffer, size_t size, size_t count, void *self);
	static int on_seek(void *self, curl_off_t offset, int origin);

	const D1Config &config;
	const std::function<bool()> &should_abort;
	ClientStats &stats;
	const std::string base_url;
	const std::shared_ptr<RateLimiter> limiter;
	CURL *easy = nullptr;
	CURLM *multi = nullptr;
	curl_slist *headers = nullptr;
	// Uploads to presigned URLs use a handle of their own, created on first use, whose header list never holds the
	// Authorization header (nor any other header of the API handle).
	CURL *upload_easy = nullptr;
	curl_slist *upload_headers = nullptr;
	char errbuf[CURL_ERROR_SIZE] = {};
	std::string body;
	std::string retry_after;
	std::string cf_ray;
	std::string etag; // the ETag response header (uploads)
	bool body_too_large = false;
	bool aborted = false;
	bool timed_out_sending = false; // the last transfer timed out after the request started
	bool last_size_failure = false; // exchange() returned a size failure (is_size_failure)
	std::mt19937_64 rng;
	int attempts = 0;
	// the file being uploaded (on_read / on_seek)
	std::FILE *upload_file = nullptr;
	curl_off_t upload_size = 0;
	curl_off_t upload_read = 0;
	bool upload_read_failed = false;
	int upload_errno = 0; // errno of a failed read
};

// TLS peer and host verification stay at libcurl's secure defaults: CURLOPT_SSL_VERIFYPEER and
// CURLOPT_SSL_VERIFYHOST are never set anywhere in this file.
void D1Client::Impl::set_fixed_options() {
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, config.request_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, config.connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, kUserAgent);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Impl::on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
}

size_t D1Client::Impl::on_body(char *data, size_t size, size_t count, void *self) {
	auto *impl = static_cast<Impl *>(self);
	const size_t n = size * count;
	if (impl->body.size() + n > kMaxResponseBytes) {
		impl->body_too_large = true;
		return 0; // makes curl fail with CURLE_WRITE_ERROR
	}
	impl->body.append(data, n);
	return n;
}

// Captures Retry-After and cf-ray (names are case-insensitive); a new status line (after
// an interim 1xx response) starts a new header block.
size_t D1Client::Impl::on_header(char *data, size_t size, size_t count, void *self) {
	auto *impl = static_cast<Impl *>(self);
	const size_t n = size * count;
	std::string_view line(data, n);
	while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
		line.remove_suffix(1);
	if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
		impl->retry_after.clear();
		impl->cf_ray.clear();
		impl->etag.clear();
		return n;
	}
	const size_t colon = line.find(':');
	if (colon == std::string_view::npos)
		return n;
	const auto name_is = [&](const char *name) {
		return colon == std::strlen(name) && strncasecmp(line.data(), name, colon) == 0;
	};
	std::string_view value = line.substr(colon + 1);
	while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
		value.remove_prefix(1);
	if (name_is("retry-after"))
		impl->retry_after.assign(value);
	else if (name_is("cf-ray"))
		impl->cf_ray.assign(value.substr(0, 64));
	else if (name_is("etag"))
		impl->etag.assign(value.substr(0, 128));
	return n;
}

// Streams the upload file: at most `upload_size` bytes (the size announced in Content-Length); a file that ends
// early or cannot be read aborts the transfer (upload_read_failed) rather than sending a short body.
size_t D1Client::Impl::on_read(char *buffer, size_t size, size_t count, void *self) {
	auto *impl = static_cast<Impl *>(self);
	const curl_off_t left = impl->upload_size - impl->upload_read;
	const size_t want = static_cast<size_t>(std::min<curl_off_t>(left, static_cast<curl_off_t>(size * count)));
	if (want == 0)
		return 0;
	const size_t got = std::fread(buffer, 1, want, impl->upload_file);
	if (got == 0) {
		impl->upload_errno = std::ferror(impl->upload_file) ? errno : 0;
		impl->upload_read_failed = true;
		return CURL_READFUNC_ABORT;
	}
	impl->upload_read += static_cast<curl_off_t>(got);
	return got;
}

// libcurl rewinds the body when it must send it again on a new connection.
int D1Client::Impl::on_seek(void *self, curl_off_t offset, int origin) {
	auto *impl = static_cast<Impl *>(self);
	if (origin != SEEK_SET || offset < 0 || offset > impl->upload_size ||
	    fseeko(impl->upload_file, static_cast<off_t>(offset), SEEK_SET) != 0)
		return CURL_SEEKFUNC_CANTSEEK;
	impl->upload_read = offset;
	return CURL_SEEKFUNC_OK;
}

int D1Client::Impl::on_progress(void *self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
	auto *impl = static_cast<Impl *>(self);
	impl->aborted = impl->aborted || impl->abort_requested();
	return impl->aborted ? 1 : 0;
}

bool D1Client::Impl::abort_requested() {
	if (!should_abort)
		return false;
	try {
		return should_abort();
	} catch (...) {
		return true; // it must not throw; if it does, stop rather than unwind through libcurl
	}
}

void D1Client::Impl::check_abort() {
	if (aborted || abort_requested()) {
		aborted = false;
		throw canceled_error();
	}
}

void D1Client::Impl::sleep_ms(double ms) {
	const auto start = Clock::now();
	const auto deadline = start + std::chrono::duration_cast<Clock::duration>(Millis(ms));
	for (auto now = start; now < deadline; now = Clock::now()) {
		check_abort();
		std::this_thread::sleep_for(std::min<Clock::duration>(deadline - now, kSlice));
	}
	stats.wait_ms += Millis(Clock::now() - start).count();
	check_abort();
}

// Reserves the next slot of the (possibly shared) limiter — spaced 1/requests_per_second apart across every
// client of the limiter, never inside a pause — and sleeps, abortably, until it.
void D1Client::Impl::throttle() {
	const int64_t now = steady_now_ns();
	const int64_t at = limiter->reserve(now, config.requests_per_second);
	if (at > now)
		sleep_ms(static_cast<double>(at - now) / 1e6);
}

// A 429, or any response with Retry-After, holds back every client of the limiter, not only this one: the pause
// lasts Retry-After (capped), or this attempt's backoff for a 429 without one. `delay_ms` is the retry delay of
// this attempt, computed here when needed so the jitter is drawn once.
void D1Client::Impl::pause_others(int attempt, const Response &r, std::optional<double> &delay_ms) {
	if (!r.retry_after_s && r.failure != FailureKind::RateLimited)
		return;
	double pause_ms;
	if (r.retry_after_s) {
		pause_ms = std::clamp(*r.retry_after_s, 0.0, kMaxRetryAfterS) * 1000.0;
	} else {
		if (!delay_ms)
			delay_ms = retry_delay_ms(attempt, r);
		pause_ms = *delay_ms;
	}
	if (pause_ms > 0)
		limiter->pause_until(steady_now_ns() + static_cast<int64_t>(pause_ms * 1e6));
}

// base * 2^attempt, ±25 % jitter, doubled when D1 is overloaded, capped at backoff_max_ms;
// never shorter than a Retry-After the server sent.
double D1Client::Impl::retry_delay_ms(int attempt, const Response &r) {
	std::uniform_real_distribution<double> jitter(0.75, 1.25);
	double wait = config.backoff_base_ms * std::ldexp(1.0, std::min(attempt, 30)) * jitter(rng);
	if (r.failure == FailureKind::Overloaded)
		wait *= 2;
	wait = std::min(wait, config.backoff_max_ms);
	if (r.retry_after_s)
		wait = std::max(wait, std::min(*r.retry_after_s, kMaxRetryAfterS) * 1000.0);
	return wait;
}

CURLcode D1Client::Impl::run_transfer(CURL *easy) {
	curl_multi_add_handle(multi, easy);
	struct Detach {
		CURLM *multi;
		CURL *easy;
		~Detach() {
			curl_multi_remove_handle(multi, easy);
		}
	} detach{multi, easy};
	for (;;) {
		int running = 0;
		const CURLMcode mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK) {
			std::snprintf(errbuf, sizeof errbuf, "%s", curl_multi_strerror(mc));
			return CURLE_FAILED_INIT;
		}
		int left = 0;
		while (CURLMsg *msg = curl_multi_info_read(multi, &left)) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				return msg->data.result;
		}
		if (running == 0)
			return CURLE_GOT_NOTHING;
		if (abort_requested()) {
			aborted = true;
			return CURLE_ABORTED_BY_CALLBACK;
		}
		curl_multi_poll(multi, nullptr, 0, kSliceMs, nullptr);
	}
}

Response D1Client::Impl::perform(const char *method, const std::string &url, const std::string *request_body,
                                 bool raw_shape, long timeout_ms) {
	check_abort();
	curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : config.request_timeout_ms);
	if (request_body != nullptr) {
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request_body->data());
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_body->size()));
	} else {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST,
	                 std::strcmp(method, "GET") == 0 || std::strcmp(method, "POST") == 0 ? nullptr : method);
	body.clear();
	retry_after.clear();
	cf_ray.clear();
	errbuf[0] = '\0';
	body_too_large = false;
	timed_out_sending = false;

	++stats.requests;
	stats.bytes_sent += request_body != nullptr ? request_body->size() : 0;
	const CURLcode rc = run_transfer(easy);
	stats.bytes_received += body.size();
	if (rc == CURLE_ABORTED_BY_CALLBACK || aborted)
		check_abort();
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		// a timeout once the request was under way (not while connecting) says the request was too slow
		curl_off_t pretransfer_us = 0;
		timed_out_sending =
		    curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us) == CURLE_OK && pretransfer_us > 0;
	}

	if (rc != CURLE_OK) {
		Response r;
		r.failure = is_transient_transport(rc) ? FailureKind::Transient : FailureKind::Permanent;
		r.transport_error = std::string("curl error ") + std::to_string(rc) + " (" + curl_easy_strerror(rc) + ")";
		if (errbuf[0] != '\0')
			r.transport_error += ": " + std::string(errbuf);
		if (body_too_large)
			r.transport_error += ": response larger than " + std::to_string(kMaxResponseBytes >> 20) + " MiB";
		return r;
	}
	long status = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	Response r = parse_response(status, body, raw_shape, retry_after);
	if (r.failure != FailureKind::None && body.find(config.api_token) != std::string::npos) {
		// a failure body echoing the token (a misbehaving proxy): redact before excerpting,
		// so that not even a cut-off part of it reaches an error
		r = parse_response(status, redact(body, config.api_token), raw_shape, retry_after);
	}
	r.cf_ray = cf_ray;
	return r;
}

Response D1Client::Impl::exchange(const char *method, const std::string &path, const std::string *request_body,
                                  bool raw_shape, long timeout_ms, bool size_fail_fast) {
	const std::string url = base_url + path;
	for (int attempt = 0;; ++attempt) {
		attempts = attempt + 1;
		throttle();
		Response r = perform(method, url, request_body, raw_shape, timeout_ms);
		last_size_failure = is_size_failure(r, timed_out_sending);
		const bool fail_fast = size_fail_fast && last_size_failure;
		const bool retry =
		    r.failure != FailureKind::None && is_retryable(r.failure) && attempt < config.max_retries && !fail_fast;
		std::optional<double> delay_ms;
		if (retry || (fail_fast && r.failure == FailureKind::Overloaded))
			delay_ms = retry_delay_ms(attempt, r);
		pause_others(attempt, r, delay_ms);
		if (!retry) {
			// an overloaded D1 gets this attempt's (doubled) backoff before the caller sends smaller requests
			if (fail_fast && delay_ms)
				sleep_ms(*delay_ms);
			return r;
		}
		++stats.retries;
		sleep_ms(*delay_ms);
	}
}

void D1Client::Impl::prepare_upload_handle() {
	if (upload_easy != nullptr)
		return;
	upload_easy = curl_easy_init();
	// no Expect: 100-continue (wrangler sends the body at once too); libcurl adds no Content-Type to a PUT
	upload_headers = curl_slist_append(nullptr, "Expect:");
	if (upload_easy == nullptr || upload_headers == nullptr) {
		if (upload_easy != nullptr)
			curl_easy_cleanup(upload_easy);
		curl_slist_free_all(upload_headers);
		upload_easy = nullptr, upload_headers = nullptr;
		throw Error(sqlstate::kInternal, "libcurl could not create a handle");
	}
	curl_easy_setopt(upload_easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(upload_easy, CURLOPT_TIMEOUT_MS, 0L); // up to 5 GB: no total timeout, a stall limit instead
	curl_easy_setopt(upload_easy, CURLOPT_LOW_SPEED_LIMIT, kUploadLowSpeedBytes);
	curl_easy_setopt(upload_easy, CURLOPT_LOW_SPEED_TIME, std::max(kUploadMinStallS, config.request_timeout_ms / 1000));
	curl_easy_setopt(upload_easy, CURLOPT_CONNECTTIMEOUT_MS, config.connect_timeout_ms);
	curl_easy_setopt(upload_easy, CURLOPT_HTTPHEADER, upload_headers);
	curl_easy_setopt(upload_easy, CURLOPT_USERAGENT, kUserAgent);
	curl_easy_setopt(upload_easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(upload_easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(upload_easy, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(upload_easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(upload_easy, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(upload_easy, CURLOPT_UPLOAD, 1L); // HTTP PUT
	curl_easy_setopt(upload_easy, CURLOPT_READFUNCTION, &Impl::on_read);
	curl_easy_setopt(upload_easy, CURLOPT_READDATA, this);
	curl_easy_setopt(upload_easy, CURLOPT_SEEKFUNCTION, &Impl::on_seek);
	curl_easy_setopt(upload_easy, CURLOPT_SEEKDATA, this);
	curl_easy_setopt(upload_easy, CURLOPT_WRITEFUNCTION, &Impl::on_body);
	curl_easy_setopt(upload_easy, CURLOPT_WRITEDATA, this);
	curl_easy_setopt(upload_easy, CURLOPT_HEADERFUNCTION, &Impl::on_header);
	curl_easy_setopt(upload_easy, CURLOPT_HEADERDATA, this);
	curl_easy_setopt(upload_easy, CURLOPT_XFERINFOFUNCTION, &Impl::on_progress);
	curl_easy_setopt(upload_easy, CURLOPT_XFERINFODATA, this);
	curl_easy_setopt(upload_easy, CURLOPT_NOPROGRESS, 0L);
}

// PUT of the file to a presigned URL, retried like an API request (every failure is retryable here: wrangler's
// "Please retry."), with no rate-limit slot (R2, not the API). Texts name the URL by shown_url() only.
void D1Client::Impl::upload(const std::string &url, const std::string &file_path, const std::string &expected) {
	using namespace sqlstate;
	const std::string shown = shown_url(url);
	const std::vector<std::string> secrets = url_secrets(url);
	const auto hide = [&](std::string text) {
		for (const auto &secret : secrets)
			text = redact(std::move(text), secret);
		return redact(std::move(text), config.api_token);
	};
	if (!starts_with(url, "https://") && !starts_with(url, "http://"))
		throw Error(kInvalidParameter, "the import upload URL must start with https:// or http://",
		            "upload URL: " + hide(shown));
	const char *hint = "The file is uploaded to Cloudflare R2 through the presigned URL D1 gave; the import can be "
	                   "started again (init, upload, ingest) at any time.";
	prepare_upload_handle();
	for (int attempt = 0;; ++attempt) {
		attempts = attempt + 1;
		check_abort();
		errno = 0;
		const FilePtr file(std::fopen(file_path.c_str(), "rbe"));
		struct stat st {};
		if (!file || ::fstat(::fileno(file.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
			const int err = errno;
			throw Error(kInvalidParameter, "could not read the import file \"" + file_path + "\"",
			            err != 0 ? std::strerror(err) : "not a regular file");
		}
		if (st.st_size > kMaxUploadBytes)
			throw Error(kProgramLimit, "the import file is larger than R2's 5 GiB upload limit",
			            "\"" + file_path + "\" has " + std::to_string(st.st_size) + " bytes",
			            "Split the SQL into several files and import them one after another.");
		struct Forget {
			Impl *impl;
			~Forget() {
				impl->upload_file = nullptr;
			}
		} forget{this};
		upload_file = file.get();
		upload_size = static_cast<curl_off_t>(st.st_size);
		upload_read = 0;
		upload_read_failed = false;
		upload_errno = 0;
		curl_easy_setopt(upload_easy, CURLOPT_URL, url.c_str());
		curl_easy_setopt(upload_easy, CURLOPT_INFILESIZE_LARGE, upload_size); // Content-Length
		body.clear();
		retry_after.clear();
		cf_ray.clear();
		etag.clear();
		errbuf[0] = '\0';
		body_too_large = false;

		++stats.requests;
		stats.bytes_sent += static_cast<uint64_t>(upload_size);
		const CURLcode rc = run_transfer(upload_easy);
		stats.bytes_received += body.size();
		if (rc == CURLE_ABORTED_BY_CALLBACK || aborted)
			check_abort();
		if (upload_read_failed)
			throw Error(kInternal, "the import file \"" + file_path + "\" could not be read while uploading",
			            "it ended or failed after " + std::to_string(upload_read) + " of " +
			                std::to_string(upload_size) + " bytes" +
			                (upload_errno != 0 ? std::string(": ") + std::strerror(upload_errno) : std::string()),
			            "Do not change the file while it is imported.");

		std::string message, detail;
		long status = 0;
		if (rc != CURLE_OK) {
			std::string transport =
			    std::string("curl error ") + std::to_string(rc) + " (" + curl_easy_strerror(rc) + ")";
			if (errbuf[0] != '\0')
				transport += ": " + std::string(errbuf);
			detail = "PUT " + shown + ": no HTTP response: " + hide(transport);
			if (!is_transient_transport(rc))
				throw Error(kConnectionFailure, "File could not be uploaded (no HTTP response).", detail,
				            "Check the network and TLS setup towards Cloudflare R2.");
			message = "File could not be uploaded (no HTTP response). Please retry.";
		} else {
			curl_easy_getinfo(upload_easy, CURLINFO_RESPONSE_CODE, &status);
			if (status != 200) {
				message = "File could not be uploaded (HTTP " + std::to_string(status) + "). Please retry.";
				const std::string r2 = r2_error(hide(body.substr(0, 65536))); // redacted before it is cut
				detail = "PUT " + shown + ": HTTP " + std::to_string(status) + (r2.empty() ? "" : ", R2 error " + r2);
			} else if (!etag_matches(etag, expected)) {
				message = "File contents did not upload successfully (ETag mismatch). Please retry.";
				detail = "PUT " + shown + ": HTTP 200 with " +
				         (etag.empty() ? std::string("no ETag") : "ETag " + hide(etag)) + ", expected \"" + expected +
				         "\" (the MD5 of the file)";
			} else {
				return;
			}
		}
		if (attempt >= config.max_retries)
			throw Error::make_retryable(kConnectionFailure, message, detail + " (" + attempts_text(attempts) + ")",
			                            hint);
		Response r;
		r.http_status = status;
		r.failure = FailureKind::Transient;
		if (!retry_after.empty())
			r.retry_after_s = parse_retry_after(retry_after, static_cast<double>(std::time(nullptr)));
		++stats.retries;
		sleep_ms(retry_delay_ms(attempt, r));
	}
}

// --- D1Client -----------------------------------------------------------------------------

D1Client::D1Client(D1Config config, std::function<bool()> should_abort)
    : config_(std::move(config)), should_abort_(std::move(should_abort)) {
	validate_config(config_);
	init_curl_once();
	impl_ = std::make_unique<Impl>(config_, should_abort_, stats_);
}

D1Client::~D1Client() = default;

Response D1Client::exchange(const char *method, const std::string &path, const std::string *body, bool raw_shape) {
	return impl_->exchange(method, path, body, raw_shape);
}

namespace {

std::string database_path(const D1Config &c) {
	return "/accounts/" + c.account_id + "/d1/database/" + c.database_id;
}

// `size_related`: the failure said the request was too large or too slow (Error::size_related()).
[[noreturn]] void throw_failure(const Response &r, int attempts, const std::string &token, bool size_related = false) {
	Error e = failure_error(r, attempts, redact(r.describe(), token));
	e.mark_size_related(size_related);
	throw e;
}

} // namespace

std::vector<StatementResult> D1Client::batch(const std::vector<Statement> &statements) {
	if (statements.empty())
		return {};
	const std::string body = batch_body(statements);
	// a request of one statement cannot be split, so it keeps the normal retries
	const bool fail_fast = config_.size_failures_fail_fast && statements.size() > 1;
	Response r = impl_->exchange("POST", database_path(config_) + "/query", &body, false, 0, fail_fast);
	if (r.failure != FailureKind::None)
		throw_failure(r, impl_->attempts, config_.api_token, impl_->last_size_failure);
	const std::string sent = std::to_string(statements.size());
	if (r.statements.size() != statements.size())
		throw Error(sqlstate::kExternalRoutine,
		            "D1 returned " + std::to_string(r.statements.size()) + " results for " + sent + " statements",
		            redact(r.describe(), config_.api_token),
		            "The batch may not have been applied; it is safe to resend (writes are idempotent).");
	for (size_t i = 0; i < r.statements.size(); ++i) {
		if (!r.statements[i].success)
			throw Error(sqlstate::kExternalRoutine,
			            "D1 reported statement " + std::to_string(i + 1) + " of " + sent + " as failed",
			            redact(r.describe(), config_.api_token));
	}
	return std::move(r.statements);
}

StatementResult D1Client::raw(const Statement &statement) {
	const std::string body = single_body(statement);
	Response r = exchange("POST", database_path(config_) + "/raw", &body, true);
	if (r.failure != FailureKind::None)
		throw_failure(r, impl_->attempts, config_.api_token);
	if (r.statements.empty())
		throw Error(sqlstate::kExternalRoutine, "D1 returned no result for the statement",
		            redact(r.describe(), config_.api_token));
	return std::move(r.statements.back());
}

std::string D1Client::query_json(const std::string &sql) {
	const std::string body = single_body(Statement{sql, {}});
	Response r = exchange("POST", database_path(config_) + "/query", &body, false);
	if (r.failure != FailureKind::None)
		throw_failure(r, impl_->attempts, config_.api_token);
	return r.result_json;
}

DatabaseInfo D1Client::database_info() {
	Response r = exchange("GET", database_path(config_), nullptr, false);
	if (r.failure != FailureKind::None)
		throw_failure(r, impl_->attempts, config_.api_token);
	const JsonPtr result = parse_result_object(r.result_json, "the database query");
	DatabaseInfo info;
	info.uuid = string_field(result.get(), "uuid");
	info.name = string_field(result.get(), "name");
	info.version = string_field(result.get(), "version");
	info.num_tables = integer_field(result.get(), "num_tables");
	info.file_size = integer_field(result.get(), "file_size");
	return info;
}

// Account-owned tokens verify only at /accounts/{id}/tokens/verify and user tokens only at
// /user/tokens/verify (which answers 1000 for account tokens), so try both.
TokenInfo D1Client::verify_token() {
	Response r = exchange("GET", "/accounts/" + config_.account_id + "/tokens/verify", nullptr, false);
	if (r.failure == FailureKind::Auth || r.failure == FailureKind::NotFound) {
		const std::string first = r.describe();
		r = exchange("GET", "/user/tokens/verify", nullptr, false);
		if (r.failure != FailureKind::None) {
			const std::string detail = "account endpoint: " + first + "; user endpoint: " + r.describe();
			throw failure_error(r, impl_->attempts, redact(detail, config_.api_token));
		}
	}
	if (r.failure != FailureKind::None)
		throw_failure(r, impl_->attempts, config_.api_token);
	const JsonPtr result = parse_result_object(r.result_json, "the token verification");
	return TokenInfo{string_field(result.get(), "id"), string_field(result.get(), "status")};
}

ImportState D1Client::import_call(const std::string &body) {
	Response r = impl_->exchange("POST", database_path(config_) + "/import", &body, false,
	                             std::max(config_.request_timeout_ms, kImportTimeoutMs));
	if (r.failure != FailureKind::None)
		throw_failure(r, impl_->attempts, config_.api_token, impl_->last_size_failure);
	return parse_import_state(r.result_json);
}

ImportState D1Client::import_init(const std::string &etag) {
	check_etag(etag);
	const std::string action = "init";
	return import_call(import_body({{"action", &action}, {"etag", &etag}}));
}

void D1Client::import_upload(const std::string &upload_url, const std::string &file_path, const std::string &etag) {
	check_etag(etag);
	impl_->upload(upload_url, file_path, etag);
}

ImportState D1Client::import_ingest(const std::string &etag, const std::string &filename) {
	check_etag(etag);
	const std::string action = "ingest";
	return import_call(import_body({{"action", &action}, {"etag", &etag}, {"filename", &filename}}));
}

ImportState D1Client::import_poll(const std::string &bookmark) {
	const std::string action = "poll";
	return import_call(import_body({{"action", &action}, {"current_bookmark", &bookmark}}));
}

std::string batch_body(const std::vector<Statement> &statements) {
	JsonPtr root(json_object());
	json_t *batch = json_array();
	json_object_set_new(root.get(), "batch", batch);
	size_t size_hint = 16;
	for (size_t i = 0; i < statements.size(); ++i) {
		json_array_append_new(batch, statement_json(statements[i], i).release());
		size_hint += statements[i].sql.size() + statements[i].sql.size() / 16 + 32;
	}
	return dump_compact(root.get(), size_hint);
}

} // namespace pg2d1
