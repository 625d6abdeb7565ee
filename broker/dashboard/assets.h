#pragma once

// The dashboard's web files (broker/dashboard/web/), embedded into the binary at build
// time by embed_assets.cmake, so the page needs no network, CDN or files at run time.

#include <span>
#include <string_view>

namespace btrq::dashboard {

struct Asset {
  std::string_view name;          // file name under web/, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view data;          // the file's bytes
};

// Every embedded file, in file-name order.
std::span<const Asset> EmbeddedAssets();

// The embedded file called `name`, or nullptr.
const Asset* FindAsset(std::string_view name);

// The Content-Type for a file name by its extension (.html, .js, .css, .svg, .png, .ico,
// .json, .txt); "application/octet-stream" for anything else. constexpr so the generated
// asset table is constant-initialised.
constexpr std::string_view ContentTypeFor(std::string_view name) {
  struct Entry {
    std::string_view extension;
    std::string_view type;
  };
  constexpr Entry kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const Entry& e : kTypes) {
    if (name.size() > e.extension.size() && name.ends_with(e.extension)) return e.type;
  }
  return "application/octet-stream";
}

}  // namespace btrq::dashboard
