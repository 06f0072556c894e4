#pragma once

#include <string_view>

namespace audiodrop::http {

// Whether an If-None-Match header's value names `etag` or is "*", so that a GET or HEAD
// is answered 304 (RFC 9110 §13.1.2). If-None-Match compares weakly (§8.8.3.2): W/"x"
// matches "x". `etag` is a strong entity-tag, quoted, as the server sends it; the list
// is split at every comma, so `etag` itself must hold none (a digest in hex holds none).
bool if_none_match_hits(std::string_view if_none_match, std::string_view etag);

}  // namespace audiodrop::http
