#include "http/etag_match.hpp"

#include "core/text.hpp"

namespace audiodrop::http {

bool if_none_match_hits(std::string_view if_none_match, std::string_view etag) {
    while (!if_none_match.empty()) {
        auto tag = core::next_list_item(if_none_match);
        if (tag == "*") return true;
        // weak = %s"W/": case-sensitive, and only before a quoted tag (W/* names nothing).
        if (tag.starts_with("W/\"")) tag.remove_prefix(2);
        if (tag == etag) return true;
    }
    return false;
}

}  // namespace audiodrop::http
