// Client::upload: plan (fresh or resumed from the journal), one read pass, complete-upload,
// verification of the returned FileMd5, and the journal removed once done.

#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <system_error>

#include "api_call.hpp"
#include "audiodrop/client.hpp"
#include "json_fields.hpp"
#include "upload_journal.hpp"
#include "upload_pass.hpp"
#include "upload_plan.hpp"

namespace audiodrop::client {
namespace {

using nlohmann::json;

Result<json> complete(ApiContext& ctx, std::string_view user_token, const UploadJournal& journal,
                      const PassOutcome& outcome, const std::string& filetype) {
    json part_list = json::array();
    for (std::uint32_t n = 1; n <= outcome.etags.size(); ++n) {
        part_list.push_back({{"PartNumber", n}, {"ETag", outcome.etags[n - 1]}});
    }
    const json body{{"file_id", journal.file_id},
                    {"upload_id", journal.upload_id},
                    {"part_list", std::move(part_list)},
                    {"filetype", filetype},
                    {"file_md5", outcome.file_md5}};
    return call_api(ctx, "POST", "/open/partner/files/upload/complete-upload",
                    {bearer(user_token), "Content-Type: application/json"}, body.dump());
}

}  // namespace

Result<UploadResult> Client::upload(std::string_view user_token, const std::filesystem::path& file,
                                    const UploadOptions& options) const {
    auto info = inspect(file);
    if (!info) return info.error();
    HttpSession session(options_);
    std::mt19937_64 rng(std::random_device{}());
    ApiContext ctx{options_, session, rng, options.cancel};

    std::filesystem::path journal_file;
    std::optional<Plan> plan;
    if (!options.state_dir.empty()) {
        journal_file = journal_path(options.state_dir, options_.endpoint, info->path);
        plan = resume_plan(ctx, user_token, journal_file, *info, options);
    }
    std::optional<PassOutcome> outcome;
    while (!outcome) {
        if (!plan) {
            auto fresh = fresh_plan(ctx, user_token, *info, options);
            if (!fresh) return fresh.error();
            plan = std::move(*fresh);
            if (!journal_file.empty() && !write_journal(journal_file, plan->journal)) {
                return Error{ErrorKind::io, 0, "state_dir",
                             "cannot write the resume journal under " + options.state_dir.string()};
            }
        }
        auto pass = run_pass(options_, options, *plan);
        if (pass) {
            outcome = std::move(*pass);
            break;
        }
        auto e = pass.error();
        // A resumed upload's presigned URLs may have expired (403) or the upload may be
        // gone (404): start over once with a fresh plan.
        if (plan->resumed && e.kind == ErrorKind::http &&
            (e.http_status == 403 || e.http_status == 404)) {
            abort_stale(ctx, user_token, plan->journal);
            plan.reset();
            continue;
        }
        if (e.kind == ErrorKind::cancelled && !journal_file.empty()) {
            e.message = "upload cancelled; run it again to resume";
        }
        return e;
    }

    // One pass hashed the file once, for file_md5; the server checks it against the bytes
    // it stored. Should they differ (a part damaged on the way), the upload stays open:
    // the parts whose ETag is not their MD5 are sent again, once.
    auto done = complete(ctx, user_token, plan->journal, *outcome, options.filetype);
    if (!done && done.error().code == "md5_mismatch") {
        auto held = parts_on_server(ctx, user_token, plan->journal);
        if (!held) return done.error();
        plan->on_server = std::move(*held);
        auto again = run_pass(options_, options, *plan);
        if (!again) return again.error();
        const auto sent_before = outcome->sent;
        outcome = std::move(*again);
        outcome->sent += sent_before;
        done = complete(ctx, user_token, plan->journal, *outcome, options.filetype);
    }
    if (!done) return done.error();
    UploadResult result{string_field(*done, "FileId"),
                        string_field(*done, "FileType"),
                        string_field(*done, "FileMd5"),
                        string_field(*done, "DownloadUrl"),
                        plan->resumed,
                        outcome->sent,
                        outcome->skipped};
    if (result.file_md5 != outcome->file_md5) {
        return Error{ErrorKind::verification, 200, "md5_mismatch",
                     "the server's FileMd5 " + result.file_md5 + " is not the file's MD5 " +
                         outcome->file_md5};
    }
    if (!journal_file.empty()) {
        std::error_code ec;
        std::filesystem::remove(journal_file, ec);
    }
    return result;
}

}  // namespace audiodrop::client
