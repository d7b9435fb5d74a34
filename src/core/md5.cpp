// md5.cpp — RFC 1321 MD5, written from the RFC (no OpenSSL): 64-byte blocks, four rounds, little-endian.
// Must never read past the caller's buffer or depend on the host's byte order or alignment.
// Called through Md5 / md5_hex (md5.hpp).
#include "md5.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace pg2d1 {

namespace {

// Per-step left rotations (RFC 1321 §3.4).
constexpr uint32_t kShift[64] = {7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
                                 14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
                                 4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};

// T[i] = floor(2^32 * |sin(i + 1)|) (RFC 1321 §3.4).
constexpr uint32_t kSine[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

uint32_t rotl(uint32_t x, uint32_t n) {
	return (x << n) | (x >> (32 - n));
}

uint32_t load_le32(const unsigned char *p) {
	return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

} // namespace

Md5::Md5() : state_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476} {}

void Md5::transform(const unsigned char *block) {
	uint32_t x[16];
	for (int i = 0; i < 16; ++i)
		x[i] = load_le32(block + 4 * i);
	uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
	for (uint32_t i = 0; i < 64; ++i) {
		uint32_t f;
		uint32_t g;
		if (i < 16) {
			f = (b & c) | (~b & d); // F
			g = i;
		} else if (i < 32) {
			f = (b & d) | (c & ~d); // G
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d; // H
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d); // I
			g = (7 * i) % 16;
		}
		const uint32_t next = b + rotl(a + f + kSine[i] + x[g], kShift[i]);
		a = d;
		d = c;
		c = b;
		b = next;
	}
	state_[0] += a;
	state_[1] += b;
	state_[2] += c;
	state_[3] += d;
}

void Md5::update(const void *data, size_t n) {
	if (!digest_.empty())
		throw std::logic_error("Md5::update after hex()");
	const auto *p = static_cast<const unsigned char *>(data);
	length_ += n;
	if (buffered_ > 0) {
		const size_t take = std::min(n, buffer_.size() - buffered_);
		std::memcpy(buffer_.data() + buffered_, p, take);
		buffered_ += take;
		p += take;
		n -= take;
		if (buffered_ < buffer_.size())
			return;
		transform(buffer_.data());
		buffered_ = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		transform(p);
	if (n > 0) {
		std::memcpy(buffer_.data(), p, n);
		buffered_ = n;
	}
}

void Md5::update(std::string_view s) {
	update(s.data(), s.size());
}

std::string Md5::hex() {
	if (!digest_.empty())
		return digest_;
	// Padding: 0x80, zeros up to 56 mod 64, then the bit length as 64-bit little-endian (RFC 1321 §3.1–3.2).
	const uint64_t bits = length_ * 8;
	unsigned char pad[72] = {0x80};
	const size_t pad_len = buffered_ < 56 ? 56 - buffered_ : 120 - buffered_;
	for (int i = 0; i < 8; ++i)
		pad[pad_len + i] = static_cast<unsigned char>(bits >> (8 * i));
	update(pad, pad_len + 8);
	static const char kHex[] = "0123456789abcdef";
	std::string out;
	out.reserve(32);
	for (uint32_t word : state_) {
		for (int i = 0; i < 4; ++i) {
			const auto byte = static_cast<unsigned char>(word >> (8 * i));
			out.push_back(kHex[byte >> 4]);
			out.push_back(kHex[byte & 0xF]);
		}
	}
	digest_ = std::move(out);
	return digest_;
}

std::string md5_hex(std::string_view data) {
	Md5 m;
	m.update(data);
	return m.hex();
}

} // namespace pg2d1
