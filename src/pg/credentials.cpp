// credentials.cpp — FDW validator for `pg2d1` servers/user mappings and target resolution.
// Must never print an option value that could be a secret (api_token) in any message.
// Called by CREATE/ALTER SERVER / USER MAPPING (validator) and by resolve_target() users.
#include "credentials.hpp"

#include "boundary.hpp"
#include "guc.hpp"
#include "job_store.hpp"
#include "shared_rate.hpp"
#include "core/error.hpp"

extern "C" {
#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
}

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace pg2d1 {
namespace {

struct OptionSpec {
	const char *name;
	Oid context;
	bool required;
};

const OptionSpec kOptions[] = {
    {"account_id", ForeignServerRelationId, true},
    {"database_id", ForeignServerRelationId, true},
    {"api_url", ForeignServerRelationId, false},
    {"api_token", UserMappingRelationId, true},
};

bool is_hex32(const std::string &s) {
	if (s.size() != 32) {
		return false;
	}
	for (char c : s) {
		if (!std::isxdigit(static_cast<unsigned char>(c))) {
			return false;
		}
	}
	return true;
}

bool is_uuid(const std::string &s) {
	if (s.size() != 36) {
		return false;
	}
	for (size_t i = 0; i < s.size(); i++) {
		bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
		if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) {
			return false;
		}
	}
	return true;
}

// https://…, or http:// to this machine (127.0.0.0/8, localhost, [::1]) for tests.
bool api_url_allowed(const std::string &url) {
	if (url.rfind("https://", 0) == 0) {
		return url.size() > 8;
	}
	if (url.rfind("http://", 0) != 0) {
		return false;
	}
	std::string rest = url.substr(7);
	std::string host;
	if (!rest.empty() && rest[0] == '[') {
		size_t end = rest.find(']');
		host = end == std::string::npos ? "" : rest.substr(0, end + 1);
		rest = end == std::string::npos ? "" : rest.substr(end + 1);
	} else {
		size_t end = rest.find_first_of(":/?#");
		host = rest.substr(0, end);
		rest = end == std::string::npos ? "" : rest.substr(end);
	}
	if (!rest.empty() && rest[0] != ':' && rest[0] != '/') {
		return false;
	}
	if (host.find('@') != std::string::npos) {
		return false; // user@host: never
	}
	for (auto &c : host) {
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	}
	if (host == "localhost" || host == "[::1]") {
		return true;
	}
	// 127.a.b.c, each part a number 0..255
	if (host.rfind("127.", 0) != 0) {
		return false;
	}
	int parts = 0;
	size_t i = 0;
	while (i <= host.size()) {
		size_t j = host.find('.', i);
		std::string part = host.substr(i, j == std::string::npos ? std::string::npos : j - i);
		if (part.empty() || part.size() > 3 || part.find_first_not_of("0123456789") != std::string::npos ||
		    std::stoi(part) > 255) {
			return false;
		}
		parts++;
		if (j == std::string::npos) {
			break;
		}
		i = j + 1;
	}
	return parts == 4;
}

void check_api_url(const std::string &url) {
	if (!api_url_allowed(url)) {
		throw Error(sqlstate::kInvalidParameter, "api_url must use https:// (http:// only to this machine)",
		            "The API token travels in every request; plain HTTP would expose it on the network.",
		            "Use https://api.cloudflare.com/client/v4 (the default), or http://127.0.0.1:PORT/… for a local "
		            "D1 server.");
	}
}

const char *context_name(Oid catalog) {
	return catalog == ForeignServerRelationId ? "server"
	       : catalog == UserMappingRelationId ? "user mapping"
	                                          : "wrapper";
}

// Validates one option list; throws pg2d1::Error (never quoting api_token's value).
void validate_options(const std::vector<std::pair<std::string, std::string>> &options, Oid catalog) {
	for (const auto &[name, value] : options) {
		const OptionSpec *spec = nullptr;
		for (const auto &s : kOptions) {
			if (name == s.name && s.context == catalog) {
				spec = &s;
			}
		}
		if (!spec) {
			std::string valid;
			for (const auto &s : kOptions) {
				if (s.context == catalog) {
					valid += valid.empty() ? s.name : std::string(", ") + s.name;
				}
			}
			throw Error("42704", "invalid option \"" + name + "\" for a pg2d1 " + context_name(catalog), {},
			            valid.empty() ? "A pg2d1 foreign-data wrapper takes no options."
			                          : "Valid options here are: " + valid + ".");
		}
		if (value.empty()) {
			throw Error(sqlstate::kInvalidParameter, "option \"" + name + "\" must not be empty");
		}
		if (name == "account_id" && !is_hex32(value)) {
			throw Error(sqlstate::kInvalidParameter, "account_id \"" + value + "\" is not a Cloudflare account id",
			            "An account id is 32 hexadecimal characters.",
			            "Copy it from the Cloudflare dashboard (Workers & Pages → Account ID).");
		}
		if (name == "database_id" && !is_uuid(value)) {
			throw Error(sqlstate::kInvalidParameter, "database_id \"" + value + "\" is not a D1 database UUID",
			            "D1 answers 7400 \"Invalid uuid\" for anything else.",
			            "Run `wrangler d1 list` or see the dashboard for the database's UUID.");
		}
		if (name == "api_url") {
			check_api_url(value);
		}
		if (name == "api_token") {
			for (char c : value) {
				if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
					throw Error(sqlstate::kInvalidParameter,
					            "api_token contains characters not allowed in an HTTP header", {},
					            "Paste the token exactly as Cloudflare shows it, without spaces or newlines.");
				}
			}
		}
	}
	for (const auto &s : kOptions) {
		if (s.context != catalog || !s.required) {
			continue;
		}
		bool found = false;
		for (const auto &opt : options) {
			found = found || opt.first == s.name;
		}
		if (!found) {
			throw Error("HV00D", std::string("a pg2d1 ") + context_name(catalog) + " needs option \"" + s.name + "\"",
			            {},
			            catalog == UserMappingRelationId
			                ? "CREATE USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (api_token '…');"
			                : "CREATE SERVER d1 FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '…', database_id '…');");
		}
	}
}

