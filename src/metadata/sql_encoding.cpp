#include "metadata/sql_encoding.hpp"

namespace audiodrop::metadata::sql {

std::string qualified_webhook_columns(std::string_view alias) {
    std::string out;
    std::string_view rest = kWebhookColumns;
    while (!rest.empty()) {
        const auto comma = rest.find(", ");
        out += (out.empty() ? "" : ", ") + std::string(alias) + std::string(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    }
    return out;
}

std::string join_events(const std::vector<std::string>& events) {
    std::string out;
    for (const auto& e : events) out += (out.empty() ? "" : ",") + e;
    return out;
}

std::vector<std::string> split_events(std::string_view stored) {
    std::vector<std::string> out;
    while (!stored.empty()) {
        const auto comma = stored.find(',');
        out.emplace_back(stored.substr(0, comma));
        stored = comma == std::string_view::npos ? std::string_view() : stored.substr(comma + 1);
    }
    return out;
}

}  // namespace audiodrop::metadata::sql
