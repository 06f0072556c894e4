#include "http/request_framing.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

namespace audiodrop::http {
namespace {

RequestHeader request(std::initializer_list<std::pair<const char*, const char*>> fields,
                      unsigned version = 11) {
    RequestHeader header;
    header.method(bhttp::verb::post);
    header.target("/x");
    header.version(version);
    for (const auto& [name, value] : fields) header.insert(name, value);
    return header;
}

void expect_problem(const RequestHeader& header, unsigned status, std::string_view code) {
    const auto problem = framing_problem(header);
    ASSERT_TRUE(problem.has_value());
    EXPECT_EQ(problem->status, status);
    EXPECT_EQ(problem->code, code);
    EXPECT_FALSE(problem->message.empty());
}

TEST(RequestFraming, ContentLengthOrChunkedAloneIsFine) {
    EXPECT_FALSE(framing_problem(request({})));
    EXPECT_FALSE(framing_problem(request({{"Content-Length", "12"}})));
    EXPECT_FALSE(framing_problem(request({{"Transfer-Encoding", "chunked"}})));
    EXPECT_FALSE(framing_problem(request({{"Transfer-Encoding", " Chunked "}})));
}

TEST(RequestFraming, ALastCodingOtherThanChunkedIsABadRequest) {
    // Read as "no body", the body would be parsed as the next request: smuggling.
    for (const char* te : {"gzip", "chunked, gzip", "identity", "chunked,", ""}) {
        SCOPED_TRACE(te);
        expect_problem(request({{"Transfer-Encoding", te}}), 400, "bad_transfer_encoding");
    }
    expect_problem(request({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "gzip"}}), 400,
                   "bad_transfer_encoding");
}

TEST(RequestFraming, CodingsBeforeChunkedAreNotImplemented) {
    expect_problem(request({{"Transfer-Encoding", "gzip, chunked"}}), 501,
                   "unsupported_transfer_encoding");
    // Split over two fields, the list is the same.
    expect_problem(request({{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}), 501,
                   "unsupported_transfer_encoding");
}

TEST(RequestFraming, BothFramingsAtOnceAreRefused) {
    expect_problem(request({{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}), 400,
                   "bad_transfer_encoding");
    expect_problem(request({{"Content-Length", "5"}, {"Transfer-Encoding", "gzip"}}), 400,
                   "bad_transfer_encoding");
}

TEST(RequestFraming, TransferEncodingNeedsHttp11) {
    expect_problem(request({{"Transfer-Encoding", "chunked"}}, 10), 400, "bad_transfer_encoding");
}

}  // namespace
}  // namespace audiodrop::http
