// d1_response.cpp — parses Cloudflare v4 envelopes, renders cells as exact text, classifies failures.
// Must never throw on a malformed body, lose integer digits it was given, or see request headers.
// Called by D1Client after every HTTP exchange; unit-tested with real and broken bodies.
#include "d1_response.hpp"

#include "sqlite_encode.hpp"

#include <jansson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <memory>

namespace pg2d1 {

namespace {

constexpr size_t kExcerptBytes = 300;
constexpr int kMaxErrorChainDepth = 8;

struct JsonDeleter {
	void operator()(json_t *j) const {
		json_decref(j);
	}
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;

// Parses normally; when jansson rejects an integer outside int64 (D1 sends JavaScript
// numbers such as 9223372036854776000), parses again with every integer as a double. D1's
// numbers are JavaScript doubles anyway, so that loses nothing they carried.
JsonPtr load_json(std::string_view body, bool &ints_as_reals) {
	json_error_t err;
	ints_as_reals = false;
	JsonPtr root(json_loadb(body.data(), body.size(), JSON_ALLOW_NUL, &err));
	if (!root && std::strstr(err.text, "too big") != nullptr) {
		ints_as_reals = true;
		root.reset(json_loadb(body.data(), body.size(), JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err));
	}
	return root;
}

// --- value rendering ------------------------------------------------------------------

void append_int(std::string &out, long long v) {
	char buf[24];
	out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Integral values below 1e21 are written out in full, as JavaScript does
// (9.223372036854776e18 -> "9223372036854776000"); others as the shortest round-trip text.
void append_real(std::string &out, double v) {
	char buf[40];
	if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 1e21) {
		const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
		const char *e = std::find(buf, res.ptr, 'e');
		int exp10 = 0;
		std::from_chars(e + 1 + (e[1] == '+' ? 1 : 0), res.ptr, exp10);
		int written = -1; // digits written after the first one
		for (const char *p = buf; p != e; ++p) {
			if (*p == '.')
				continue;
			out.push_back(*p);
			written += *p >= '0' && *p <= '9' ? 1 : 0;
		}
		out.append(static_cast<size_t>(std::max(0, exp10 - written)), '0');
		return;
	}
	out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

void append_json_string(std::string &out, const char *s, size_t len) {
	static const char kHex[] = "0123456789abcdef";
	out.push_back('"');
	for (size_t i = 0; i < len; ++i) {
		const auto c = static_cast<unsigned char>(s[i]);
		switch (c) {
		case '"':
			out.append("\\\"");
			break;
		case '\\':
			out.append("\\\\");
			break;
		case '\n':
			out.append("\\n");
			break;
		case '\r':
			out.append("\\r");
			break;
		case '\t':
			out.append("\\t");
			break;
		default:
			if (c < 0x20) {
				out.append("\\u00");
				out.push_back(kHex[c >> 4]);
				out.push_back(kHex[c & 0xF]);
			} else {
				out.push_back(static_cast<char>(c));
			}
		}
	}
	out.push_back('"');
}

// Compact JSON, numbers rendered like cells (shortest round-trip, integral reals as integers).
void append_json(std::string &out, const json_t *j) {
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		out.push_back('{');
		const char *key;
		json_t *value;
		bool first = true;
		json_object_foreach(const_cast<json_t *>(j), key, value) {
			if (!first)
				out.push_back(',');
			append_json_string(out, key, std::strlen(key));
			out.push_back(':');
			append_json(out, value);
			first = false;
		}
		out.push_back('}');
		break;
	}
	case JSON_ARRAY:
		out.push_back('[');
		for (size_t i = 0; i < json_array_size(j); ++i) {
			if (i > 0)
				out.push_back(',');
			append_json(out, json_array_get(j, i));
		}
		out.push_back(']');
		break;
	case JSON_STRING:
		append_json_string(out, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		append_int(out, json_integer_value(j));
		break;
	case JSON_REAL:
		append_real(out, json_real_value(j));
		break;
	case JSON_TRUE:
		out.append("true");
		break;
	case JSON_FALSE:
		out.append("false");
		break;
	case JSON_NULL:
		out.append("null");
		break;
	}
}

bool is_byte_value(const json_t *j) {
	if (json_is_integer(j))
		return json_integer_value(j) >= 0 && json_integer_value(j) <= 255;
	if (json_is_real(j)) { // after a JSON_DECODE_INT_AS_REAL re-parse
		const double v = json_real_value(j);
		return v >= 0 && v <= 255 && v == std::trunc(v);
	}
	return false;
}

// D1 returns BLOBs as arrays of byte values; JSON text columns come back as strings, so an
// array cell whose every element is a byte is a BLOB.
bool is_blob(const json_t *j) {
	for (size_t i = 0; i < json_array_size(j); ++i) {
		if (!is_byte_value(json_array_get(j, i)))
			return false;
	}
	return true;
}

std::string blob_hex(const json_t *j) {
	static const char kHex[] = "0123456789abcdef";
	std::string out;
	out.reserve(2 * json_array_size(j));
	for (size_t i = 0; i < json_array_size(j); ++i) {
		const json_t *e = json_array_get(j, i);
		const auto b = static_cast<unsigned>(json_is_integer(e) ? json_integer_value(e) : json_real_value(e));
		out.push_back(kHex[b >> 4]);
		out.push_back(kHex[b & 0xF]);
	}
	return out;
}

std::optional<std::string> render_cell(const json_t *j) {
	std::string out;
	switch (json_typeof(j)) {
	case JSON_NULL:
		return std::nullopt;
	case JSON_STRING:
		return std::string(json_string_value(j), json_string_length(j));
	case JSON_ARRAY:
		if (is_blob(j))
			return blob_hex(j);
		break;
	default:
		break;
	}
	append_json(out, j);
	return out;
}

// --- envelope -------------------------------------------------------------------------

void parse_messages(const json_t *array, std::vector<ApiMessage> &out, int depth = 0) {
	if (!json_is_array(array) || depth > kMaxErrorChainDepth)
		return;
	for (size_t i = 0; i < json_array_size(array); ++i) {
		const json_t *entry = json_array_get(array, i);
		ApiMessage m;
		if (json_is_object(entry)) {
			const json_t *code = json_object_get(entry, "code");
			const json_t *message = json_object_get(entry, "message");
			m.code = json_is_number(code) ? static_cast<long>(json_number_value(code)) : 0;
			if (json_is_string(message))
				m.message.assign(json_string_value(message), json_string_length(message));
		} else if (json_is_string(entry)) {
			m.message.assign(json_string_value(entry), json_string_length(entry));
		} else {
			continue;
		}
		out.push_back(std::move(m));
		if (json_is_object(entry))
			parse_messages(json_object_get(entry, "error_chain"), out, depth + 1);
	}
}

long long number_field(const json_t *obj, const char *key) {
	const json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? static_cast<long long>(json_number_value(v)) : 0;
}

void parse_meta(const json_t *meta, StatementResult &r) {
	if (!json_is_object(meta))
		return;
	const json_t *duration = json_object_get(meta, "duration");
	r.duration_ms = json_is_number(duration) ? json_number_value(duration) : 0;
	r.changes = number_field(meta, "changes");
	r.rows_read = number_field(meta, "rows_read");
	r.rows_written = number_field(meta, "rows_written");
	r.size_after = number_field(meta, "size_after");
}

// /query: results = [{col: value, …}, …]; columns in the first row's key order.
void parse_object_rows(const json_t *results, StatementResult &r) {
	if (!json_is_array(results) || json_array_size(results) == 0)
		return;
	const char *key;
	json_t *value;
	json_object_foreach(json_array_get(results, 0), key, value) {
		r.columns.emplace_back(key);
	}
	for (size_t i = 0; i < json_array_size(results); ++i) {
		const json_t *row = json_array_get(results, i);
		std::vector<std::optional<std::string>> cells;
		cells.reserve(r.columns.size());
		for (const auto &col : r.columns) {
			const json_t *cell = json_is_object(row) ? json_object_get(row, col.c_str()) : nullptr;
			cells.push_back(cell != nullptr ? render_cell(cell) : std::nullopt);
		}
		r.rows.push_back(std::move(cells));
	}
}

// /raw: results = {columns: [...], rows: [[...], …]}.
void parse_array_rows(const json_t *results, StatementResult &r) {
	if (!json_is_object(results))
		return;
	const json_t *columns = json_object_get(results, "columns");
	for (size_t i = 0; i < json_array_size(columns); ++i) {
		const json_t *c = json_array_get(columns, i);
		r.columns.emplace_back(json_is_string(c) ? json_string_value(c) : "");
	}
	const json_t *rows = json_object_get(results, "rows");
	for (size_t i = 0; i < json_array_size(rows); ++i) {
		const json_t *row = json_array_get(rows, i);
		std::vector<std::optional<std::string>> cells;
		cells.reserve(json_array_size(row));
		for (size_t k = 0; k < json_array_size(row); ++k)
			cells.push_back(render_cell(json_array_get(row, k)));
		r.rows.push_back(std::move(cells));
	}
}

bool looks_like_statement_results(const json_t *result) {
	if (!json_is_array(result))
		return false;
	for (size_t i = 0; i < json_array_size(result); ++i) {
		const json_t *e = json_array_get(result, i);
		if (!json_is_object(e) || (json_object_get(e, "results") == nullptr && json_object_get(e, "meta") == nullptr))
			return false;
	}
	return true;
}

void parse_statements(const json_t *result, bool raw_shape, std::vector<StatementResult> &out) {
	if (!looks_like_statement_results(result))
		return;
	for (size_t i = 0; i < json_array_size(result); ++i) {
		const json_t *e = json_array_get(result, i);
		StatementResult r;
		const json_t *success = json_object_get(e, "success");
		r.success = !json_is_boolean(success) || json_is_true(success);
		const json_t *results = json_object_get(e, "results");
		if (raw_shape)
			parse_array_rows(results, r);
		else
			parse_object_rows(results, r);
		parse_meta(json_object_get(e, "meta"), r);
		out.push_back(std::move(r));
	}
}

// --- excerpts ---------------------------------------------------------------------------

size_t utf8_sequence_length(unsigned char lead) {
	if (lead < 0x80)
		return 1;
	if (lead >= 0xC2 && lead <= 0xDF)
		return 2;
	if (lead >= 0xE0 && lead <= 0xEF)
		return 3;
	if (lead >= 0xF0 && lead <= 0xF4)
		return 4;
	return 0;
}

// Trimmed, whitespace collapsed, control characters and invalid UTF-8 replaced, at most
// kExcerptBytes bytes (cut on a character boundary, "…" appended when cut).
std::string make_excerpt(std::string_view body) {
	std::string out;
	bool pending_space = false;
	for (size_t i = 0; i < body.size();) {
		const auto c = static_cast<unsigned char>(body[i]);
		if (c < 0x20 || c == 0x7F || c == ' ') {
			pending_space = !out.empty();
			++i;
			continue;
		}
		size_t len = utf8_sequence_length(c);
		const bool valid = len != 0 && i + len <= body.size() && is_valid_utf8(body.substr(i, len));
		if (!valid)
			len = 1;
		const size_t needed = (pending_space ? 1 : 0) + (valid ? len : 1);
		if (out.size() + needed > kExcerptBytes) {
			out.append("…");
			return out;
		}
		if (pending_space)
			out.push_back(' ');
		pending_space = false;
		if (valid)
			out.append(body.substr(i, len));
		else
			out.push_back('?');
		i += len;
	}
	return out;
}

// --- classification ---------------------------------------------------------------------

std::string lower(std::string_view s) {
	std::string out(s);
	for (auto &c : out)
		c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; // ASCII only, whatever the locale
	return out;
}

bool any_message_contains(const std::vector<ApiMessage> &errors, std::initializer_list<const char *> needles) {
	for (const auto &e : errors) {
		const std::string text = lower(e.message);
		for (const char *n : needles) {
			if (text.find(n) != std::string::npos)
				return true;
		}
	}
	return false;
}

bool any_code_in(const std::vector<ApiMessage> &errors, std::initializer_list<long> codes) {
	for (const auto &e : errors) {
		if (std::find(codes.begin(), codes.end(), e.code) != codes.end())
			return true;
	}
	return false;
}

FailureKind classify_by_status(long status) {
	if (status == 401 || status == 403)
		return FailureKind::Auth;
	if (status == 404)
		return FailureKind::NotFound;
	if (status == 429)
		return FailureKind::RateLimited;
	if (status >= 300 && status < 500 && status != 408)
		return FailureKind::Permanent; // 4xx, and redirects (a wrong api_url; never followed)
	return FailureKind::Transient;     // 5xx, 408, and 2xx with a cut or garbled body
}

// --- Retry-After ------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
long long days_from_civil(long long y, unsigned m, unsigned d) {
	y -= m <= 2 ? 1 : 0;
	const long long era = (y >= 0 ? y : y - 399) / 400;
	const auto yoe = static_cast<unsigned>(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + static_cast<long long>(doe) - 719468;
}

int month_number(std::string_view token) {
	static const std::array<const char *, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
	                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
	if (token.size() != 3)
		return 0;
	const std::string t = lower(token);
	for (size_t i = 0; i < kMonths.size(); ++i) {
		if (t == kMonths[i])
			return static_cast<int>(i) + 1;
	}
	return 0;
}

bool parse_uint(std::string_view s, int &out) {
	if (s.empty() || s.size() > 4)
		return false;
	const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
	return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

bool parse_clock(std::string_view s, int &h, int &m, int &sec) {
	return s.size() == 8 && s[2] == ':' && s[5] == ':' && parse_uint(s.substr(0, 2), h) &&
	       parse_uint(s.substr(3, 2), m) && parse_uint(s.substr(6, 2), sec) && h < 24 && m < 60 && sec <= 60;
}

// HTTP-date in any of RFC 7231's three forms: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT",
// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994". In all
// three the first number is the day and the second the year.
std::optional<long long> parse_http_date(std::string_view s) {
	int day = -1, year = -1, month = 0, h = -1, m = 0, sec = 0;
	size_t i = 0;
	while (i < s.size()) {
		while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '-'))
			++i;
		size_t j = i;
		while (j < s.size() && s[j] != ' ' && s[j] != ',' && s[j] != '-')
			++j;
		const std::string_view token = s.substr(i, j - i);
		i = j;
		int n = 0;
		if (token.empty())
			continue;
		if (token.find(':') != std::string_view::npos) {
			if (!parse_clock(token, h, m, sec))
				return std::nullopt;
		} else if (month == 0 && month_number(token) != 0) {
			month = month_number(token);
		} else if (parse_uint(token, n)) {
			if (day < 0)
				day = n;
			else if (year < 0)
				year = token.size() == 2 ? (n < 70 ? 2000 + n : 1900 + n) : n;
			else
				return std::nullopt;
		}
	}
	if (day < 1 || day > 31 || month == 0 || year < 1970 || h < 0)
		return std::nullopt;
	return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400LL + h * 3600LL +
	       m * 60LL + sec;
}

std::string_view trim(std::string_view s) {
	const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
	while (!s.empty() && space(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && space(s.back()))
		s.remove_suffix(1);
	return s;
}

} // namespace

const char *failure_kind_name(FailureKind k) {
	switch (k) {
	case FailureKind::None:
		return "none";
	case FailureKind::Transient:
		return "transient";
	case FailureKind::RateLimited:
		return "rate limited";
	case FailureKind::Overloaded:
		return "overloaded";
	case FailureKind::Auth:
		return "authentication";
	case FailureKind::NotFound:
		return "not found";
	case FailureKind::Permanent:
		return "permanent";
	}
	return "unknown";
}

FailureKind classify(long http_status, const std::vector<ApiMessage> &errors, bool body_is_json) {
	if (http_status == 0)
		return FailureKind::Transient;
	if (!body_is_json)
		return classify_by_status(http_status);
	if (any_message_contains(errors, {"overloaded", "exceeded timeout", "cpu time limit", "memory limit"}))
		return FailureKind::Overloaded;
	if (any_message_contains(errors, {"network connection lost", "storage caused object to be reset",
	                                  "reset because its code was updated", "transient issue on remote node",
	                                  "client disconnected", "internal error; reference ="}))
		return FailureKind::Transient;
	if (any_message_contains(errors, {"free tier daily"}))
		return FailureKind::Permanent;
	if (http_status == 401 || http_status == 403 || any_code_in(errors, {1000, 10000, 7403, 6003}))
		return FailureKind::Auth;
	if (http_status == 404 || any_code_in(errors, {7003, 7404}))
		return FailureKind::NotFound;
	if (http_status == 429)
		return FailureKind::RateLimited;
	if (any_code_in(errors, {7400}) ||
	    any_message_contains(errors, {"sqlite_", "begin transaction or savepoint", "not authorized"}))
		return FailureKind::Permanent;
	if (http_status >= 500 || http_status == 408)
		return FailureKind::Transient;
	return FailureKind::Permanent;
}

std::optional<double> parse_retry_after(std::string_view value, double now_epoch_s) {
	value = trim(value);
	if (value.empty())
		return std::nullopt;
	if (value.front() >= '0' && value.front() <= '9') {
		double seconds = 0;
		const auto res = std::from_chars(value.data(), value.data() + value.size(), seconds, std::chars_format::fixed);
		if (res.ec != std::errc() || res.ptr != value.data() + value.size() || !std::isfinite(seconds))
			return std::nullopt;
		return seconds;
	}
	const auto when = parse_http_date(value);
	if (!when)
		return std::nullopt;
	return std::max(0.0, static_cast<double>(*when) - now_epoch_s);
}

Response parse_response(long http_status, std::string_view body, bool raw_shape, std::string_view retry_after_header) {
	Response r;
	r.http_status = http_status;
	if (!retry_after_header.empty())
		r.retry_after_s = parse_retry_after(retry_after_header, static_cast<double>(std::time(nullptr)));

	bool ints_as_reals = false;
	const JsonPtr root = load_json(body, ints_as_reals);
	r.body_is_json = root && json_is_object(root.get());
	if (!r.body_is_json) {
		r.body_excerpt = make_excerpt(body);
		r.failure = classify(http_status, r.errors, false);
		return r;
	}
	const json_t *envelope = root.get();
	parse_messages(json_object_get(envelope, "errors"), r.errors);
	parse_messages(json_object_get(envelope, "messages"), r.messages);
	const json_t *result = json_object_get(envelope, "result");
	if (result != nullptr)
		append_json(r.result_json, result);
	const bool http_ok = http_status >= 200 && http_status < 300;
	r.success = http_ok && json_is_true(json_object_get(envelope, "success"));
	if (r.success) {
		parse_statements(result, raw_shape, r.statements);
		return r;
	}
	if (r.errors.empty())
		r.body_excerpt = make_excerpt(body);
	r.failure = classify(http_status, r.errors, true);
	return r;
}

std::string Response::describe() const {
	std::string out;
	if (http_status == 0) {
		out = "no HTTP response: " + (transport_error.empty() ? std::string("transport error") : transport_error);
	} else {
		out = "HTTP " + std::to_string(http_status);
		for (size_t i = 0; i < errors.size(); ++i) {
			out.append(i == 0 ? ", " : "; ");
			out.append("D1 error " + std::to_string(errors[i].code) + ": " + errors[i].message);
		}
		if (errors.empty()) {
			if (!body_is_json && body_excerpt.empty())
				out.append(" with an empty body");
			else if (!body_is_json)
				out.append(" with a non-JSON body: \"" + body_excerpt + "\"");
			else if (success)
				out.append(" OK");
			else
				out.append(" with success=false and no error details: " + body_excerpt);
		}
	}
	if (retry_after_s) {
		char buf[32];
		out.append(" (Retry-After ");
		out.append(buf, std::to_chars(buf, buf + sizeof buf, *retry_after_s).ptr);
		out.append(" s)");
	}
	if (!cf_ray.empty())
		out.append(" (cf-ray " + cf_ray + ")");
	return out;
}

void append_rendered_real(std::string &out, double v) {
	append_real(out, v);
}

} // namespace pg2d1
