// import_file.hpp — the SQL files of an import (D1's import API, d1-rest-api.md §6): written
// statement by statement with their MD5 (D1's etag) computed on the way, and run through
// init → upload → ingest → poll on a background thread while the next file is written.
// Must never: keep more than one write buffer of a file in memory (files reach gigabytes),
// create a file readable by anyone but its owner, leave a file behind when the object that
// wrote it goes away, or call PostgreSQL from the import thread.
// Called by the migration driver (src/pg/migrate.cpp); unit-tested in test_import_file.cpp.
#pragma once

#include "async_sender.hpp"
#include "d1_client.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2d1 {

class Md5;

// Writes one file: each statement followed by ";\n". Created with O_EXCL and mode 0600.
class ImportFileWriter {
  public:
	// Throws Error 58030 (naming the path and the system's reason) when the file cannot be created.
	explicit ImportFileWriter(std::string path);
	~ImportFileWriter(); // closes and removes the file (the writer lives as long as the file is needed)
	ImportFileWriter(const ImportFileWriter &) = delete;
	ImportFileWriter &operator=(const ImportFileWriter &) = delete;

	void write_statement(std::string_view sql); // throws Error 58030 on a write failure (disk full)
	void finish();                              // flushes, fsyncs and closes; md5() is valid afterwards
	uint64_t bytes() const {                    // written so far, the buffer included
		return bytes_ + buffer_.size();
	}
	const std::string &md5() const {
		return md5_;
	}
	const std::string &path() const {
		return path_;
	}

  private:
	void flush();
	std::string path_;
	int fd_ = -1;
	std::string buffer_;
	uint64_t bytes_ = 0;
	std::unique_ptr<Md5> hash_;
	std::string md5_;
};

// Creates `dir` (mode 0700) when missing; throws Error 58030 when it cannot, or when it exists
// and is not a directory, is not owned by this process's user, or others may write into it
// (they could remove or replace a file between its writing and its upload).
void ensure_import_directory(const std::string &dir);

// "<dir>/job<job_id>-<number>.sql"
std::string import_file_path(const std::string &dir, int64_t job_id, int number);

// Removes the files of `dir` named like import_file_path() whose job id `remove(job_id)`
// accepts; returns how many were removed. Other files are never touched.
size_t remove_import_files(const std::string &dir, const std::function<bool(int64_t job_id)> &remove);

// One file handed to the import thread.
struct ImportFile {
	int number = 0; // 1, 2, … within the job
	std::string path;
	std::string md5;
	uint64_t bytes = 0;
};

// What the import thread reports for the progress view.
struct ImportProgress {
	int number = 0;     // the file being imported, 0 = none
	std::string status; // "uploading 12.3 MB", "D1 importing: Processed 1477 queries.", …
	bool done = false;  // the import of `number` ended (result or failure)
	int64_t num_queries = -1;
};

// Imports files one at a time on its own thread (an AsyncSender one item deep): init with
// the etag, upload unless D1 already has the file, ingest, poll until D1 says complete or
// error. A file D1 reports failed (rolled back) becomes an Error: retryable when D1's words
// say the failure was transient, with D1's messages in its DETAIL.
class ImportRunner {
  public:
	// `should_abort` is polled by the waits on the caller's side; it must not throw or longjmp.
	ImportRunner(D1Config config, std::function<bool()> should_abort);
	~ImportRunner();
	ImportRunner(const ImportRunner &) = delete;
	ImportRunner &operator=(const ImportRunner &) = delete;

	// Starts importing `file`; at most one at a time (call wait() first). Rethrows an earlier failure.
	void start(ImportFile file);
	// Waits until the started file's import ended and returns D1's final state; throws its failure.
	// `tick` runs again and again while the import goes on: it must sleep a little (and may
	// update the caller's progress, or throw to stop waiting).
	ImportState wait(const std::function<void()> &tick);
	bool busy() const;
	ImportProgress progress() const;
	ClientStats stats() const; // of the thread's client, a consistent copy

	// The polling delay after the n-th "active" answer (0-based): 0.25 s growing to 5 s.
	static double poll_delay_s(int n);

  private:
	void run_file(const ImportFile &f);
	void set_status(const std::string &s);
	D1Config config_;
	std::function<bool()> should_abort_;
	std::shared_ptr<const std::atomic<bool>> stop_;
	mutable std::mutex mu_;
	ImportProgress progress_;
	ImportState last_;
	ClientStats stats_;
	std::optional<ImportFile> pending_;
	std::optional<D1Client> client_;    // used on the thread only
	std::optional<AsyncSender> thread_; // declared last: joined first
};

// The Error for a file D1 reports failed: D1's error and its last messages in the DETAIL,
// retryable when classify() calls D1's words transient or overloaded.
Error import_failure(int number, const ImportState &state);

} // namespace pg2d1
