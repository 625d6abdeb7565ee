#include "common/yaml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;

TEST(ParseYamlTest, KeepsMappingsInDocumentOrderWithPositions) {
  ASSERT_OK_AND_ASSIGN(YamlNode root, ParseYaml("b: 1\na:\n  - x\n  - \"7\"\nc:\n"));
  ASSERT_TRUE(root.IsMap());
  ASSERT_EQ(root.entries.size(), 3u);
  EXPECT_EQ(root.entries[0].key.scalar, "b");
  EXPECT_EQ(root.entries[0].value.scalar, "1");
  EXPECT_EQ(root.entries[0].value.tag, "?");  // plain
  EXPECT_EQ(root.entries[1].key.scalar, "a");
  EXPECT_EQ(root.entries[1].key.line, 1);
  const YamlNode* a = root.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->IsSequence());
  ASSERT_EQ(a->items.size(), 2u);
  EXPECT_EQ(a->items[0].scalar, "x");
  EXPECT_EQ(a->items[1].scalar, "7");
  EXPECT_EQ(a->items[1].tag, "!");  // quoted: a string whatever it looks like
  EXPECT_EQ(a->items[1].line, 3);
  EXPECT_EQ(a->items[1].column, 4);
  const YamlNode* c = root.Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->IsNull());
  EXPECT_EQ(root.Find("missing"), nullptr);
}

TEST(ParseYamlTest, EmptyDocumentIsNull) {
  ASSERT_OK_AND_ASSIGN(YamlNode root, ParseYaml(""));
  EXPECT_TRUE(root.IsNull());
  EXPECT_EQ(root.Find("x"), nullptr);
  EXPECT_EQ(root.KindName(), "nothing");
}

TEST(ParseYamlTest, DuplicateKeysAreKeptForTheCallerToRefuse) {
  ASSERT_OK_AND_ASSIGN(YamlNode root, ParseYaml("a: 1\na: 2\n"));
  ASSERT_EQ(root.entries.size(), 2u);
  EXPECT_EQ(root.Find("a")->scalar, "1");
}

TEST(ParseYamlTest, SyntaxErrorsSayWhereWithoutThrowing) {
  YamlError error;
  Result<YamlNode> r = ParseYaml("app:\n  name: [a, b\n  count: 1\n", &error);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument, "end of sequence flow not found"));
  EXPECT_EQ(error.message, "end of sequence flow not found");
  EXPECT_EQ(error.line, 2);
  EXPECT_EQ(error.column, 7);
}

TEST(ParseYamlTest, NestingPastTheBoundIsRefused) {
  std::string deep;
  for (int i = 0; i <= kMaxYamlDepth + 1; ++i) deep += "[";
  for (int i = 0; i <= kMaxYamlDepth + 1; ++i) deep += "]";
  YamlError error;
  EXPECT_THAT(ParseYaml(deep, &error).status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(error.message, ::testing::HasSubstr("nested more than"));
  std::string ok;
  for (int i = 0; i < kMaxYamlDepth; ++i) ok += "[";
  for (int i = 0; i < kMaxYamlDepth; ++i) ok += "]";
  EXPECT_TRUE(ParseYaml(ok).ok());
}

}  // namespace
}  // namespace btrq
