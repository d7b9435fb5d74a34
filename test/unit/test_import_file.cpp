// test_import_file.cpp — import files (content, MD5, mode 0600, removal), the import directory's
// clean-up, the classification of a failed import, and ImportRunner driving init → upload →
// ingest → poll against a scripted loopback server.
// Must never leave files behind in the temporary directory it makes.
// Run by ctest (pg2d1_unit_tests).
#include "core/import_file.hpp"

#include "core/md5.hpp"
#include "loopback_server.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace pg2d1 {
namespace {

using test::envelope;
using test::LoopbackServer;
using test::respond;
using test::ScriptedResponse;

class TempDir {
  public:
	TempDir() {
		char tmpl[] = "/tmp/pg2d1-import-test.XXXXXX";
		path_ = ::mkdtemp(tmpl);
	}
	~TempDir() {
		std::string cmd = "rm -rf '" + path_ + "'";
		(void)std::system(cmd.c_str());
	}
	const std::string &path() const {
		return path_;
	}

  private:
	std::string path_;
};

std::string read_all(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

bool exists(const std::string &path) {
	struct stat st;
	return ::stat(path.c_str(), &st) == 0;
}

TEST(ImportFileWriter, WritesStatementsWithTheirMd5AndMode0600) {
	TempDir dir;
	std::string path = import_file_path(dir.path(), 7, 1);
	EXPECT_EQ(path, dir.path() + "/job7-1.sql");
	{
		ImportFileWriter w(path);
		w.write_statement("INSERT INTO \"t\" VALUES (1,'a;b')");
		EXPECT_EQ(w.bytes(), 34u) << "bytes() counts what is still in the write buffer (files close by size)";
		std::string big(3 << 20, 'x'); // past the write buffer
		w.write_statement("SELECT '" + big + "'");
		w.finish();
		std::string expected = "INSERT INTO \"t\" VALUES (1,'a;b');\nSELECT '" + big + "';\n";
		EXPECT_EQ(read_all(path), expected);
		EXPECT_EQ(w.bytes(), expected.size());
		EXPECT_EQ(w.md5(), md5_hex(expected));
		struct stat st;
		ASSERT_EQ(::stat(path.c_str(), &st), 0);
		EXPECT_EQ(st.st_mode & 0777, 0600u);
	}
	EXPECT_FALSE(exists(path)) << "the writer removes its file when it goes";
}

TEST(ImportFileWriter, RefusesAnExistingFileAndNamesThePath) {
	TempDir dir;
	std::string path = import_file_path(dir.path(), 1, 1);
	std::ofstream(path) << "x";
	try {
		ImportFileWriter w(path);
		FAIL() << "created over an existing file";
	} catch (const Error &e) {
		EXPECT_EQ(e.sqlstate(), "58030");
		EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
		EXPECT_NE(e.hint().find("pg2d1.import_directory"), std::string::npos);
	}
}

TEST(ImportDirectory, CreatedWithMode0700AndCleanedByJob) {
	TempDir base;
	std::string dir = base.path() + "/imports";
	ensure_import_directory(dir);
	struct stat st;
	ASSERT_EQ(::stat(dir.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0700u);
	ensure_import_directory(dir); // again: fine
	for (auto name :
	     {"job1-1.sql", "job1-2.sql", "job12-1.sql", "job2-1.sql", "notes.txt", "job1-1.sql.bak", "job01-1.sql"}) {
		std::ofstream(dir + "/" + name) << "x";
	}
	EXPECT_EQ(remove_import_files(dir, [](int64_t job) { return job == 1; }), 2u);
	EXPECT_FALSE(exists(dir + "/job1-1.sql"));
	EXPECT_FALSE(exists(dir + "/job1-2.sql"));
	EXPECT_TRUE(exists(dir + "/job12-1.sql"));
	EXPECT_TRUE(exists(dir + "/job2-1.sql"));
	EXPECT_TRUE(exists(dir + "/notes.txt"));
	EXPECT_TRUE(exists(dir + "/job1-1.sql.bak"));
	EXPECT_TRUE(exists(dir + "/job01-1.sql"));
	std::ofstream(base.path() + "/plain") << "x";
	EXPECT_THROW(ensure_import_directory(base.path() + "/plain"), Error);
	// A directory others may write into is refused: they could swap a file before its upload.
	ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
	EXPECT_THROW(ensure_import_directory(dir), Error);
	ASSERT_EQ(::chmod(dir.c_str(), 0750), 0);
	EXPECT_NO_THROW(ensure_import_directory(dir));
}

TEST(ImportFailure, TransientWordsAreRetryableSqlErrorsAreNot) {
	ImportState st;
	st.status = "error";
	st.error = "Network connection lost.";
	st.messages = {"Starting import...", "Processed 10 queries."};
	Error e = import_failure(3, st);
	EXPECT_TRUE(e.retryable());
	EXPECT_NE(std::string(e.what()).find("file 3"), std::string::npos);
	EXPECT_NE(e.detail().find("Network connection lost."), std::string::npos);
	EXPECT_NE(e.detail().find("Processed 10 queries."), std::string::npos);
	st.error = "no such table: coordinate_speed_new: SQLITE_ERROR";
	Error p = import_failure(1, st);
	EXPECT_FALSE(p.retryable());
	EXPECT_EQ(p.sqlstate(), "38000");
	EXPECT_NE(p.detail().find("no such table"), std::string::npos);
	EXPECT_FALSE(p.hint().empty());
}

TEST(ImportRunner, PollDelayGrowsToFiveSeconds) {
	EXPECT_DOUBLE_EQ(ImportRunner::poll_delay_s(0), 0.25);
	EXPECT_GT(ImportRunner::poll_delay_s(3), ImportRunner::poll_delay_s(2));
	EXPECT_DOUBLE_EQ(ImportRunner::poll_delay_s(100), 5.0);
}

D1Config config_for(const LoopbackServer &server) {
	D1Config c;
	c.api_url = server.base_url();
	c.account_id = "acc";
	c.database_id = "db";
	c.api_token = "tok-SECRET-runner";
	c.requests_per_second = 0;
	c.backoff_base_ms = 1;
	c.backoff_max_ms = 10;
	c.max_retries = 2;
	c.request_timeout_ms = 10000;
	return c;
}

class ImportRunnerTest : public ::testing::Test {
  protected:
	void SetUp() override {
		::setenv("NO_PROXY", "127.0.0.1", 1);
		::setenv("no_proxy", "127.0.0.1", 1);
	}
};

TEST_F(ImportRunnerTest, UploadsIngestsAndPollsUntilComplete) {
	TempDir dir;
	std::string path = import_file_path(dir.path(), 5, 1);
	ImportFileWriter w(path);
	w.write_statement("INSERT INTO t VALUES (1)");
	w.finish();
	LoopbackServer r2({respond(200, "", {{"ETag", "\"" + w.md5() + "\""}})}); // the presigned URL's host
	const std::string upload = r2.base_url() + "/__upload/f1?X-Amz-Signature=abc";
	const std::string active = R"({"success":true,"type":"import","status":"active","at_bookmark":"b1",)"
	                           R"("messages":["Processed 1 queries."]})";
	LoopbackServer server({
	    respond(200, envelope(R"({"filename":"f1","upload_url":")" + upload + R"("})")),
	    respond(202, envelope(active)),
	    respond(202, envelope(active)),
	    respond(200, envelope(R"({"success":true,"type":"import","status":"complete","at_bookmark":"b1",)"
	                          R"("messages":[],"result":{"final_bookmark":"b2","num_queries":1,)"
	                          R"("meta":{"rows_written":1}}})")),
	});
	ImportRunner runner(config_for(server), [] { return false; });
	runner.start({1, path, w.md5(), w.bytes()});
	ImportState st = runner.wait([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
	EXPECT_EQ(st.status, "complete");
	EXPECT_EQ(st.num_queries, 1);
	EXPECT_FALSE(runner.busy());
	auto puts = r2.requests();
	ASSERT_EQ(puts.size(), 1u);
	EXPECT_EQ(puts[0].method, "PUT");
	EXPECT_EQ(puts[0].body, "INSERT INTO t VALUES (1);\n");
	EXPECT_EQ(puts[0].headers.count("authorization"), 0u) << "the token never goes to the upload URL";
	auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 4u);
	EXPECT_NE(reqs[0].body.find("\"init\""), std::string::npos);
	EXPECT_NE(reqs[1].body.find("\"ingest\""), std::string::npos);
	EXPECT_NE(reqs[2].body.find("\"poll\""), std::string::npos);
	EXPECT_GE(runner.stats().requests, 5u);
}

TEST_F(ImportRunnerTest, AFileD1AlreadyHasIsNotUploadedAgain) {
	TempDir dir;
	std::string path = import_file_path(dir.path(), 5, 2);
	ImportFileWriter w(path);
	w.write_statement("SELECT 1");
	w.finish();
	LoopbackServer server({
	    respond(200,
	            envelope(R"({"success":true,"type":"import","status":"active","at_bookmark":"b9","messages":[]})")),
	    respond(200, envelope(R"({"success":true,"type":"import","status":"complete","at_bookmark":"b9",)"
	                          R"("messages":["Processed 1 queries."],"result":{"num_queries":1,"meta":{}}})")),
	});
	ImportRunner runner(config_for(server), [] { return false; });
	runner.start({2, path, w.md5(), w.bytes()});
	ImportState st = runner.wait([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
	EXPECT_EQ(st.status, "complete");
	auto reqs = server.requests();
	ASSERT_EQ(reqs.size(), 2u);
	EXPECT_NE(reqs[1].body.find("\"poll\""), std::string::npos);
	EXPECT_NE(reqs[1].body.find("b9"), std::string::npos);
}

TEST_F(ImportRunnerTest, ARolledBackImportIsAnErrorWithD1sWords) {
	TempDir dir;
	std::string path = import_file_path(dir.path(), 5, 3);
	ImportFileWriter w(path);
	w.write_statement("SELECT 1");
	w.finish();
	LoopbackServer server({
	    respond(200, envelope(R"({"success":true,"type":"import","status":"active","at_bookmark":"b","messages":[]})")),
	    respond(200, envelope(R"({"success":true,"type":"import","status":"error","at_bookmark":"b",)"
	                          R"("messages":["Processed 3 queries."],"error":"Network connection lost."})")),
	});
	ImportRunner runner(config_for(server), [] { return false; });
	runner.start({3, path, w.md5(), w.bytes()});
	try {
		(void)runner.wait([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
		FAIL() << "no error";
	} catch (const Error &e) {
		EXPECT_TRUE(e.retryable());
		EXPECT_NE(e.detail().find("Network connection lost."), std::string::npos) << e.detail();
	}
}

TEST_F(ImportRunnerTest, AnswerLostIsRetryableForTheCallerToCheckTheLedger) {
	TempDir dir;
	std::string path = import_file_path(dir.path(), 5, 4);
	ImportFileWriter w(path);
	w.write_statement("SELECT 1");
	w.finish();
	LoopbackServer server({
	    respond(200, envelope(R"({"success":false,"error":"Not currently importing anything."})")),
	});
	ImportRunner runner(config_for(server), [] { return false; });
	runner.start({4, path, w.md5(), w.bytes()});
	try {
		(void)runner.wait([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
		FAIL() << "no error";
	} catch (const Error &e) {
		EXPECT_TRUE(e.retryable());
		EXPECT_NE(e.detail().find("Not currently importing anything."), std::string::npos);
	}
}

} // namespace
} // namespace pg2d1
