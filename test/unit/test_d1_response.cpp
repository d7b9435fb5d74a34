// test_d1_response.cpp — real D1 envelopes and broken bodies, exact cells, classification, Retry-After.
// Must never rely on a body shape the real API has not shown without saying so.
// Run by ctest (pg2d1_unit_tests).
#include "core/d1_response.hpp"

#include "test_util.hpp"

#include <gtest/gtest.h>

namespace pg2d1 {
namespace {

using test::contains;

// d1-rest-api.md §2.3: real success response (storecraft#93).
const char *kQuerySuccess = R"({
  "result": [
    {
      "results": [
        { "name": "_cf_KV", "sql": "CREATE TABLE _cf_KV (\n        key TEXT PRIMARY KEY,\n        value BLOB\n      ) WITHOUT ROWID", "type": "table" }
      ],
      "success": true,
      "meta": {
        "served_by": "v3-prod",
        "served_by_region": "APAC",
        "served_by_primary": true,
        "timings": { "sql_duration_ms": 0.1728 },
        "duration": 0.1728,
        "changes": 0,
        "last_row_id": 0,
        "changed_db": false,
        "size_after": 12288,
        "rows_read": 2,
        "rows_written": 0
      }
    }
  ],
  "errors": [],
  "messages": [],
  "success": true
})";

// §2.3: two-statement write.
const char *kTwoWrites = R"({
  "result": [
    { "results": [], "success": true,
      "meta": { "served_by": "v3-prod", "duration": 0.41, "changes": 1, "last_row_id": 1001, "changed_db": true,
                "size_after": 53248, "rows_read": 1, "rows_written": 2 } },
    { "results": [], "success": true,
      "meta": { "duration": 0.12, "changes": 1, "last_row_id": 1001, "changed_db": true, "size_after": 53248,
                "rows_read": 1, "rows_written": 1 } }
  ],
  "errors": [], "messages": [], "success": true
})";

// §2.3: real SQL error, HTTP 400, with "result": [].
const char *kSqlAuthError = R"({
  "errors": [ { "code": 7500, "message": "not authorized: SQLITE_AUTH" } ],
  "success": false,
  "messages": [],
  "result": []
})";

// §5: token verify success and failure.
const char *kVerifyOk = R"({
  "result": { "id": "6247ac8d9c10ba11154a2b82d35953b7", "status": "active" },
  "success": true,
  "errors": [],
  "messages": [ { "code": 10000, "message": "This API Token is valid and active", "type": null } ]
})";
const char *kVerifyInvalid =
    R"({ "success": false, "errors": [ { "code": 1000, "message": "Invalid API Token" } ], "messages": [], "result": null })";

// §1.2: error with error_chain.
const char *kErrorChain =
    R"({"success":false,"errors":[{"code":6003,"message":"Invalid request headers","error_chain":[{"code":6111,"message":"Invalid format for Authorization header"}]}],"messages":[],"result":null})";

// §3: /raw shape.
const char *kRawSuccess = R"({
  "success": true, "errors": [], "messages": [],
  "result": [
    { "results": { "columns": ["id", "kmh"], "rows": [[1001, 47], [1002, 51.5]] },
      "success": true,
      "meta": { "changed_db": false, "changes": 0, "duration": 0.21, "last_row_id": 0, "rows_read": 2,
                "rows_written": 0, "size_after": 53248 } }
  ]
})";

// §1.3/§9 (#4340): gateway timeout with an HTML body.
const char *kHtml504 = "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
                       "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
                       "</body>\r\n</html>\r\n";

std::string wrap_rows(const std::string &rows_json) {
	return R"({"success":true,"errors":[],"messages":[],"result":[{"results":)" + rows_json +
	       R"(,"success":true,"meta":{}}]})";
}