std::vector<std::pair<std::string, std::string>> options_of(List *list) {
	std::vector<std::pair<std::string, std::string>> out;
	pg_call([&] {
		ListCell *cell;
		foreach (cell, list) {
			DefElem *def = static_cast<DefElem *>(lfirst(cell));
			out.emplace_back(def->defname, defGetString(def));
		}
	});
	return out;
}

std::string option(const std::vector<std::pair<std::string, std::string>> &opts, const char *name) {
	for (const auto &o : opts) {
		if (o.first == name) {
			return o.second;
		}
	}
	return {};
}

std::string env_or_empty(const char *name) {
	const char *v = std::getenv(name);
	return v ? v : "";
}

// Names of all servers of the pg2d1 wrapper.
std::vector<std::string> pg2d1_servers() {
	std::vector<std::string> names;
	pg_call([&] {
		if (SPI_connect() != SPI_OK_CONNECT) {
			elog(ERROR, "SPI_connect failed");
		}
		SPI_execute("SELECT s.srvname::text FROM pg_catalog.pg_foreign_server s "
		            "JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw "
		            "WHERE w.fdwname = 'pg2d1' ORDER BY 1",
		            true, 0);
		for (uint64 i = 0; i < SPI_processed; i++) {
			names.emplace_back(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		}
		SPI_finish();
	});
	return names;
}

} // namespace

