// The files of examples/http_server/web/, embedded at build time by embed_web.cmake.
#ifndef SUPPORTBOT_SERVER_WEB_ASSETS_HPP
#define SUPPORTBOT_SERVER_WEB_ASSETS_HPP

#include <cstddef>

namespace sbserver {

struct WebAsset {
    const char* name;  // path relative to web/, e.g. "index.html" or "img/logo.svg"
    const unsigned char* data;
    std::size_t size;
};

extern const WebAsset kWebAssets[];
extern const std::size_t kWebAssetCount;

}  // namespace sbserver

#endif
