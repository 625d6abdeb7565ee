#include "broker/dashboard/assets.h"

#include <string>

#include <gtest/gtest.h>

namespace btrq::dashboard {
namespace {

TEST(Assets, EmbedsThePageScriptAndStylesheet) {
  std::vector<std::string> names;
  for (const Asset& a : EmbeddedAssets()) names.emplace_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"app.js", "index.html", "style.css"}));

  const Asset* page = FindAsset("index.html");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(page->data.starts_with("<!doctype html>"));
  EXPECT_NE(page->data.find("/static/app.js"), std::string_view::npos);
  EXPECT_NE(page->data.find("/static/style.css"), std::string_view::npos);

  const Asset* script = FindAsset("app.js");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script->data.find("/api/snapshot"), std::string_view::npos);

  const Asset* style = FindAsset("style.css");
  ASSERT_NE(style, nullptr);
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
}

TEST(Assets, EmbeddedBytesAreTheFilesInTheTree) {
  // Exact size: no terminator or padding leaks into the served bytes.
  const Asset* page = FindAsset("index.html");
  ASSERT_NE(page, nullptr);
  EXPECT_TRUE(page->data.ends_with("</html>\n"));
  EXPECT_EQ(page->data.find('\0'), std::string_view::npos);
}

TEST(Assets, PageLoadsNothingFromOtherHosts) {
  for (const Asset& a : EmbeddedAssets()) {
    EXPECT_EQ(a.data.find("http://"), std::string_view::npos) << a.name;
    EXPECT_EQ(a.data.find("https://"), std::string_view::npos) << a.name;
    EXPECT_EQ(a.data.find("//cdn"), std::string_view::npos) << a.name;
  }
}

TEST(Assets, UnknownNamesAreNotFound) {
  EXPECT_EQ(FindAsset("missing.js"), nullptr);
  EXPECT_EQ(FindAsset(""), nullptr);
  EXPECT_EQ(FindAsset("../CMakeLists.txt"), nullptr);
}

TEST(Assets, ContentTypeByExtension) {
  EXPECT_EQ(ContentTypeFor("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("icon.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("a.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("a.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("a.bin"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor(".js"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("js"), "application/octet-stream");
}

}  // namespace
}  // namespace btrq::dashboard
