// ddl_text.hpp — small text helpers shared by the DDL translation files (internal to src/core, not an API).
// Must never depend on the locale: identifiers and keywords are folded as ASCII, whatever LC_CTYPE says.
// Included by ddl.cpp, type_mapping.cpp, check_translation.cpp and schema_compare.cpp only.
#pragma once

#include "table_def.hpp"

#include <algorithm>
#include <string>
#include <string_view>

namespace pg2d1::ddl_detail {

inline std::string lower(std::string_view s) {
	std::string out(s);
	for (auto &c : out)
		c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; // ASCII only, whatever the locale
	return out;
}

inline std::string_view trim(std::string_view s) {
	const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
	while (!s.empty() && space(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && space(s.back()))
		s.remove_suffix(1);
	return s;
}

// A plain decimal number: -12, 3.25, 1e10 (no hex, no NaN/Infinity).
inline bool is_number(std::string_view s, bool allow_fraction) {
	size_t i = 0;
	if (i < s.size() && (s[i] == '-' || s[i] == '+'))
		++i;
	size_t digits = 0;
	bool seen_point = false, seen_exp = false;
	for (; i < s.size(); ++i) {
		const char c = s[i];
		if (c >= '0' && c <= '9') {
			++digits;
		} else if (c == '.' && allow_fraction && !seen_point && !seen_exp) {
			seen_point = true;
		} else if ((c == 'e' || c == 'E') && allow_fraction && digits > 0 && !seen_exp) {
			seen_exp = true;
			if (i + 1 < s.size() && (s[i + 1] == '-' || s[i + 1] == '+'))
				++i;
			digits = 0;
		} else {
			return false;
		}
	}
	return digits > 0;
}

// The column of t named `name` (exactly), or nullptr.
inline const ColumnDef *find_column(const TableDef &t, const std::string &name) {
	const auto it =
	    std::find_if(t.columns.begin(), t.columns.end(), [&](const ColumnDef &c) { return c.name == name; });
	return it == t.columns.end() ? nullptr : &*it;
}

} // namespace pg2d1::ddl_detail
