// import_file.cpp — ImportFileWriter, the import directory's files and ImportRunner (see import_file.hpp).
// Must never leave a partial file behind on failure, nor send the API token to the upload URL
// (D1Client::import_upload sends none), nor call PostgreSQL from the import thread.
// Called by the migration driver (src/pg/migrate.cpp).
#include "import_file.hpp"

#include "d1_response.hpp"
#include "error.hpp"
#include "md5.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace pg2d1 {

namespace {

constexpr size_t kWriteBuffer = 1 << 20;

[[noreturn]] void throw_io(const std::string &what, const std::string &path, int err) {
	throw Error("58030", what + " \"" + path + "\": " + std::strerror(err), {},
	            "Check pg2d1.import_directory: the server's user must be able to write there, with room for one "
	            "import file (pg2d1.import_file_size) and the next.");
}

std::string megabytes(uint64_t bytes) {
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
	return buf;
}

} // namespace

ImportFileWriter::ImportFileWriter(std::string path) : path_(std::move(path)), hash_(std::make_unique<Md5>()) {
	fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd_ < 0) {
		throw_io("cannot create import file", path_, errno);
	}
	buffer_.reserve(kWriteBuffer);
}

ImportFileWriter::~ImportFileWriter() {
	if (fd_ >= 0) {
		::close(fd_);
	}
	::unlink(path_.c_str());
}

void ImportFileWriter::write_statement(std::string_view sql) {
	if (fd_ < 0) {
		throw Error(sqlstate::kInternal, "import file \"" + path_ + "\" is already closed");
	}
	buffer_.append(sql);
	buffer_.append(";\n");
	if (buffer_.size() >= kWriteBuffer) {
		flush();
	}
}

void ImportFileWriter::flush() {
	hash_->update(buffer_);
	size_t off = 0;
	while (off < buffer_.size()) {
		ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			throw_io("cannot write import file", path_, errno);
		}
		off += static_cast<size_t>(n);
	}
	bytes_ += buffer_.size();
	buffer_.clear();
}

void ImportFileWriter::finish() {
	flush();
	if (::fsync(fd_) != 0) {
		throw_io("cannot fsync import file", path_, errno);
	}
	int fd = fd_;
	fd_ = -1;
	if (::close(fd) != 0) {
		throw_io("cannot close import file", path_, errno);
	}
	md5_ = hash_->hex();
}

void ensure_import_directory(const std::string &dir) {
	struct stat st;
	if (::stat(dir.c_str(), &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			throw Error("58030", "pg2d1.import_directory \"" + dir + "\" is not a directory");
		}
		if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
			throw Error("58030",
			            "pg2d1.import_directory \"" + dir +
			                "\" must belong to the server's user and be writable by it alone",
			            {}, "chmod 700 the directory (as pg2d1 creates it), or name another one.");
		}
		return;
	}
	if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
		throw_io("cannot create import directory", dir, errno);
	}
}

std::string import_file_path(const std::string &dir, int64_t job_id, int number) {
	return dir + "/job" + std::to_string(job_id) + "-" + std::to_string(number) + ".sql";
}

size_t remove_import_files(const std::string &dir, const std::function<bool(int64_t)> &remove) {
	DIR *d = ::opendir(dir.c_str());
	if (d == nullptr) {
		return 0;
	}
	std::vector<std::pair<std::string, int64_t>> found;
	while (struct dirent *e = ::readdir(d)) {
		long long job = 0;
		int number = 0;
		int consumed = 0;
		std::string name = e->d_name;
		if (std::sscanf(name.c_str(), "job%lld-%d.sql%n", &job, &number, &consumed) == 2 &&
		    static_cast<size_t>(consumed) == name.size() &&
		    name == "job" + std::to_string(job) + "-" + std::to_string(number) + ".sql") {
			found.emplace_back(name, job);
		}
	}
	::closedir(d);
	size_t removed = 0;
	for (auto &[name, job] : found) {
		if (remove(job) && ::unlink((dir + "/" + name).c_str()) == 0) {
			removed++;
		}
	}
	return removed;
}

Error import_failure(int number, const ImportState &state) {
	std::string said = state.error.empty() ? "no reason given" : state.error;
	std::string detail = "D1 said: " + said;
	if (!state.messages.empty()) {
		detail += " (its last messages: ";
		size_t from = state.messages.size() > 3 ? state.messages.size() - 3 : 0;
		for (size_t i = from; i < state.messages.size(); i++) {
			detail += (i > from ? " " : "") + state.messages[i];
		}
		detail += ")";
	}
	FailureKind kind = classify(500, {ApiMessage{0, said}}, true);
	std::string message = "D1 could not import file " + std::to_string(number) + "; it rolled the file back";
	if (kind == FailureKind::Transient || kind == FailureKind::Overloaded) {
		return Error::make_retryable(sqlstate::kConnectionFailure, message, detail);
	}
	return Error(sqlstate::kExternalRoutine, message, detail,
	             "Nothing of the file is in D1. Fix what D1 names (or use method => 'query', which names the "
	             "rows of a failing statement) and run pg2d1_migrate again.");
}

