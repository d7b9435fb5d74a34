// md5.hpp — MD5 (RFC 1321) of a byte stream, as lowercase hex: the ETag D1's import API asks for and R2 answers.
// Must never be used where a collision would matter (it identifies an upload, it does not authenticate anything);
// must never allocate per update or load a whole file: it is fed in pieces of any size.
// Called by the import path (D1Client::import_* callers) and unit-tested with RFC 1321's vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pg2d1 {

class Md5 {
  public:
	Md5();
	// Feeds n more bytes; pieces of any size give the same digest as one call with their concatenation.
	// Calling update() after hex() is a programming error (throws std::logic_error).
	void update(const void *data, size_t n);
	void update(std::string_view s);
	// Finalizes (once) and returns the 32-character lowercase hex digest; later calls return the same text.
	std::string hex();

  private:
	void transform(const unsigned char *block);

	std::array<uint32_t, 4> state_;
	uint64_t length_ = 0; // bytes fed so far
	std::array<unsigned char, 64> buffer_{};
	size_t buffered_ = 0;
	std::string digest_; // set by hex()
};

// MD5 of `data` as lowercase hex, e.g. md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e".
std::string md5_hex(std::string_view data);

} // namespace pg2d1
