#include "web/web_assets.h"

namespace tandem::web {

const Asset* FindAsset(std::string_view path) {
  for (const Asset& asset : AllAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace tandem::web
