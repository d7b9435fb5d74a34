// test_d1_import.cpp — D1Client's import API against scripted loopback servers (one for the API, one standing in
// for R2): init's two answers, the streamed PUT (exact bytes, Content-Length, no token), its retries and ETag check,
// ingest and polls (202 active, 200 complete, the polling-failure form), error classes, abort, and that neither the
// token nor the presigned URL's query string ever appears where it must not.
// Must never assert an upper bound on elapsed time tighter than seconds (no flaky timing).
// Run by ctest (pg2d1_unit_tests).
#include "core/d1_client.hpp"
#include "core/md5.hpp"

#include "loopback_server.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <jansson.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unistd.h>

namespace pg2d1 {
namespace {

using test::capture_error;
using test::contains;
using test::d1_error;
using test::envelope;
using test::LoopbackServer;
using test::respond;
using test::ScriptedResponse;
using Clock = std::chrono::steady_clock;

const std::string kToken = "tok-IMPORT-SECRET-77c1d0";
const std::string kSignature = "SIGSECRET0123456789abcdef";
const std::string kQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260901%2Fauto%2Fs3"
                           "&X-Amz-Expires=3600&X-Amz-Signature=" +
                           kSignature;
const std::string kEtag = "9e107d9d372bb6826bd81d3542a419d6";
const std::string kBookmark = "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683";

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

std::string upload_path() {
	return "/d1-imports/db-456/" + kEtag + ".sql";
}

// The presigned URL of the fake R2 server, signature in its query string.
std::string upload_url(const LoopbackServer &r2) {
	return "http://127.0.0.1:" + std::to_string(r2.port()) + upload_path() + "?" + kQuery;
}

std::string shown_upload_url(const LoopbackServer &r2) {
	return "http://127.0.0.1:" + std::to_string(r2.port()) + upload_path();
}

// A temporary file removed by the destructor.
class TempFile {
  public:
	explicit TempFile(const std::string &content) {
		char name[] = "/tmp/pg2d1_import_XXXXXX";
		const int fd = ::mkstemp(name);
		if (fd < 0)
			throw std::runtime_error("mkstemp failed");
		path_ = name;
		size_t done = 0;
		while (done < content.size()) {
			const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
			if (n <= 0)
				break;
			done += static_cast<size_t>(n);
		}
		::close(fd);
	}
	~TempFile() {
		::unlink(path_.c_str());
	}
	TempFile(const TempFile &) = delete;
	TempFile &operator=(const TempFile &) = delete;
	const std::string &path() const {
		return path_;
	}

