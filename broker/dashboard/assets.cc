#include "broker/dashboard/assets.h"

namespace btrq::dashboard {

// Defined by the generated dashboard_assets_data.cc, sorted by name.
extern const Asset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

std::span<const Asset> EmbeddedAssets() { return {kEmbeddedAssets, kEmbeddedAssetCount}; }

const Asset* FindAsset(std::string_view name) {
  for (const Asset& asset : EmbeddedAssets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

}  // namespace btrq::dashboard
