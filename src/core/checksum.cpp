// checksum.cpp — RowChecksum (see checksum.hpp): FNV-1a 64 over length-framed cells.
// Must never depend on anything but the cells' bytes and order.
// Called by pg2d1_verify.
#include "checksum.hpp"

#include <cstdio>

namespace pg2d1 {

void RowChecksum::feed(const void *data, size_t len) {
	const auto *p = static_cast<const unsigned char *>(data);
	for (size_t i = 0; i < len; i++) {
		hash_ ^= p[i];
		hash_ *= 0x100000001b3ULL;
	}
}

void RowChecksum::add_row(const std::vector<std::optional<std::string>> &cells) {
	const unsigned char row_mark = 'R';
	feed(&row_mark, 1);
	for (const auto &c : cells) {
		// Each cell is framed by a tag and its length, so NULL, '' and shifted column
		// boundaries can never collide by construction.
		const unsigned char tag = c ? 'V' : 'N';
		feed(&tag, 1);
		if (c) {
			uint64_t len = c->size();
			feed(&len, sizeof len);
			feed(c->data(), c->size());
		}
	}
	rows_++;
}

std::string RowChecksum::hex() const {
	char buf[17];
	snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
	return buf;
}

} // namespace pg2d1
