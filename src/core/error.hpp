#pragma once

#include <boost/system/result.hpp>
#include <optional>
#include <string>

namespace audiodrop::core {

// What kind of failure this is; the HTTP and S3 layers each map kinds to their own
// statuses in one table, so the service layer never speaks HTTP.
enum class ErrorKind {
    invalid_input,    // 400: malformed or invalid request
    unauthenticated,  // 401: missing, bad, expired or wrong-region credentials
    forbidden,        // 403: authenticated, but the wrong kind of caller
    not_found,        // 404: unknown (or someone else's) upload, file or object
    length_required,  // 411: a body without Content-Length where one is needed
    conflict,         // 409: the state does not allow this now
    gone,             // 410: the upload has expired
    too_large,        // 413: body or entity over its limit
    unprocessable,    // 422: well-formed, but the content is not what it claims to be
    rate_limited,     // 429: slow down; Error::retry_after_seconds says how long
    unavailable,      // 503: a store cannot be reached
    storage_full,     // 507: no space left
    internal,         // 500: a bug or an impossible state
};

// The few failures a caller in another layer decides on. Codes are words for the wire
// (each listener maps them in one table); a decision made on a string is a hidden
// contract, a Reason is a visible one.
enum class Reason {
    none,
    digest_mismatch,       // the stored bytes' MD5 is not the expected one; still open
    upload_consumed,       // ...and the store could not keep the upload open (S3)
    open_upload_quota,     // the owner has as many open uploads as allowed
    partner_upload_quota,  // the partner has as many open uploads as allowed
    partner_bytes_quota,   // the partner's open uploads add up to as many bytes as allowed
    no_such_upload,        // the object store does not know the multipart upload
    signature_mismatch,    // a presigned request's signature is not ours
    server_busy,           // a worker pool's queue is full; retry shortly
    body_incomplete,       // the connection ended before the body did
    client_timeout,        // the client went silent mid-request
    resolver_unavailable,  // DNS failed for now (a webhook host); the message may be shown
};

// An error as a value. `code` is the machine-readable word clients branch on
// (e.g. "unsupported_filetype" for the API, "SignatureDoesNotMatch" for S3);
// `message` is a sentence a developer can act on.
struct Error {
    ErrorKind kind = ErrorKind::internal;
    std::string code;
    std::string message;
    std::optional<int> retry_after_seconds;
    Reason reason = Reason::none;
};

inline Error make_error(ErrorKind kind, std::string code, std::string message,
                        Reason reason = Reason::none) {
    return Error{kind, std::move(code), std::move(message), std::nullopt, reason};
}

// Called by boost::system::result::value() when it holds an error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

// A value or an Error. Dropping one unread is a compile error: a failure must be
// handled, or ignored with a comment that says why.
template <class T>
class [[nodiscard]] Result : public boost::system::result<T, Error> {
  public:
    using boost::system::result<T, Error>::result;
};

}  // namespace audiodrop::core

// Early return of a Result's error from a function that returns a Result.
#define AUDIODROP_CONCAT_INNER(a, b) a##b
#define AUDIODROP_CONCAT(a, b) AUDIODROP_CONCAT_INNER(a, b)
#define AUDIODROP_TRY(expr)                      \
    do {                                         \
        auto audiodrop_try_result = (expr);      \
        if (!audiodrop_try_result) {             \
            return audiodrop_try_result.error(); \
        }                                        \
    } while (0)
// `lhs` may declare a variable: AUDIODROP_TRY_ASSIGN(auto parts, store.list_parts(...)).
#define AUDIODROP_TRY_ASSIGN(lhs, expr)                            \
    auto AUDIODROP_CONCAT(audiodrop_try_, __LINE__) = (expr);      \
    if (!AUDIODROP_CONCAT(audiodrop_try_, __LINE__)) {             \
        return AUDIODROP_CONCAT(audiodrop_try_, __LINE__).error(); \
    }                                                              \
    lhs = std::move(*AUDIODROP_CONCAT(audiodrop_try_, __LINE__))
// The same inside a coroutine that co_returns a Result (`expr` may co_await).
#define AUDIODROP_CO_TRY(expr)                      \
    do {                                            \
        auto audiodrop_try_result = (expr);         \
        if (!audiodrop_try_result) {                \
            co_return audiodrop_try_result.error(); \
        }                                           \
    } while (0)
#define AUDIODROP_CO_TRY_ASSIGN(lhs, expr)                            \
    auto AUDIODROP_CONCAT(audiodrop_try_, __LINE__) = (expr);         \
    if (!AUDIODROP_CONCAT(audiodrop_try_, __LINE__)) {                \
        co_return AUDIODROP_CONCAT(audiodrop_try_, __LINE__).error(); \
    }                                                                 \
    lhs = std::move(*AUDIODROP_CONCAT(audiodrop_try_, __LINE__))