  private:
	std::string path_;
};

// SQL-looking bytes with a few zero bytes and high bytes in them (the body must arrive byte for byte).
std::string file_content(size_t n) {
	std::mt19937_64 rng(5);
	std::string s;
	s.reserve(n);
	while (s.size() < n) {
		s += "INSERT INTO t VALUES (" + std::to_string(rng() % 100000) + ",'\xc3\xa9t\xc3\xa9');\n";
		if (rng() % 50 == 0)
			s.push_back('\0');
	}
	s.resize(n);
	return s;
}

ScriptedResponse r2_ok(const std::string &etag) {
	return respond(200, "", {{"ETag", "\"" + etag + "\""}});
}

std::string r2_xml(const std::string &code, const std::string &message) {
	return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" + message +
	       "</Message></Error>";
}

// Parses a request body into a JSON object (the test fails when it is not one).
std::map<std::string, std::string> json_fields(const std::string &body) {
	std::map<std::string, std::string> out;
	json_error_t err;
	json_t *root = json_loadb(body.data(), body.size(), 0, &err);
	EXPECT_TRUE(root != nullptr && json_is_object(root)) << body;
	if (root == nullptr)
		return out;
	const char *key;
	json_t *value;
	json_object_foreach(root, key, value) {
		out[key] = json_is_string(value) ? json_string_value(value) : "(not a string)";
	}
	json_decref(root);
	return out;
}

void expect_no_secret(const Error &e) {
	for (const std::string &secret : {kToken.substr(0, 12), kSignature, std::string("X-Amz-"), std::string("?")}) {
		EXPECT_FALSE(contains(e.what(), secret)) << e.what();
		EXPECT_FALSE(contains(e.detail(), secret)) << e.detail();
		EXPECT_FALSE(contains(e.hint(), secret)) << e.hint();
	}
}

class D1ImportTest : public ::testing::Test {
  protected:
	void SetUp() override {
		::setenv("NO_PROXY", "127.0.0.1", 1);
		::setenv("no_proxy", "127.0.0.1", 1);
	}
};

TEST_F(D1ImportTest, InitResponseANeedsAnUpload) {
	const std::string url = "https://r2.example.com/bucket/db-456/" + kEtag + ".sql?" + kQuery;
	LoopbackServer api(
	    {respond(200, envelope(R"({"filename":"db-456-)" + kEtag + R"(.sql","upload_url":")" + url + R"("})"))});
	D1Client client(config_for(api));
	const ImportState st = client.import_init(kEtag);
	EXPECT_TRUE(st.ok);
	EXPECT_TRUE(st.needs_upload());
	EXPECT_EQ(st.upload_url, url);
	EXPECT_EQ(st.filename, "db-456-" + kEtag + ".sql");
	EXPECT_EQ(st.status, "");
	EXPECT_EQ(st.at_bookmark, "");
	EXPECT_TRUE(st.messages.empty());
	EXPECT_EQ(st.num_queries, -1);
	EXPECT_EQ(st.rows_written, -1);

	const auto reqs = api.requests();
	ASSERT_EQ(reqs.size(), 1u);
	EXPECT_EQ(reqs[0].method, "POST");
	EXPECT_EQ(reqs[0].target, "/client/v4/accounts/acc123/d1/database/db-456/import");
	EXPECT_EQ(reqs[0].headers.at("authorization"), "Bearer " + kToken);
	EXPECT_EQ(reqs[0].headers.at("content-type"), "application/json");
	const auto body = json_fields(reqs[0].body);
	EXPECT_EQ(body.size(), 2u);
	EXPECT_EQ(body.at("action"), "init");
	EXPECT_EQ(body.at("etag"), kEtag);
	EXPECT_EQ(client.stats().requests, 1u);
	EXPECT_EQ(client.stats().bytes_sent, reqs[0].body.size());
	EXPECT_GT(client.stats().bytes_received, 0u);
}

TEST_F(D1ImportTest, InitResponseBMeansAlreadyUploadedAndStarted) {
	LoopbackServer api({respond(200, envelope(R"({"success":true,"type":"import","status":"active","at_bookmark":")" +
	                                          kBookmark + R"(","messages":["Starting import..."]})"))});
	D1Client client(config_for(api));
	const ImportState st = client.import_init(kEtag);
	EXPECT_TRUE(st.ok);
	EXPECT_FALSE(st.needs_upload());
	EXPECT_EQ(st.status, "active");
	EXPECT_EQ(st.at_bookmark, kBookmark);
	ASSERT_EQ(st.messages.size(), 1u);
	EXPECT_EQ(st.messages[0], "Starting import...");
	EXPECT_EQ(st.filename, "");
}

TEST_F(D1ImportTest, UploadSendsExactlyTheFileWithContentLengthAndNoToken) {
	const std::string content = file_content(300001);
	const TempFile file(content);
	const std::string etag = md5_hex(content);
	LoopbackServer api;
	LoopbackServer r2({r2_ok(etag)});
	D1Client client(config_for(api));
	client.import_upload(upload_url(r2), file.path(), etag);

	EXPECT_EQ(api.request_count(), 0u) << "the upload does not touch the API";
	const auto reqs = r2.requests();
	ASSERT_EQ(reqs.size(), 1u);
	const auto &r = reqs[0];
	EXPECT_EQ(r.method, "PUT");
	EXPECT_EQ(r.target, upload_path() + "?" + kQuery) << "the presigned URL is used as given";
	EXPECT_EQ(r.headers.at("content-length"), std::to_string(content.size()));
	EXPECT_EQ(r.headers.count("transfer-encoding"), 0u);
	EXPECT_TRUE(r.body == content) << "the body is the file, byte for byte";
	EXPECT_EQ(r.headers.count("authorization"), 0u);
	EXPECT_EQ(r.headers.count("expect"), 0u);
	EXPECT_EQ(r.headers.count("content-type"), 0u);
	for (const auto &[name, value] : r.headers) {
		EXPECT_FALSE(contains(value, kToken.substr(0, 12))) << name;
		EXPECT_NE(name.rfind("cf-", 0), 0u) << "no Cloudflare header: " << name;
		EXPECT_NE(name.rfind("x-auth", 0), 0u) << name;
	}
	EXPECT_FALSE(contains(r.body, kToken));
	EXPECT_EQ(client.stats().requests, 1u);
	EXPECT_EQ(client.stats().retries, 0u);
	EXPECT_EQ(client.stats().bytes_sent, content.size());
}

TEST_F(D1ImportTest, UploadAcceptsAnUnquotedUpperCaseETagAndAnEmptyFile) {
	const TempFile empty("");
	const std::string empty_md5 = md5_hex("");
	std::string upper = empty_md5;
	for (auto &ch : upper)
		ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
	LoopbackServer r2({respond(200, "", {{"etag", upper}})});
	LoopbackServer api;
	D1Client client(config_for(api));
	client.import_upload(upload_url(r2), empty.path(), empty_md5);
	ASSERT_EQ(r2.request_count(), 1u);
	EXPECT_EQ(r2.requests()[0].headers.at("content-length"), "0");
}

TEST_F(D1ImportTest, UploadIsRetriedAfterAClosedConnectionAndA500) {
	const std::string content = file_content(70000);
	const TempFile file(content);
	const std::string etag = md5_hex(content);
	ScriptedResponse drop;
	drop.close_without_response = true;
	// the drop comes on a fresh connection, so it is the client's own retry (not libcurl's re-send on a reused one)
	LoopbackServer r2({drop, respond(500, r2_xml("InternalError", "We encountered an internal error.")), r2_ok(etag)});
	LoopbackServer api;
	D1Client client(config_for(api));
	client.import_upload(upload_url(r2), file.path(), etag);
	const auto reqs = r2.requests();
	ASSERT_EQ(reqs.size(), 3u);
	for (const auto &r : reqs) {
		EXPECT_EQ(r.method, "PUT");
		EXPECT_TRUE(r.body == content) << "every attempt sends the whole file again";
		EXPECT_EQ(r.headers.count("authorization"), 0u);
	}
	EXPECT_EQ(client.stats().requests, 3u);
	EXPECT_EQ(client.stats().retries, 2u);
	EXPECT_EQ(client.stats().bytes_sent, 3 * content.size());
}

TEST_F(D1ImportTest, ETagMismatchIsRetryableAfterRetries) {
	const std::string content = file_content(5000);
	const TempFile file(content);
	const std::string wrong = md5_hex("something else");
	LoopbackServer r2({}, r2_ok(wrong));
	LoopbackServer api;
	D1Config c = config_for(api);
	c.max_retries = 2;
	D1Client client(c);
	const Error e = capture_error([&] { client.import_upload(upload_url(r2), file.path(), md5_hex(content)); });
	EXPECT_TRUE(e.retryable());
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
	EXPECT_STREQ(e.what(), "File contents did not upload successfully (ETag mismatch). Please retry.");
	EXPECT_TRUE(contains(e.detail(), shown_upload_url(r2))) << e.detail();
	EXPECT_TRUE(contains(e.detail(), wrong)) << e.detail();
	EXPECT_TRUE(contains(e.detail(), "3 attempts")) << e.detail();
	expect_no_secret(e);
	EXPECT_EQ(r2.request_count(), 3u);
	EXPECT_EQ(client.stats().retries, 2u);
}

TEST_F(D1ImportTest, MissingETagIsAMismatch) {
	const TempFile file("SELECT 1;\n");
	LoopbackServer r2({}, respond(200, ""));
	LoopbackServer api;
	D1Config c = config_for(api);
	c.max_retries = 0;
	D1Client client(c);
	const Error e = capture_error([&] { client.import_upload(upload_url(r2), file.path(), md5_hex("SELECT 1;\n")); });
	EXPECT_TRUE(e.retryable());
	EXPECT_STREQ(e.what(), "File contents did not upload successfully (ETag mismatch). Please retry.");
	EXPECT_TRUE(contains(e.detail(), "no ETag")) << e.detail();
}

// R2 answering 403 with an XML body that echoes the query string (as S3's SignatureDoesNotMatch does): the
// signature appears nowhere in the error.
TEST_F(D1ImportTest, UploadHttpFailureNamesTheUrlWithoutItsQuery) {
	const TempFile file("SELECT 1;\n");
	LoopbackServer r2({}, respond(403, r2_xml("SignatureDoesNotMatch", "The request signature we calculated does not "
	                                                                   "match; query was " +
	                                                                       kQuery)));
	LoopbackServer api;
	D1Client client(config_for(api));
	const Error e = capture_error([&] { client.import_upload(upload_url(r2), file.path(), md5_hex("SELECT 1;\n")); });
	EXPECT_TRUE(e.retryable());
	EXPECT_STREQ(e.what(), "File could not be uploaded (HTTP 403). Please retry.");
	EXPECT_TRUE(contains(e.detail(), "PUT " + shown_upload_url(r2) + ": HTTP 403")) << e.detail();
	EXPECT_TRUE(contains(e.detail(), "SignatureDoesNotMatch")) << e.detail();
	expect_no_secret(e);
	EXPECT_EQ(r2.request_count(), 4u) << "max_retries = 3";
}

TEST_F(D1ImportTest, UploadTransportFailureIsRetryableWithoutTheQuery) {
	const TempFile file("SELECT 1;\n");
	LoopbackServer api;
	D1Config c = config_for(api);
	c.max_retries = 2;
	D1Client client(c);
	const std::string url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/b/k.sql?" + kQuery;
	const Error e = capture_error([&] { client.import_upload(url, file.path(), md5_hex("SELECT 1;\n")); });
	EXPECT_TRUE(e.retryable());
	EXPECT_STREQ(e.what(), "File could not be uploaded (no HTTP response). Please retry.");
	EXPECT_TRUE(contains(e.detail(), "curl error 7")) << e.detail();
	EXPECT_TRUE(contains(e.detail(), "/b/k.sql")) << e.detail();
	expect_no_secret(e);
	EXPECT_EQ(client.stats().requests, 3u);
}

TEST_F(D1ImportTest, UploadOfAMissingFileOrABadUrlIsPermanent) {
	LoopbackServer r2;
	LoopbackServer api;
	D1Client client(config_for(api));
	Error e = capture_error([&] { client.import_upload(upload_url(r2), "/nonexistent/pg2d1/x.sql", kEtag); });
	EXPECT_FALSE(e.retryable());
	EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidParameter);
	EXPECT_TRUE(contains(e.what(), "/nonexistent/pg2d1/x.sql")) << e.what();
	EXPECT_EQ(r2.request_count(), 0u);

	const TempFile file("x");
	e = capture_error([&] { client.import_upload("ftp://host/x?" + kQuery, file.path(), kEtag); });
	EXPECT_FALSE(e.retryable());
	EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidParameter);
	expect_no_secret(e);

