// Pure logic of libaudiodrop: backoff schedule, Retry-After, region table, journal.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "api_call.hpp"
#include "audiodrop/client.hpp"
#include "retry.hpp"
#include "upload_journal.hpp"

namespace audiodrop::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, DoublesPerRetryWithinEqualJitterBounds) {
    RetryPolicy policy;
    policy.base_delay = milliseconds(100);
    policy.max_delay = milliseconds(10'000);
    EXPECT_EQ(backoff_delay(policy, 1, 0.0), milliseconds(50));
    EXPECT_EQ(backoff_delay(policy, 1, 0.999999), milliseconds(99));
    EXPECT_EQ(backoff_delay(policy, 2, 0.0), milliseconds(100));
    EXPECT_EQ(backoff_delay(policy, 3, 0.0), milliseconds(200));
    EXPECT_EQ(backoff_delay(policy, 4, 0.5), milliseconds(600));
}

TEST(Backoff, NeverExceedsMaxDelayEvenAfterManyRetries) {
    RetryPolicy policy;
    policy.base_delay = milliseconds(200);
    policy.max_delay = milliseconds(3'000);
    for (int retry = 1; retry < 200; ++retry) {
        EXPECT_LE(backoff_delay(policy, retry, 0.999), milliseconds(3'000));
    }
    EXPECT_GE(backoff_delay(policy, 100, 0.0), milliseconds(1'500));
}

TEST(RetryStatus, RetriesOnlyThrottlingAndServerErrors) {
    EXPECT_TRUE(is_retryable_status(429));
    EXPECT_TRUE(is_retryable_status(500));
    EXPECT_TRUE(is_retryable_status(503));
    EXPECT_FALSE(is_retryable_status(400));
    EXPECT_FALSE(is_retryable_status(401));
    EXPECT_FALSE(is_retryable_status(404));
    EXPECT_FALSE(is_retryable_status(200));
}

TEST(RetryAfter, ReadsDeltaSeconds) {
    const auto now = std::chrono::system_clock::now();
    EXPECT_EQ(parse_retry_after("7", now), seconds(7));
    EXPECT_EQ(parse_retry_after(" 0 ", now), seconds(0));
}

TEST(RetryAfter, ReadsHttpDateAgainstNow) {
    // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 in Unix time.
    const auto now = std::chrono::system_clock::from_time_t(784111777 - 30);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(30));
    const auto later = std::chrono::system_clock::from_time_t(784111777 + 30);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later), seconds(0));
}

TEST(RetryAfter, RejectsGarbage) {
    const auto now = std::chrono::system_clock::now();
    EXPECT_FALSE(parse_retry_after("", now));
    EXPECT_FALSE(parse_retry_after("soon", now));
    EXPECT_FALSE(parse_retry_after("-5", now));
    EXPECT_FALSE(parse_retry_after("1.5", now));
}

TEST(Regions, MapsServedRegionsToTheirHosts) {
    EXPECT_EQ(endpoint_for_region("us").value(), "https://platform-us.plaud.ai/developer/api");
    EXPECT_EQ(endpoint_for_region("jp").value(), "https://platform-jp.plaud.ai/developer/api");
}

TEST(Regions, RefusesComingSoonRegionsWithAClearMessage) {
    for (const auto* region : {"eu", "sg"}) {
        const auto r = endpoint_for_region(region);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, ErrorKind::usage);
        EXPECT_NE(r.error().message.find("coming soon"), std::string::npos);
    }
}

TEST(Regions, RefusesUnknownRegions) {
    const auto r = endpoint_for_region("mars");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "unknown_region");
}

UploadJournal sample_journal() {
    UploadJournal j;
    j.endpoint = "http://127.0.0.1:1/developer/api";
    j.path = "/tmp/a b/ü.mp3";
    j.size = 12 * 1024 * 1024 + 1;
    j.mtime_ns = 1'700'000'000'123'456'789;
    j.filetype = "mp3";
    j.file_id = "f_123";
    j.upload_id = "u_456";
    j.chunk_size = 5 * 1024 * 1024;
    j.part_urls = {"http://s/1?a=b&c=%2F", "http://s/2", "http://s/3"};
    return j;
}

TEST(Journal, EncodeDecodeRoundTripsEveryField) {
    const auto j = sample_journal();
    const auto back = decode_journal(encode_journal(j));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->endpoint, j.endpoint);
    EXPECT_EQ(back->path, j.path);
    EXPECT_EQ(back->size, j.size);
    EXPECT_EQ(back->mtime_ns, j.mtime_ns);
    EXPECT_EQ(back->filetype, j.filetype);
    EXPECT_EQ(back->file_id, j.file_id);
    EXPECT_EQ(back->upload_id, j.upload_id);
    EXPECT_EQ(back->chunk_size, j.chunk_size);
    EXPECT_EQ(back->part_urls, j.part_urls);
}

TEST(Journal, DecodeRefusesTornOrForeignText) {
    const auto text = encode_journal(sample_journal());
    EXPECT_FALSE(decode_journal(text.substr(0, text.size() / 2)));
    EXPECT_FALSE(decode_journal("{}"));
    EXPECT_FALSE(decode_journal("[1,2]"));
    EXPECT_FALSE(decode_journal(""));
}

TEST(Journal, WriteThenReadFromAStateDir) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("audiodrop-journal-" + std::to_string(::getpid()));
    const auto path = journal_path(dir / "nested", "http://e", "/x/y.mp3");
    EXPECT_EQ(path, journal_path(dir / "nested", "http://e", "/x/y.mp3"));
    EXPECT_NE(path, journal_path(dir / "nested", "http://other", "/x/y.mp3"));
    ASSERT_TRUE(write_journal(path, sample_journal()));
    const auto back = read_journal(path);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->upload_id, "u_456");
    std::filesystem::remove_all(dir);
    EXPECT_FALSE(read_journal(path));
}

TEST(ErrorFromResponse, CarriesTheApiCodeAndMessage) {
    HttpResponse r;
    r.status = 400;
    r.body =
        R"({"error":{"code":"unsupported_filetype","message":"filetype 'exe' is not allowed"},)"
        R"("request_id":"req_1"})";
    const auto e = error_from_response(r);
    EXPECT_EQ(e.kind, ErrorKind::http);
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.code, "unsupported_filetype");
    EXPECT_EQ(e.message, "HTTP 400 unsupported_filetype: filetype 'exe' is not allowed");
}

TEST(ErrorFromResponse, ReadsS3XmlErrors) {
    HttpResponse r;
    r.status = 403;
    r.body =
        "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>bad signature</Message></Error>";
    const auto e = error_from_response(r);
    EXPECT_EQ(e.code, "SignatureDoesNotMatch");
    EXPECT_EQ(e.message, "HTTP 403 SignatureDoesNotMatch: bad signature");
}

TEST(ErrorFromResponse, FallsBackToTheRawBody) {
    HttpResponse r;
    r.status = 502;
    r.body = "Bad Gateway";
    EXPECT_EQ(error_from_response(r).message, "HTTP 502: Bad Gateway");
}

TEST(UrlEncode, KeepsUnreservedAndEscapesTheRest) {
    EXPECT_EQ(url_encode("file_AZ-az.09~"), "file_AZ-az.09~");
    EXPECT_EQ(url_encode("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
}

}  // namespace
}  // namespace audiodrop::client
