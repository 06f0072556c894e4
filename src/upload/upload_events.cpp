#include "upload/upload_events.hpp"

#include <nlohmann/json.hpp>

#include "core/ids.hpp"
#include "core/request_context.hpp"
#include "upload/content_check.hpp"

namespace audiodrop::upload {
namespace {

using nlohmann::ordered_json;

ordered_json owner_fields(const metadata::UploadRecord& u) {
    return ordered_json{{"FileId", u.file_id}, {"UserId", u.user_id}};
}

metadata::OutboxEvent event(const metadata::UploadRecord& u, std::string type,
                            const ordered_json& data, core::TimePoint now) {
    metadata::OutboxEvent e;
    e.id = core::new_id("evt_");
    e.client_id = u.client_id;
    e.type = std::move(type);
    e.data = data.dump();
    e.created_at = now;
    e.request_id = core::current_request_id();
    return e;
}

ordered_json upload_fields(const metadata::UploadRecord& u) {
    auto data = owner_fields(u);
    data["UploadId"] = u.upload_id;
    data["FileType"] = u.filetype;
    data["FileSize"] = u.filesize;
    return data;
}

}  // namespace

metadata::OutboxEvent file_uploaded_event(const metadata::UploadRecord& u, core::TimePoint now) {
    auto data = owner_fields(u);
    data["FileType"] = u.filetype;
    data["FileSize"] = u.filesize;
    data["FileMd5"] = u.file_md5;
    add_audio_fields(u, data);
    auto e = event(u, "file.uploaded", data, now);
    e.object_key = u.object_key;
    return e;
}

metadata::OutboxEvent file_deleted_event(const metadata::UploadRecord& u, core::TimePoint now) {
    return event(u, "file.deleted", owner_fields(u), now);
}

metadata::OutboxEvent upload_aborted_event(const metadata::UploadRecord& u, core::TimePoint now) {
    return event(u, "upload.aborted", upload_fields(u), now);
}

metadata::OutboxEvent upload_expired_event(const metadata::UploadRecord& u, core::TimePoint now) {
    return event(u, "upload.expired", upload_fields(u), now);
}

}  // namespace audiodrop::upload
