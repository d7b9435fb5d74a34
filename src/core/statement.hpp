// statement.hpp — one SQL statement for D1 with its bound parameters.
// Must stay a plain value type: it crosses from the migration driver to the sender thread.
// Used by the D1 client, the batch planner and the async sender.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pg2d1 {

// A statement with optional text parameters (sent as JSON strings; nullopt = JSON null).
struct Statement {
	std::string sql;
	std::vector<std::optional<std::string>> params;
};

} // namespace pg2d1
