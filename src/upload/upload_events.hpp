#pragma once

#include "core/clock.hpp"
#include "metadata/records.hpp"
#include "metadata/webhook_records.hpp"

namespace audiodrop::upload {

// The events an upload's state changes send to webhook subscribers (see docs/API.md).
// Their data names the file and its owner; file.uploaded adds what the file is, and its
// deliveries a DownloadUrl presigned as they are sent. Each remembers the request
// current on this thread (core/request_context.hpp), the one that made the change.
metadata::OutboxEvent file_uploaded_event(const metadata::UploadRecord& u, core::TimePoint now);
metadata::OutboxEvent file_deleted_event(const metadata::UploadRecord& u, core::TimePoint now);
metadata::OutboxEvent upload_aborted_event(const metadata::UploadRecord& u, core::TimePoint now);
metadata::OutboxEvent upload_expired_event(const metadata::UploadRecord& u, core::TimePoint now);

}  // namespace audiodrop::upload
