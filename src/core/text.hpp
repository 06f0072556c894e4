#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace audiodrop::core {

// ASCII only, whatever the locale: for protocol words (header names, filetypes, hosts).
inline std::string ascii_lowercase(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
inline std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Takes the first item off a comma-separated list (HTTP's #rule, RFC 9110 §5.6.1),
// without its surrounding spaces and tabs; `list` keeps what follows that comma, and is
// empty after the last item.
inline std::string_view next_list_item(std::string_view& list) {
    const auto comma = list.find(',');
    const auto item = trim_spaces(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    return item;
}

}  // namespace audiodrop::core
