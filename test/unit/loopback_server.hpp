// loopback_server.hpp — scripted HTTP/1.1 server on 127.0.0.1 that records requests (test-only).
// Must never listen beyond loopback or block a test forever (every wait polls a stop flag).
// Used by test_d1_client.cpp.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pg2d1::test {

struct ScriptedResponse {
	int status = 200;
	std::string body;
	std::vector<std::pair<std::string, std::string>> headers;
	int delay_ms = 0;                    // wait before answering
	bool close_without_response = false; // drop the connection instead of answering
	bool echo_request_head = false;      // answer with the raw request line and headers as body
};

struct RecordedRequest {
	std::string method;
	std::string target;
	std::map<std::string, std::string> headers; // lower-case names
	std::string body;
	int connection = 0; // which accepted connection carried it (1, 2, …)
	std::chrono::steady_clock::time_point received;
};

// A scripted answer: status, body and headers.
inline ScriptedResponse respond(int status, std::string body,
                                std::vector<std::pair<std::string, std::string>> headers = {}) {
	ScriptedResponse r;
	r.status = status;
	r.body = std::move(body);
	r.headers = std::move(headers);
	return r;
}

// D1's failure envelope with one error.
inline std::string d1_error(long code, const std::string &message) {
	return R"({"success":false,"errors":[{"code":)" + std::to_string(code) + R"(,"message":")" + message +
	       R"("}],"messages":[],"result":null})";
}

// D1's success envelope around `result` (JSON text).
inline std::string envelope(const std::string &result) {
	return R"({"success":true,"errors":[],"messages":[],"result":)" + result + "}";
}

class LoopbackServer {
  public:
	explicit LoopbackServer(std::vector<ScriptedResponse> script = {}, ScriptedResponse fallback = no_script_left())
	    : script_(script.begin(), script.end()), fallback_(std::move(fallback)) {
		listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
		sockaddr_in addr{};
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr.sin_port = 0;
		socklen_t len = sizeof addr;
		if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
		    ::listen(listen_fd_, 8) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
			throw std::runtime_error("loopback server: cannot listen");
		port_ = ntohs(addr.sin_port);
		thread_ = std::thread([this] { run(); });
	}
	~LoopbackServer() {
		stop_ = true;
		thread_.join();
		::close(listen_fd_);
	}
	LoopbackServer(const LoopbackServer &) = delete;
	LoopbackServer &operator=(const LoopbackServer &) = delete;

	int port() const {
		return port_;
	}
	std::string base_url() const {
		return "http://127.0.0.1:" + std::to_string(port_) + "/client/v4";
	}
	std::vector<RecordedRequest> requests() const {
		std::lock_guard<std::mutex> lock(mu_);
		return requests_;
	}
	size_t request_count() const {
		std::lock_guard<std::mutex> lock(mu_);
		return requests_.size();
	}

	static ScriptedResponse no_script_left() {
		ScriptedResponse r;
		r.status = 500;
		r.body = "no scripted response left";
		return r;
	}

	// A port on 127.0.0.1 that nothing listens on (connections are refused).
	static int closed_port() {
		const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
		sockaddr_in addr{};
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof addr;
		::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
		::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
		::close(fd);
		return ntohs(addr.sin_port);
	}

  private:
	// Waits up to 20 ms for fd to become readable.
	static bool readable(int fd) {
		pollfd p{fd, POLLIN, 0};
		return ::poll(&p, 1, 20) > 0;
	}

	void run() {
		int connections = 0;
		while (!stop_) {
			if (!readable(listen_fd_))
				continue;
			const int fd = ::accept(listen_fd_, nullptr, nullptr);
			if (fd < 0)
				continue;
			serve(fd, ++connections);
			::close(fd);
		}
	}

	void serve(int fd, int connection) {
		std::string buffer;
		for (;;) {
			RecordedRequest req;
			std::string head;
			if (!read_request(fd, buffer, req, head))
				return;
			req.connection = connection;
			req.received = std::chrono::steady_clock::now();
			ScriptedResponse resp = next_response();
			{
				std::lock_guard<std::mutex> lock(mu_);
				requests_.push_back(req);
			}
			if (!sleep_ms(resp.delay_ms) || resp.close_without_response)
				return;
			if (resp.echo_request_head)
				resp.body = head;
			if (!send_all(fd, render(resp)))
				return;
		}
	}

	ScriptedResponse next_response() {
		std::lock_guard<std::mutex> lock(mu_);
		if (script_.empty())
			return fallback_;
		ScriptedResponse r = script_.front();
		script_.pop_front();
		return r;
	}

	bool sleep_ms(int ms) {
		const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
		while (std::chrono::steady_clock::now() < until) {
			if (stop_)
				return false;
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
		}
		return true;
	}

	bool read_more(int fd, std::string &buffer) {
		while (!stop_) {
			if (!readable(fd))
				continue;
			char chunk[16384];
			const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
			if (n <= 0)
				return false;
			buffer.append(chunk, static_cast<size_t>(n));
			return true;
		}
		return false;
	}

	bool read_request(int fd, std::string &buffer, RecordedRequest &req, std::string &head) {
		size_t end;
		while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
			if (!read_more(fd, buffer))
				return false;
		}
		head = buffer.substr(0, end);
		buffer.erase(0, end + 4);
		parse_head(head, req);
		const auto cl = req.headers.find("content-length");
		const size_t length = cl == req.headers.end() ? 0 : std::stoul(cl->second);
		while (buffer.size() < length) {
			if (!read_more(fd, buffer))
				return false;
		}
		req.body = buffer.substr(0, length);
		buffer.erase(0, length);
		return true;
	}

	static void parse_head(const std::string &head, RecordedRequest &req) {
		size_t line_end = head.find("\r\n");
		const std::string request_line = head.substr(0, line_end);
		const size_t sp1 = request_line.find(' ');
		const size_t sp2 = request_line.find(' ', sp1 + 1);
		req.method = request_line.substr(0, sp1);
		req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
		while (line_end != std::string::npos) {
			const size_t start = line_end + 2;
			line_end = head.find("\r\n", start);
			const std::string line =
			    head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
			const size_t colon = line.find(':');
			if (colon == std::string::npos)
				continue;
			std::string name = line.substr(0, colon);
			std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
			size_t v = colon + 1;
			while (v < line.size() && line[v] == ' ')
				++v;
			req.headers[name] = line.substr(v);
		}
	}

	static std::string render(const ScriptedResponse &r) {
		std::string out = "HTTP/1.1 " + std::to_string(r.status) + " Scripted\r\n";
		out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
		for (const auto &[name, value] : r.headers)
			out += name + ": " + value + "\r\n";
		out += "\r\n" + r.body;
		return out;
	}

	static bool send_all(int fd, const std::string &data) {
		size_t sent = 0;
		while (sent < data.size()) {
			const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
			if (n <= 0)
				return false;
			sent += static_cast<size_t>(n);
		}
		return true;
	}

	int listen_fd_ = -1;
	int port_ = 0;
	std::atomic<bool> stop_{false};
	std::thread thread_;
	mutable std::mutex mu_;
	std::deque<ScriptedResponse> script_;
	ScriptedResponse fallback_;
	std::vector<RecordedRequest> requests_;
};

} // namespace pg2d1::test