TEST(ParseResponse, QuerySuccessFromTheDocs) {
	const Response r = parse_response(200, kQuerySuccess, false);
	EXPECT_TRUE(r.success);
	EXPECT_EQ(r.failure, FailureKind::None);
	EXPECT_TRUE(r.body_is_json);
	ASSERT_EQ(r.statements.size(), 1u);
	const StatementResult &s = r.statements[0];
	EXPECT_TRUE(s.success);
	EXPECT_EQ(s.columns, (std::vector<std::string>{"name", "sql", "type"}));
	ASSERT_EQ(s.rows.size(), 1u);
	EXPECT_EQ(s.rows[0][0], "_cf_KV");
	EXPECT_EQ(s.rows[0][1],
	          "CREATE TABLE _cf_KV (\n        key TEXT PRIMARY KEY,\n        value BLOB\n      ) WITHOUT ROWID");
	EXPECT_EQ(s.rows[0][2], "table");
	EXPECT_DOUBLE_EQ(s.duration_ms, 0.1728);
	EXPECT_EQ(s.size_after, 12288);
	EXPECT_EQ(s.rows_read, 2);
	EXPECT_EQ(s.rows_written, 0);
	EXPECT_EQ(r.result_json.front(), '[');
	EXPECT_TRUE(contains(r.result_json, "\"served_by\":\"v3-prod\""));
	EXPECT_EQ(r.describe(), "HTTP 200 OK");
}

TEST(ParseResponse, TwoStatementWrite) {
	const Response r = parse_response(200, kTwoWrites, false);
	ASSERT_TRUE(r.success);
	ASSERT_EQ(r.statements.size(), 2u);
	EXPECT_TRUE(r.statements[0].columns.empty());
	EXPECT_TRUE(r.statements[0].rows.empty());
	EXPECT_EQ(r.statements[0].changes, 1);
	EXPECT_EQ(r.statements[0].rows_written, 2);
	EXPECT_EQ(r.statements[1].rows_written, 1);
	EXPECT_DOUBLE_EQ(r.statements[1].duration_ms, 0.12);
}

TEST(ParseResponse, SqlErrorWithEmptyResultArrayIsPermanent) {
	const Response r = parse_response(400, kSqlAuthError, false);
	EXPECT_FALSE(r.success);
	EXPECT_EQ(r.failure, FailureKind::Permanent);
	ASSERT_EQ(r.errors.size(), 1u);
	EXPECT_EQ(r.errors[0].code, 7500);
	EXPECT_EQ(r.errors[0].message, "not authorized: SQLITE_AUTH");
	EXPECT_TRUE(r.statements.empty()) << "result is ignored when success is false";
	EXPECT_EQ(r.describe(), "HTTP 400, D1 error 7500: not authorized: SQLITE_AUTH");
}

TEST(ParseResponse, NoSuchTableDescribedInD1sWords) {
	const Response r = parse_response(
	    400, R"({"errors":[{"code":7500,"message":"no such table: foo: SQLITE_ERROR"}],"success":false,"result":null})",
	    false);
	EXPECT_EQ(r.failure, FailureKind::Permanent);
	EXPECT_EQ(r.describe(), "HTTP 400, D1 error 7500: no such table: foo: SQLITE_ERROR");
	EXPECT_EQ(r.result_json, "null");
}

TEST(ParseResponse, TokenVerifySuccessAndFailure) {
	const Response ok = parse_response(200, kVerifyOk, false);
	EXPECT_TRUE(ok.success);
	EXPECT_TRUE(ok.statements.empty()) << "an object result is not a statement list";
	EXPECT_EQ(ok.result_json, R"({"id":"6247ac8d9c10ba11154a2b82d35953b7","status":"active"})");
	ASSERT_EQ(ok.messages.size(), 1u);
	EXPECT_EQ(ok.messages[0].code, 10000);
	EXPECT_TRUE(ok.errors.empty());

	const Response bad = parse_response(401, kVerifyInvalid, false);
	EXPECT_FALSE(bad.success);
	EXPECT_EQ(bad.failure, FailureKind::Auth);
	EXPECT_EQ(bad.describe(), "HTTP 401, D1 error 1000: Invalid API Token");
	// reports vary between 400/401/403: the code decides
	EXPECT_EQ(parse_response(400, kVerifyInvalid, false).failure, FailureKind::Auth);
}

