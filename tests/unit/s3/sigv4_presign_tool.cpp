// Test helper for botocore_oracle_test.py: reads one JSON case per line on stdin and
// prints one answer line per case, so a Python script can compare our SigV4 with
// botocore's over many generated inputs.
//
//   {"op":"presign", "access_key","secret_key","method","endpoint","path",
//    "query":[[name,value],...], "time":unix, "expires":s, "region"}      -> the URL
//   {"op":"sign_headers", same minus "expires", plus "headers":[[name,value],...],
//    "payload_hash"}                                                      -> Authorization
//   {"op":"verify", "access_key","secret_key","method","url","host","region","time"}
//                                                                         -> "OK" or "<Code>
//                                                                         <message>"

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "s3/sigv4.hpp"

namespace {

using audiodrop::s3::Credentials;
using audiodrop::s3::QueryParams;
using nlohmann::json;

QueryParams pairs(const json& list) {
    QueryParams out;
    for (const auto& pair : list) {
        out.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
    return out;
}

Credentials credentials(const json& c) {
    return {c.at("access_key").get<std::string>(), c.at("secret_key").get<std::string>()};
}

audiodrop::core::TimePoint time_of(const json& c) {
    return audiodrop::core::from_unix(c.at("time").get<std::int64_t>());
}

std::string presign(const json& c) {
    audiodrop::s3::PresignInput in;
    in.method = c.at("method").get<std::string>();
    in.endpoint = c.at("endpoint").get<std::string>();
    in.path = c.at("path").get<std::string>();
    in.query = pairs(c.at("query"));
    in.now = time_of(c);
    in.expires = std::chrono::seconds{c.at("expires").get<std::int64_t>()};
    in.region = c.at("region").get<std::string>();
    return audiodrop::s3::presign_url(credentials(c), in);
}

std::string sign_headers(const json& c) {
    audiodrop::s3::HeaderSignInput in;
    in.method = c.at("method").get<std::string>();
    in.endpoint = c.at("endpoint").get<std::string>();
    in.path = c.at("path").get<std::string>();
    in.query = pairs(c.at("query"));
    in.headers = pairs(c.at("headers"));
    in.payload_hash = c.at("payload_hash").get<std::string>();
    in.now = time_of(c);
    in.region = c.at("region").get<std::string>();
    for (const auto& [name, value] : audiodrop::s3::sign_headers(credentials(c), in).headers) {
        if (name == "authorization") return value;
    }
    return "no authorization header";
}

std::string verify(const json& c) {
    const std::string url = c.at("url").get<std::string>();
    const auto authority = url.find("://") + 3;
    const auto path_start = url.find('/', authority);
    const auto query_start = url.find('?', path_start);
    audiodrop::s3::ReceivedRequest req;
    req.method = c.at("method").get<std::string>();
    req.host = c.at("host").get<std::string>();
    req.raw_path = url.substr(path_start, query_start - path_start);
    req.raw_query = query_start == std::string::npos ? "" : url.substr(query_start + 1);
    const auto result = audiodrop::s3::verify_presigned(
        req, credentials(c), c.at("region").get<std::string>(), time_of(c));
    if (result) return "OK";
    return result.error().code + " " + result.error().message;
}

}  // namespace

int main() {
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        try {
            const json c = json::parse(line);
            const std::string op = c.at("op").get<std::string>();
            if (op == "presign") {
                std::cout << presign(c) << '\n';
            } else if (op == "sign_headers") {
                std::cout << sign_headers(c) << '\n';
            } else if (op == "verify") {
                std::cout << verify(c) << '\n';
            } else {
                std::cerr << "unknown op: " << op << '\n';
                return 2;
            }
        } catch (const std::exception& e) {
            std::cerr << "bad case: " << e.what() << '\n';
            return 2;
        }
    }
    return 0;
}
