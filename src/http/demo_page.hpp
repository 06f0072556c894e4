#pragma once

// The demo upload page (--demo): one HTML page and its one script, bundled from
// clients/js/demo at build time and embedded in the binary, so nothing is read from
// disk at run time. Served on the API listener outside the base path, like /healthz,
// and without a token: the page asks its user for one (or reads it from the URL
// fragment, which never reaches a server).

#include <string>
#include <string_view>

#include "http/exchange.hpp"

namespace audiodrop::http {

// The page's bytes as the build made them.
struct DemoAssets {
    std::string_view html;    // holds kDemoApiBaseMarker where the API's base path goes
    std::string_view script;  // an ES module, loaded by the page as /demo/demo.js
};

// In the page's HTML, what the server replaces with the base path (HTML-escaped).
inline constexpr std::string_view kDemoApiBaseMarker = "__AUDIODROP_API_BASE__";

// What the build embedded (clients/js/CMakeLists.txt).
DemoAssets embedded_demo_assets();

struct DemoPageOptions {
    std::string base_path;  // the API's, written into the page
    // scheme://host[:port] the page PUTs parts to and plays downloads from: the storage
    // endpoint's public origin, or the S3 bucket's. Named in the Content-Security-Policy.
    std::string storage_origin;
};

// Answers the page's three paths: /demo/ (the HTML), /demo/demo.js, and /demo, which
// redirects to /demo/ so that the script's relative URL resolves. Every answer forbids
// sniffing, framing and referrers, carries a Content-Security-Policy that lets the page
// reach only this origin and the storage origin, and an ETag (If-None-Match: 304).
// Thread-safe: everything is computed in the constructor.
class DemoPage {
  public:
    DemoPage(DemoAssets assets, const DemoPageOptions& options);

    // Whether `path` (without its query) is one of the page's.
    static bool serves(std::string_view path);
    // The answer to a GET or HEAD of a path serves() accepts.
    StringResponse answer(const RequestHeader& request) const;

  private:
    struct Asset {
        std::string body;
        std::string content_type;
        std::string etag;  // quoted, as it goes on the wire
    };
    static Asset make_asset(std::string body, std::string content_type);
    StringResponse send_asset(const RequestHeader& request, const Asset& asset) const;

    Asset html_;
    Asset script_;
    std::string security_policy_;
};

}  // namespace audiodrop::http