TEST(ParseResponse, ErrorChainIsFlattenedAfterItsParent) {
	const Response r = parse_response(400, kErrorChain, false);
	ASSERT_EQ(r.errors.size(), 2u);
	EXPECT_EQ(r.errors[0].code, 6003);
	EXPECT_EQ(r.errors[1].code, 6111);
	EXPECT_EQ(r.errors[1].message, "Invalid format for Authorization header");
	EXPECT_EQ(r.failure, FailureKind::Auth);
	EXPECT_EQ(r.describe(), "HTTP 400, D1 error 6003: Invalid request headers; D1 error 6111: Invalid format for "
	                        "Authorization header");
}

TEST(ParseResponse, RawShapeKeepsColumnOrder) {
	const Response r = parse_response(200, kRawSuccess, true);
	ASSERT_TRUE(r.success);
	ASSERT_EQ(r.statements.size(), 1u);
	const StatementResult &s = r.statements[0];
	EXPECT_EQ(s.columns, (std::vector<std::string>{"id", "kmh"}));
	ASSERT_EQ(s.rows.size(), 2u);
	EXPECT_EQ(s.rows[0], (std::vector<std::optional<std::string>>{"1001", "47"}));
	EXPECT_EQ(s.rows[1], (std::vector<std::optional<std::string>>{"1002", "51.5"}));
	EXPECT_EQ(s.size_after, 53248);
}

TEST(ParseResponse, RawShapeWithDuplicateColumnNames) {
	const Response r = parse_response(
	    200,
	    R"({"success":true,"errors":[],"messages":[],"result":[{"results":{"columns":["a","a"],"rows":[[1,null]]},"success":true,"meta":{}}]})",
	    true);
	ASSERT_EQ(r.statements.size(), 1u);
	EXPECT_EQ(r.statements[0].columns, (std::vector<std::string>{"a", "a"}));
	EXPECT_EQ(r.statements[0].rows[0], (std::vector<std::optional<std::string>>{"1", std::nullopt}));
}

TEST(ParseResponse, Html504IsTransientWithACollapsedExcerpt) {
	const Response r = parse_response(504, kHtml504, false);
	EXPECT_FALSE(r.success);
	EXPECT_FALSE(r.body_is_json);
	EXPECT_EQ(r.failure, FailureKind::Transient);
	EXPECT_EQ(r.body_excerpt.substr(0, 53), "<html> <head><title>504 Gateway Time-out</title></hea");
	EXPECT_FALSE(contains(r.body_excerpt, "\r"));
	EXPECT_FALSE(contains(r.body_excerpt, "  "));
	EXPECT_EQ(r.describe().substr(0, 44), "HTTP 504 with a non-JSON body: \"<html> <head");
}

TEST(ParseResponse, LongBodyExcerptIsCutOnACharacterBoundary) {
	std::string body = "<p>";
	for (int i = 0; i < 400; ++i)
		body += "\xC3\xA9"; // é, two bytes
	const Response r = parse_response(502, body, false);
	EXPECT_LE(r.body_excerpt.size(), 300u + 3u);
	EXPECT_EQ(r.body_excerpt.substr(r.body_excerpt.size() - 3), "…");
	const std::string cut = r.body_excerpt.substr(0, r.body_excerpt.size() - 3);
	EXPECT_EQ((cut.size() - 3) % 2, 0u) << "no half character";

	const Response bin = parse_response(500, std::string("\xFF\xFE\x00zz", 5), false);
	EXPECT_EQ(bin.body_excerpt, "?? zz") << "invalid bytes replaced, controls become spaces";
}

TEST(ParseResponse, EmptyBody) {
	const Response r = parse_response(502, "", false);
	EXPECT_EQ(r.failure, FailureKind::Transient);
	EXPECT_EQ(r.describe(), "HTTP 502 with an empty body");
	EXPECT_EQ(parse_response(200, "", false).failure, FailureKind::Transient) << "200 without a body is not success";
	EXPECT_EQ(parse_response(403, "", false).failure, FailureKind::Auth);
	EXPECT_EQ(parse_response(404, "", false).failure, FailureKind::NotFound);
	EXPECT_EQ(parse_response(400, "", false).failure, FailureKind::Permanent);
}