Target resolve_target(const std::optional<std::string> &server_name) {
	Target t;
	apply_client_gucs(t.config);
	std::optional<std::string> name = server_name;
	if (!name) {
		auto servers = pg2d1_servers();
		if (servers.size() == 1) {
			name = servers[0];
		} else if (servers.size() > 1) {
			std::string list;
			for (const auto &s : servers) {
				list += (list.empty() ? "" : ", ") + s;
			}
			throw Error(sqlstate::kInvalidParameter, "several pg2d1 servers exist; say which one with target => '…'",
			            "pg2d1 servers: " + list + ".");
		}
	}
	if (!name) {
		if (!caller_is_admin()) {
			throw Error("42501",
			            "only superusers and members of pg2d1_admin may use the server's environment credentials",
			            "There is no pg2d1 foreign server, so the CLOUDFLARE_* variables of the PostgreSQL server "
			            "would be used.",
			            "CREATE SERVER d1 FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '…', database_id '…'); "
			            "GRANT USAGE ON FOREIGN SERVER d1 TO <role>; CREATE USER MAPPING FOR <role> SERVER d1 "
			            "OPTIONS (api_token '…');");
		}
		t.label = "environment variables";
		t.config.api_url = guc_api_url ? guc_api_url : "";
		t.config.account_id = env_or_empty("CLOUDFLARE_ACCOUNT_ID");
		t.config.database_id = env_or_empty("D1_DATABASE_ID");
		t.config.api_token = env_or_empty("CLOUDFLARE_API_TOKEN");
		if (t.config.account_id.empty() || t.config.database_id.empty() || t.config.api_token.empty()) {
			throw Error(sqlstate::kInvalidParameter, "no D1 credentials: there is no pg2d1 server",
			            "The environment of the PostgreSQL server lacks CLOUDFLARE_ACCOUNT_ID, D1_DATABASE_ID or "
			            "CLOUDFLARE_API_TOKEN.",
			            "CREATE SERVER d1 FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '…', database_id '…'); "
			            "CREATE USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (api_token '…');");
		}
		check_api_url(t.config.api_url);
		t.config.rate_limiter = rate_limiter_for(t.config.account_id);
		return t;
	}
	t.label = "server \"" + *name + "\"";
	List *server_options = nullptr;
	List *mapping_options = nullptr;
	bool is_pg2d1 = false;
	bool has_mapping = false;
	bool has_usage = false;
	pg_call([&] {
		ForeignServer *server = GetForeignServerByName(name->c_str(), false);
		ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
		is_pg2d1 = strcmp(fdw->fdwname, "pg2d1") == 0;
		server_options = server->options;
		has_usage = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE) == ACLCHECK_OK;
		// Look the mapping up ourselves so a missing one gets a helpful message.
		Oid userid = GetUserId();
		HeapTuple tp =
		    SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid), ObjectIdGetDatum(server->serverid));
		if (!HeapTupleIsValid(tp)) {
			tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
			                     ObjectIdGetDatum(server->serverid));
		}
		if (HeapTupleIsValid(tp)) {
			has_mapping = true;
			ReleaseSysCache(tp);
			mapping_options = GetUserMapping(userid, server->serverid)->options;
		}
	});
	if (!is_pg2d1) {
		throw Error(sqlstate::kInvalidParameter, "server \"" + *name + "\" does not use the pg2d1 foreign-data wrapper",
		            {}, "CREATE SERVER … FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '…', database_id '…');");
	}
	if (!has_usage) {
		throw Error("42501", "permission denied for foreign server " + *name,
		            "Using a pg2d1 server needs USAGE on it, as with postgres_fdw.",
		            "GRANT USAGE ON FOREIGN SERVER " + *name + " TO <role>;");
	}
	if (!has_mapping) {
		throw Error("42704", "no user mapping for the current user on server \"" + *name + "\"",
		            "The D1 API token lives in a user mapping.",
		            "CREATE USER MAPPING FOR CURRENT_USER SERVER " + *name + " OPTIONS (api_token '…');");
	}
	auto sopts = options_of(server_options);
	auto mopts = options_of(mapping_options);
	t.config.account_id = option(sopts, "account_id");
	t.config.database_id = option(sopts, "database_id");
	std::string url = option(sopts, "api_url");
	t.config.api_url = !url.empty() ? url : (guc_api_url ? guc_api_url : "");
	t.config.api_token = option(mopts, "api_token");
	check_api_url(t.config.api_url);
	t.config.rate_limiter = rate_limiter_for(t.config.account_id);
	return t;
}

} // namespace pg2d1

PG2D1_FUNCTION(pg2d1_fdw_validator) {
	List *options = nullptr;
	Oid catalog = InvalidOid;
	pg2d1::pg_call([&] {
		options = untransformRelOptions(PG_GETARG_DATUM(0));
		catalog = PG_GETARG_OID(1);
	});
	pg2d1::validate_options(pg2d1::options_of(options), catalog);
	PG_RETURN_VOID();
}
