#pragma once
// Tandem's front end (web/: the workspace and the operator's console), bundled with esbuild at
// build time and embedded in the binary. Paths are absolute URL paths: "/index.html",
// "/console.html", "/assets/app-3F2A9C1B.js", ... The HTTP layer maps page routes onto them:
// "/" and "/w/{room}" -> "/index.html"; "/console" and "/console/..." (but not "/console/api/...")
// -> "/console.html"; "/assets/..." -> the asset itself.

#include <span>
#include <string_view>

namespace tandem::web {

struct Asset {
  std::string_view path;          // "/assets/app-3F2A9C1B.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes
  std::string_view etag;          // strong ETag with its quotes: "\"1a2b...\""
  bool immutable;                 // content-hashed name: cacheable forever
};

// The asset at `path` ("/index.html", "/assets/..."); nullptr when absent.
const Asset* FindAsset(std::string_view path);

// Every embedded asset, HTML pages first.
std::span<const Asset> AllAssets();

}  // namespace tandem::web