// ---- ImportRunner ------------------------------------------------------------------------------

ImportRunner::ImportRunner(D1Config config, std::function<bool()> should_abort)
    : config_(std::move(config)), should_abort_(std::move(should_abort)) {
	thread_.emplace(
	    [this](std::vector<Statement> &&) {
		    ImportFile f;
		    {
			    std::lock_guard<std::mutex> lock(mu_);
			    f = *pending_;
		    }
		    try {
			    run_file(f);
		    } catch (...) {
			    std::lock_guard<std::mutex> lock(mu_);
			    progress_.done = true;
			    stats_ = client_->stats();
			    throw;
		    }
		    std::lock_guard<std::mutex> lock(mu_);
		    progress_.done = true;
		    stats_ = client_->stats();
	    },
	    1, should_abort_);
	stop_ = thread_->stop_token();
	auto token = stop_;
	auto abort = should_abort_;
	client_.emplace(config_, [token, abort] { return token->load() || (abort && abort()); });
}

ImportRunner::~ImportRunner() {
	thread_.reset(); // joins before the client goes
}

void ImportRunner::start(ImportFile file) {
	{
		std::lock_guard<std::mutex> lock(mu_);
		progress_ = ImportProgress{};
		progress_.number = file.number;
		progress_.status = "starting";
		pending_ = std::move(file);
	}
	thread_->submit(std::vector<Statement>{}, 0);
}

bool ImportRunner::busy() const {
	std::lock_guard<std::mutex> lock(mu_);
	return pending_.has_value() && !progress_.done;
}

ImportState ImportRunner::wait(const std::function<void()> &tick) {
	while (busy()) {
		tick();
	}
	thread_->drain(); // rethrows the file's failure
	std::lock_guard<std::mutex> lock(mu_);
	pending_.reset();
	return last_;
}

ImportProgress ImportRunner::progress() const {
	std::lock_guard<std::mutex> lock(mu_);
	return progress_;
}

ClientStats ImportRunner::stats() const {
	std::lock_guard<std::mutex> lock(mu_);
	return stats_;
}

void ImportRunner::set_status(const std::string &s) {
	std::lock_guard<std::mutex> lock(mu_);
	progress_.status = s;
	stats_ = client_->stats();
}

double ImportRunner::poll_delay_s(int n) {
	return std::min(5.0, 0.25 * std::pow(1.5, std::min(n, 20)));
}

void ImportRunner::run_file(const ImportFile &f) {
	set_status("uploading " + megabytes(f.bytes));
	ImportState st = client_->import_init(f.md5);
	if (st.needs_upload()) {
		client_->import_upload(st.upload_url, f.path, f.md5);
		set_status("D1 starting the import");
		st = client_->import_ingest(f.md5, st.filename);
	}
	// else: D1 had the file (same etag) and started importing it at init.
	std::string last_message;
	for (int n = 0;; n++) {
		if (!st.messages.empty()) {
			last_message = st.messages.back();
		}
		if (!st.ok) {
			// "Not currently importing anything.": the import this file started is over and its
			// answer was lost (a retried request, a restart). The caller checks D1's ledger.
			throw Error::make_retryable(sqlstate::kConnectionFailure,
			                            "D1 lost track of the import of file " + std::to_string(f.number),
			                            "D1 said: " + (st.error.empty() ? std::string("nothing") : st.error));
		}
		if (st.status == "complete") {
			std::lock_guard<std::mutex> lock(mu_);
			progress_.num_queries = st.num_queries;
			progress_.status = "D1 imported it (" + std::to_string(st.num_queries) + " queries)";
			last_ = st;
			return;
		}
		if (st.status == "error") {
			throw import_failure(f.number, st);
		}
		set_status("D1 importing" + (last_message.empty() ? std::string() : ": " + last_message));
		// Wait before the next poll, in short steps so a stop is seen at once.
		double delay = poll_delay_s(n);
		for (double waited = 0; waited < delay; waited += 0.05) {
			if (stop_->load() || (should_abort_ && should_abort_())) {
				throw Error(sqlstate::kQueryCanceled, "canceled while D1 imports file " + std::to_string(f.number));
			}
			::usleep(50000);
		}
		st = client_->import_poll(st.at_bookmark);
	}
}

} // namespace pg2d1