TEST(ParseResponse, TruncatedJsonIsNotSuccess) {
	const std::string full = kQuerySuccess;
	for (size_t cut : {size_t{1}, size_t{20}, full.size() / 2, full.size() - 2}) {
		const Response r = parse_response(200, full.substr(0, cut), false);
		EXPECT_FALSE(r.success) << cut;
		EXPECT_EQ(r.failure, FailureKind::Transient) << cut;
		EXPECT_TRUE(r.statements.empty());
	}
}

TEST(ParseResponse, NonEnvelopeJson) {
	const Response arr = parse_response(200, "[1,2]", false);
	EXPECT_FALSE(arr.success);
	EXPECT_FALSE(arr.body_is_json);
	const Response no_success = parse_response(200, R"({"result":[]})", false);
	EXPECT_FALSE(no_success.success);
	EXPECT_EQ(no_success.failure, FailureKind::Permanent);
	EXPECT_TRUE(contains(no_success.describe(), "no error details"));
	const Response success_but_500 = parse_response(500, R"({"success":true,"errors":[],"result":[]})", false);
	EXPECT_FALSE(success_but_500.success);
	EXPECT_EQ(success_but_500.failure, FailureKind::Transient);
}

TEST(ParseResponse, Int64ExtremesStayExact) {
	const Response r = parse_response(
	    200, wrap_rows(R"([{"max":9223372036854775807,"min":-9223372036854775808,"odd":9007199254740993}])"), false);
	ASSERT_EQ(r.statements.size(), 1u);
	EXPECT_EQ(r.statements[0].rows[0], (std::vector<std::optional<std::string>>{
	                                       "9223372036854775807", "-9223372036854775808", "9007199254740993"}));
}

TEST(ParseResponse, IntegerBeyondInt64DoesNotFailTheDocument) {
	// What D1 sends for INT64_MAX: JavaScript's rounding of it.
	const Response r = parse_response(
	    200, wrap_rows(R"([{"big":9223372036854776000,"safe":9007199254740992,"small":42,"r":0.5}])"), false);
	ASSERT_TRUE(r.success);
	ASSERT_EQ(r.statements.size(), 1u);
	EXPECT_EQ(r.statements[0].rows[0],
	          (std::vector<std::optional<std::string>>{"9223372036854776000", "9007199254740992", "42", "0.5"}));
	EXPECT_TRUE(contains(r.result_json, "\"big\":9223372036854776000"));
	EXPECT_TRUE(contains(r.result_json, "\"small\":42")) << "integral reals render as integers: " << r.result_json;
	EXPECT_EQ(parse_response(200, wrap_rows(R"([{"neg":-99999999999999999999}])"), false).statements[0].rows[0][0],
	          "-100000000000000000000");
}

TEST(ParseResponse, CellRendering) {
	const Response r = parse_response(
	    200,
	    wrap_rows(
	        R"([{"s":"it's \"q\" \u00e9","n":null,"r":0.1,"tiny":1e-7,"huge":1.5e300,"e21":1e21,"three":3.0,"neg0":-0.0,
	             "blob":[0,1,255,16],"empty":[],"notblob":[256],"mixed":[1,"a"],"obj":{"a":1,"b":[true,null,"x\ny"]}}])"),
	    false);
	ASSERT_EQ(r.statements.size(), 1u);
	const auto &cols = r.statements[0].columns;
	const auto &row = r.statements[0].rows[0];
	auto cell = [&](const std::string &name) {
		const size_t i = static_cast<size_t>(std::find(cols.begin(), cols.end(), name) - cols.begin());
		return row.at(i);
	};
	EXPECT_EQ(cell("s"), "it's \"q\" \xC3\xA9");
	EXPECT_EQ(cell("n"), std::nullopt);
	EXPECT_EQ(cell("r"), "0.1");
	EXPECT_EQ(cell("tiny"), "1e-07");
	EXPECT_EQ(cell("huge"), "1.5e+300");
	EXPECT_EQ(cell("e21"), "1e+21");
	EXPECT_EQ(cell("three"), "3");
	EXPECT_EQ(cell("neg0"), "-0");
	EXPECT_EQ(cell("blob"), "0001ff10");
	EXPECT_EQ(cell("empty"), "");
	EXPECT_EQ(cell("notblob"), "[256]");
	EXPECT_EQ(cell("mixed"), "[1,\"a\"]");
	EXPECT_EQ(cell("obj"), "{\"a\":1,\"b\":[true,null,\"x\\ny\"]}");
}