	e = capture_error([&] { client.import_upload(upload_url(r2), file.path(), "not-an-md5"); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidParameter);
	EXPECT_EQ(r2.request_count(), 0u);
	EXPECT_EQ(client.stats().requests, 0u);
}

TEST_F(D1ImportTest, AbortDuringUploadBackoffThrows57014) {
	const TempFile file("SELECT 1;\n");
	LoopbackServer r2({}, respond(500, ""));
	LoopbackServer api;
	D1Config c = config_for(api);
	c.backoff_base_ms = 20000;
	c.backoff_max_ms = 20000;
	std::atomic<bool> abort{false};
	D1Client client(c, [&] { return abort.load(); });
	std::thread trigger([&] {
		while (r2.request_count() == 0)
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		abort = true;
	});
	const auto start = Clock::now();
	const Error e = capture_error([&] { client.import_upload(upload_url(r2), file.path(), md5_hex("SELECT 1;\n")); });
	trigger.join();
	EXPECT_EQ(e.sqlstate(), sqlstate::kQueryCanceled);
	EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
	EXPECT_EQ(r2.request_count(), 1u);
}

TEST_F(D1ImportTest, IngestThenPoll202ActiveThen200Complete) {
	const std::string active = R"({"success":true,"type":"import","status":"active","at_bookmark":")" + kBookmark +
	                           R"(","messages":["Starting import...","Processed 1477 queries."]})";
	const std::string complete =
	    R"({"success":true,"type":"import","status":"complete","at_bookmark":")" + kBookmark +
	    R"(","messages":["Processed 100833 queries."],"result":{"final_bookmark":"00000085-0000025e-00004c6d-2b6c9f1e",)"
	    R"("num_queries":100833,"meta":{"served_by":"v3-prod","duration":5123.4,"changes":100800,"last_row_id":100800,)"
	    R"("changed_db":true,"size_after":7340032,"rows_read":1201,"rows_written":201600}}})";
	LoopbackServer api({respond(202, envelope(R"({"success":true,"type":"import","status":"active","at_bookmark":")" +
	                                          kBookmark + R"(","messages":[]})")),
	                    respond(202, envelope(active)), respond(200, envelope(complete))});
	D1Client client(config_for(api));

	const ImportState started = client.import_ingest(kEtag, "db-456-" + kEtag + ".sql");
	EXPECT_TRUE(started.ok);
	EXPECT_EQ(started.status, "active");
	EXPECT_EQ(started.at_bookmark, kBookmark);

	const ImportState running = client.import_poll(started.at_bookmark);
	EXPECT_TRUE(running.ok);
	EXPECT_EQ(running.status, "active");
	ASSERT_EQ(running.messages.size(), 2u);
	EXPECT_EQ(running.messages[1], "Processed 1477 queries.");
	EXPECT_EQ(running.num_queries, -1);

	const ImportState done = client.import_poll(running.at_bookmark);
	EXPECT_TRUE(done.ok);
	EXPECT_EQ(done.status, "complete");
	EXPECT_EQ(done.num_queries, 100833);
	EXPECT_EQ(done.rows_written, 201600);
	ASSERT_EQ(done.messages.size(), 1u);
	EXPECT_EQ(done.messages[0], "Processed 100833 queries.");
	EXPECT_EQ(done.error, "");

	const auto reqs = api.requests();
	ASSERT_EQ(reqs.size(), 3u);
	const auto ingest = json_fields(reqs[0].body);
	EXPECT_EQ(ingest.size(), 3u);
	EXPECT_EQ(ingest.at("action"), "ingest");
	EXPECT_EQ(ingest.at("etag"), kEtag);
	EXPECT_EQ(ingest.at("filename"), "db-456-" + kEtag + ".sql");
	for (size_t i = 1; i < 3; ++i) {
		const auto poll = json_fields(reqs[i].body);
		EXPECT_EQ(poll.size(), 2u);
		EXPECT_EQ(poll.at("action"), "poll");
		EXPECT_EQ(poll.at("current_bookmark"), kBookmark);
		EXPECT_EQ(reqs[i].target, "/client/v4/accounts/acc123/d1/database/db-456/import");
	}
	EXPECT_EQ(client.stats().requests, 3u);
	EXPECT_EQ(client.stats().retries, 0u) << "202 is a success, not a failure to retry";
}

