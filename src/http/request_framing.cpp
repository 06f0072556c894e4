#include "http/request_framing.hpp"

#include <vector>

#include "core/text.hpp"

namespace audiodrop::http {
namespace {

// Every transfer coding named, in order, across all Transfer-Encoding fields.
std::vector<std::string_view> transfer_codings(const RequestHeader& header) {
    std::vector<std::string_view> codings;
    for (auto [it, end] = header.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
        std::string_view list = it->value();
        while (true) {
            const auto comma = list.find(',');
            codings.push_back(core::trim_spaces(list.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    return codings;
}

FramingProblem bad(std::string message) {
    return {400, "bad_transfer_encoding", std::move(message)};
}

}  // namespace

std::optional<FramingProblem> framing_problem(const RequestHeader& header) {
    const auto codings = transfer_codings(header);
    if (codings.empty()) return std::nullopt;
    if (header.version() < 11) {
        return bad("Transfer-Encoding needs HTTP/1.1");
    }
    if (header.count(bhttp::field::content_length) != 0) {
        return bad("send Content-Length or Transfer-Encoding, not both");
    }
    if (!beast::iequals(codings.back(), "chunked")) {
        return bad("a request's last transfer coding must be chunked");
    }
    if (codings.size() > 1) {
        return FramingProblem{501, "unsupported_transfer_encoding",
                              "the only transfer coding accepted is chunked, alone"};
    }
    return std::nullopt;
}

}  // namespace audiodrop::http