TEST(ParseResponse, ColumnsFollowFirstRowAndMissingKeysAreNull) {
	const Response r = parse_response(200, wrap_rows(R"([{"z":1,"a":2,"m":3},{"a":5,"z":4}])"), false);
	ASSERT_EQ(r.statements.size(), 1u);
	EXPECT_EQ(r.statements[0].columns, (std::vector<std::string>{"z", "a", "m"})) << "insertion order, not sorted";
	EXPECT_EQ(r.statements[0].rows[1], (std::vector<std::optional<std::string>>{"4", "5", std::nullopt}));
}

TEST(ParseResponse, StatementFailureInsideSuccessfulEnvelope) {
	const Response r = parse_response(
	    200, R"({"success":true,"errors":[],"result":[{"results":[],"success":false,"meta":{}}]})", false);
	ASSERT_EQ(r.statements.size(), 1u);
	EXPECT_FALSE(r.statements[0].success);
}

TEST(ParseResponse, RetryAfterHeaderIsParsedAndDescribed) {
	const Response r = parse_response(
	    429,
	    R"({"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}]})",
	    false, "2");
	EXPECT_EQ(r.failure, FailureKind::RateLimited);
	ASSERT_TRUE(r.retry_after_s.has_value());
	EXPECT_EQ(*r.retry_after_s, 2.0);
	EXPECT_TRUE(contains(r.describe(), "(Retry-After 2 s)")) << r.describe();
}

TEST(RetryAfter, DeltaSeconds) {
	EXPECT_EQ(parse_retry_after("120", 0), 120.0);
	EXPECT_EQ(parse_retry_after("  7 ", 0), 7.0);
	EXPECT_EQ(parse_retry_after("0", 0), 0.0);
	EXPECT_EQ(parse_retry_after("1.5", 0), 1.5);
	EXPECT_EQ(parse_retry_after("", 0), std::nullopt);
	EXPECT_EQ(parse_retry_after("-5", 0), std::nullopt);
	EXPECT_EQ(parse_retry_after("12abc", 0), std::nullopt);
	EXPECT_EQ(parse_retry_after("soon", 0), std::nullopt);
}

TEST(RetryAfter, HttpDateAllThreeForms) {
	const double now = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
	EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), 10.0);
	EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now), 60.0);
	EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:38 1994", now), 1.0);
	EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now), 0.0) << "a past date means now";
	EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 0), 0.0);
	EXPECT_EQ(parse_retry_after("Tue, 29 Feb 2028 23:59:59 GMT", 1835481599 - 1), 1.0) << "leap day";
	EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now), std::nullopt);
	EXPECT_EQ(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now), std::nullopt);
	EXPECT_EQ(parse_retry_after("Sun, 06 Nov", now), std::nullopt);
}

struct ClassifyCase {
	long status;
	long code;
	const char *message;
	bool json;
	FailureKind expected;
};

