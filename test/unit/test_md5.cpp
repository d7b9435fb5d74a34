// test_md5.cpp — Md5 / md5_hex: RFC 1321's test suite, pieces of every size equal to one shot, block-boundary
// lengths, and a cross-check with the system's md5sum when it is installed.
// Must never depend on a tool being installed (the md5sum check is skipped without one).
// Run by ctest (pg2d1_unit_tests).
#include "core/md5.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace pg2d1 {
namespace {

// RFC 1321, appendix A.5.
TEST(Md5, Rfc1321TestSuite) {
	EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
	EXPECT_EQ(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
	EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
	EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
	EXPECT_EQ(md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
	EXPECT_EQ(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
	          "d174ab98d277d9f5a5611c2c9f419d9f");
	EXPECT_EQ(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
	          "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, WellKnownDigests) {
	// the example etag of d1-rest-api.md §6.1
	EXPECT_EQ(md5_hex("The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
	EXPECT_EQ(md5_hex(std::string(1, '\0')), "93b885adfe0da089cdf634904fd59f71");
}

std::string random_bytes(size_t n, uint64_t seed) {
	std::mt19937_64 rng(seed);
	std::string s(n, '\0');
	for (auto &c : s)
		c = static_cast<char>(rng() & 0xFF);
	return s;
}

// Padding crosses into a second block at 56 bytes: every length around 55/56/63/64/119/120/128 must agree
// between one call and byte-by-byte feeding.
TEST(Md5, BlockBoundaryLengthsByteByByte) {
	const std::string data = random_bytes(200, 7);
	for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 200}) {
		Md5 m;
		for (size_t i = 0; i < len; ++i)
			m.update(data.data() + i, 1);
		EXPECT_EQ(m.hex(), md5_hex(std::string_view(data).substr(0, len))) << "length " << len;
	}
	// known values at the boundaries (python3 -c "import hashlib; print(hashlib.md5(b'a'*N).hexdigest())")
	EXPECT_EQ(md5_hex(std::string(55, 'a')), "ef1772b6dff9a122358552954ad0df65");
	EXPECT_EQ(md5_hex(std::string(56, 'a')), "3b0c8ac703f828b04c6c197006d17218");
	EXPECT_EQ(md5_hex(std::string(64, 'a')), "014842d480b571495a4a0363793f7367");
}

TEST(Md5, OneMebibyteInOddPiecesEqualsOneShot) {
	const std::string data = random_bytes(size_t(1) << 20, 42);
	const std::string one_shot = md5_hex(data);
	for (uint64_t seed : {1u, 2u, 3u}) {
		std::mt19937_64 rng(seed);
		Md5 m;
		size_t at = 0;
		while (at < data.size()) {
			const size_t piece = std::min<size_t>(data.size() - at, 1 + 2 * (rng() % 4000)); // odd sizes
			m.update(std::string_view(data).substr(at, piece));
			at += piece;
		}
		EXPECT_EQ(m.hex(), one_shot) << "seed " << seed;
	}
	// a million 'a' (a commonly published vector)
	EXPECT_EQ(md5_hex(std::string(1000000, 'a')), "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(Md5, HexIsStableAndUpdateAfterHexIsRefused) {
	Md5 m;
	m.update("abc");
	const std::string first = m.hex();
	EXPECT_EQ(m.hex(), first);
	EXPECT_THROW(m.update("more"), std::logic_error);
	Md5 empty;
	empty.update(nullptr, 0);
	EXPECT_EQ(empty.hex(), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(Md5, MatchesMd5sumOfAFile) {
	if (std::system("command -v md5sum >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "md5sum is not installed";
	char path[] = "/tmp/pg2d1_md5_XXXXXX";
	const int fd = ::mkstemp(path);
	ASSERT_GE(fd, 0);
	const std::string data = random_bytes(300001, 99);
	ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
	::close(fd);
	std::string out;
	if (FILE *p = ::popen(("md5sum " + std::string(path)).c_str(), "r")) {
		char buf[128];
		while (std::fgets(buf, sizeof buf, p) != nullptr)
			out += buf;
		::pclose(p);
	}
	::unlink(path);
	ASSERT_GE(out.size(), 32u) << out;
	EXPECT_EQ(out.substr(0, 32), md5_hex(data));
}

} // namespace
} // namespace pg2d1
