// test_checksum.cpp — RowChecksum: equal inputs hash alike, every kind of difference does not.
// Must never pass if NULL and '' or a moved column boundary collide.
// Run by ctest (pg2d1_unit_tests).
#include "core/checksum.hpp"

#include <gtest/gtest.h>

using pg2d1::RowChecksum;
using Row = std::vector<std::optional<std::string>>;

static std::string sum(const std::vector<Row> &rows) {
	RowChecksum c;
	for (const auto &r : rows)
		c.add_row(r);
	return c.hex();
}

TEST(Checksum, SameRowsSameSum) {
	EXPECT_EQ(sum({{"1", "a"}, {"2", std::nullopt}}), sum({{"1", "a"}, {"2", std::nullopt}}));
	EXPECT_EQ(sum({}).size(), 16u);
}

TEST(Checksum, EveryDifferenceChangesTheSum) {
	const std::string base = sum({{"1", "a"}, {"2", "b"}});
	EXPECT_NE(base, sum({{"1", "a"}, {"2", "c"}}));          // a value
	EXPECT_NE(base, sum({{"2", "b"}, {"1", "a"}}));          // row order
	EXPECT_NE(base, sum({{"1", "a"}}));                      // a missing row
	EXPECT_NE(sum({{"", "x"}}), sum({{std::nullopt, "x"}})); // '' vs NULL
	EXPECT_NE(sum({{"ab", "c"}}), sum({{"a", "bc"}}));       // column boundary
	EXPECT_NE(sum({{"a"}, {"b"}}), sum({{"a", "b"}}));       // row boundary
	EXPECT_NE(sum({{"1.0"}}), sum({{"1"}}));                 // exact text
}

TEST(Checksum, CountsRows) {
	RowChecksum c;
	c.add_row({"x"});
	c.add_row({std::nullopt});
	EXPECT_EQ(c.rows(), 2u);
}