TEST_F(D1ImportTest, PollingFailureFormAndErrorStatus) {
	LoopbackServer api({respond(200, envelope(R"({"success":false,"error":"Not currently importing anything."})")),
	                    respond(200, envelope(R"({"success":true,"type":"import","status":"error","at_bookmark":"b1",)"
	                                          R"("messages":[],"errors":["statement too long","rolled back"]})")),
	                    respond(200, envelope(R"({"success":true,"type":"import","status":"error","at_bookmark":"b1",)"
	                                          R"("error":"near \"INSERTT\": syntax error"})"))});
	D1Client client(config_for(api));
	const ImportState idle = client.import_poll(kBookmark);
	EXPECT_FALSE(idle.ok);
	EXPECT_EQ(idle.status, "");
	EXPECT_EQ(idle.error, "Not currently importing anything.");

	const ImportState failed = client.import_poll("b1");
	EXPECT_TRUE(failed.ok);
	EXPECT_EQ(failed.status, "error");
	EXPECT_EQ(failed.error, "statement too long; rolled back");

	const ImportState failed2 = client.import_poll("b1");
	EXPECT_EQ(failed2.status, "error");
	EXPECT_EQ(failed2.error, "near \"INSERTT\": syntax error");
	EXPECT_EQ(client.stats().retries, 0u);
}

TEST_F(D1ImportTest, PermanentFailureOnInitHasD1sWords) {
	LoopbackServer api(
	    {respond(400, d1_error(7400, "Invalid property: etag => Expected string")), respond(200, envelope("{}"))});
	D1Client client(config_for(api));
	const Error e = capture_error([&] { client.import_init(kEtag); });
	EXPECT_FALSE(e.retryable());
	EXPECT_EQ(e.sqlstate(), sqlstate::kExternalRoutine);
	EXPECT_TRUE(contains(e.detail(), "HTTP 400, D1 error 7400: Invalid property: etag => Expected string"))
	    << e.detail();
	EXPECT_FALSE(contains(e.detail(), kToken.substr(0, 12)));
	EXPECT_EQ(api.request_count(), 1u) << "a permanent failure is not retried";
}

TEST_F(D1ImportTest, InitIsRetriedThroughGatewayFailuresAndRateLimits) {
	LoopbackServer api({respond(504, "<html><title>504 Gateway Time-out</title></html>"),
	                    respond(429, d1_error(971, "Please wait and consider throttling your request speed")),
	                    respond(200, envelope(R"({"filename":"f.sql","upload_url":"https://r2/x"})"))});
	D1Client client(config_for(api));
	const ImportState st = client.import_init(kEtag);
	EXPECT_TRUE(st.needs_upload());
	EXPECT_EQ(api.request_count(), 3u);
	EXPECT_EQ(client.stats().requests, 3u);
	EXPECT_EQ(client.stats().retries, 2u);
}

TEST_F(D1ImportTest, RetryableWhenD1StaysUnavailable) {
	LoopbackServer api({}, respond(503, "<html>503 Service Unavailable</html>"));
	D1Config c = config_for(api);
	c.max_retries = 1;
	D1Client client(c);
	const Error e = capture_error([&] { client.import_poll(kBookmark); });
	EXPECT_TRUE(e.retryable());
	EXPECT_EQ(e.sqlstate(), sqlstate::kConnectionFailure);
	EXPECT_EQ(api.request_count(), 2u);
}

TEST_F(D1ImportTest, ImportRequestsWaitLongerThanTheRequestTimeout) {
	ScriptedResponse slow = respond(200, envelope(R"({"filename":"f.sql","upload_url":"https://r2/x"})"));
	slow.delay_ms = 1500;
	LoopbackServer api({slow});
	D1Config c = config_for(api);
	c.request_timeout_ms = 300; // a batch would time out; /import waits at least 90 s
	c.max_retries = 0;
	D1Client client(c);
	EXPECT_TRUE(client.import_init(kEtag).needs_upload());
	EXPECT_EQ(api.request_count(), 1u);
}

TEST_F(D1ImportTest, AnswerWithoutAResultObjectIsAnError) {
	LoopbackServer api({respond(200, envelope("null"))});
	D1Client client(config_for(api));
	const Error e = capture_error([&] { client.import_init(kEtag); });
	EXPECT_EQ(e.sqlstate(), sqlstate::kExternalRoutine);
	EXPECT_TRUE(contains(e.what(), "without a result object")) << e.what();
}

// The whole sequence, as a caller runs it: init (A) → upload → ingest → poll until complete.
TEST_F(D1ImportTest, FullSequence) {
	const std::string content = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY);\nINSERT INTO t VALUES (1);\n";
	const TempFile file(content);
	const std::string etag = md5_hex(content);
	LoopbackServer r2({r2_ok(etag)});
	LoopbackServer api(
	    {respond(200, envelope(R"({"filename":"db-456-x.sql","upload_url":")" + upload_url(r2) + R"("})")),
	     respond(202,
	             envelope(R"({"success":true,"type":"import","status":"active","at_bookmark":"bm","messages":[]})")),
	     respond(200,
	             envelope(
	                 R"({"success":true,"type":"import","status":"complete","at_bookmark":"bm",)"
	                 R"("messages":["Processed 2 queries."],"result":{"num_queries":2,"meta":{"rows_written":1}}})"))});
	D1Client client(config_for(api));
	ImportState st = client.import_init(etag);
	ASSERT_TRUE(st.needs_upload());
	client.import_upload(st.upload_url, file.path(), etag);
	st = client.import_ingest(etag, st.filename);
	while (st.ok && st.status == "active")
		st = client.import_poll(st.at_bookmark);
	EXPECT_EQ(st.status, "complete");
	EXPECT_EQ(st.num_queries, 2);
	EXPECT_EQ(st.rows_written, 1);
	EXPECT_EQ(r2.requests().at(0).body, content);
	EXPECT_EQ(client.stats().requests, 4u);
	EXPECT_EQ(client.stats().bytes_sent, api.requests()[0].body.size() + content.size() +
	                                         api.requests()[1].body.size() + api.requests()[2].body.size());
}

} // namespace
} // namespace pg2d1