TEST(Classify, D1RestApiSection16Table) {
	const ClassifyCase cases[] = {
	    {0, 0, "", false, FailureKind::Transient},
	    {500, 0, "", false, FailureKind::Transient},
	    {502, 0, "", false, FailureKind::Transient},
	    {503, 0, "", false, FailureKind::Transient},
	    {504, 7009, "timeout", true, FailureKind::Transient},
	    {429, 971, "Please wait and consider throttling your request speed", true, FailureKind::RateLimited},
	    {429, 0, "", false, FailureKind::RateLimited},
	    {429, 7500, "D1 DB is overloaded. Requests queued for too long.", true, FailureKind::Overloaded},
	    {429, 7500, "D1 DB is overloaded. Too many requests queued.", true, FailureKind::Overloaded},
	    {500, 7500, "D1 DB storage operation exceeded timeout which caused object to be reset.", true,
	     FailureKind::Overloaded},
	    {500, 7500, "D1 DB exceeded its CPU time limit and was reset.", true, FailureKind::Overloaded},
	    {500, 7500, "D1 DB's isolate exceeded its memory limit and was reset.", true, FailureKind::Overloaded},
	    {500, 7500, "Network connection lost.", true, FailureKind::Transient},
	    {500, 7500, "Internal error in D1 storage caused object to be reset.", true, FailureKind::Transient},
	    {500, 7500, "Internal error while starting up D1 DB storage caused object to be reset.", true,
	     FailureKind::Transient},
	    {500, 7500, "D1 DB reset because its code was updated.", true, FailureKind::Transient},
	    {500, 7500, "Cannot resolve D1 DB due to transient issue on remote node.", true, FailureKind::Transient},
	    {400, 7500, "Can't read from request stream because client disconnected.", true, FailureKind::Transient},
	    {500, 7500, "internal error; reference = e_PVSMDp_4052de8290884726940584d42f9c98d7", true,
	     FailureKind::Transient},
	    {401, 10000, "Authentication error", true, FailureKind::Auth},
	    {403, 7403, "The given account is not valid or is not authorized to access this service", true,
	     FailureKind::Auth},
	    {400, 1000, "Invalid API Token", true, FailureKind::Auth},
	    {400, 6003, "Invalid request headers", true, FailureKind::Auth},
	    {403, 0, "", false, FailureKind::Auth},
	    {404, 7404, "The database x could not be found", true, FailureKind::NotFound},
	    {400, 7003, "Could not route to /client/v4/accounts/x/d1/database, perhaps your object identifier is invalid?",
	     true, FailureKind::NotFound},
	    {404, 0, "", false, FailureKind::NotFound},
	    {400, 7500, "no such table: foo: SQLITE_ERROR", true, FailureKind::Permanent},
	    {400, 7500, "statement too long: SQLITE_TOOBIG", true, FailureKind::Permanent},
	    {400, 7500, "too many SQL variables at offset 12: SQLITE_ERROR", true, FailureKind::Permanent},
	    {500, 7500, "not authorized", true, FailureKind::Permanent},
	    {500, 10001, "UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT", true, FailureKind::Permanent},
	    {400, 7400, "Invalid property: params => Expected array, received null", true, FailureKind::Permanent},
	    {400, 7500,
	     "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() "
	     "APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements.",
	     true, FailureKind::Permanent},
	    {400, 7500,
	     "Your account has exceeded D1's free tier daily row write limit. Upgrade to a paid plan or wait until "
	     "tomorrow (midnight UTC) to continue.",
	     true, FailureKind::Permanent},
	    {429, 7500, "Your account has exceeded D1's free tier daily row read limit.", true, FailureKind::Permanent},
	    {413, 0, "", false, FailureKind::Permanent},
	    {408, 0, "", false, FailureKind::Transient},
	    {301, 0, "", false, FailureKind::Permanent},
	    {200, 0, "", false, FailureKind::Transient},
	    {500, 7500, "Internal error", true, FailureKind::Transient},
	};
	for (const auto &c : cases) {
		std::vector<ApiMessage> errors;
		if (c.json && c.code != 0)
			errors.push_back({c.code, c.message});
		EXPECT_EQ(classify(c.status, errors, c.json), c.expected)
		    << "HTTP " << c.status << " code " << c.code << " '" << c.message << "' got "
		    << failure_kind_name(classify(c.status, errors, c.json));
	}
}

TEST(Classify, KindNames) {
	EXPECT_STREQ(failure_kind_name(FailureKind::None), "none");
	EXPECT_STREQ(failure_kind_name(FailureKind::RateLimited), "rate limited");
	EXPECT_STREQ(failure_kind_name(FailureKind::Permanent), "permanent");
}

} // namespace
} // namespace pg2d1
