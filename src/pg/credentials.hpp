// credentials.hpp — where D1 credentials come from: a pg2d1 foreign server + user mapping,
// or (fallback) the CLOUDFLARE_* environment variables and pg2d1.api_url.
// Must never copy the token anywhere but the returned D1Config (no logs, no errors).
// Called by every SQL function that talks to D1.
#pragma once

#include "core/d1_client.hpp"

#include <optional>
#include <string>

namespace pg2d1 {

struct Target {
	D1Config config;
	std::string label; // for messages: `server "d1"` or `environment variables`
};

// `server_name` is the function's target argument (nullopt when NULL): a named server;
// NULL means the only pg2d1 server if exactly one exists, else the environment.
Target resolve_target(const std::optional<std::string> &server_name);

} // namespace pg2d1
