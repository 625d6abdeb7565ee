#include "common/text.h"

#include <gtest/gtest.h>

#include <string>

namespace btrq {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("priority", "priorty"), 1u);
  EXPECT_EQ(EditDistance("chunk", "chunk"), 0u);
  EXPECT_EQ(EditDistance("ab", "ba"), 2u);  // no transpositions
}

TEST(HexOf, LowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(HexOf(""), "");
  EXPECT_EQ(HexOf(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexOf("AZ"), "415a");
}

}  // namespace
}  // namespace btrq
