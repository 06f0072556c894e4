#pragma once

// The scale-out object store: bytes live in any S3-compatible store (AWS S3, Ceph RGW,
// MinIO) and clients PUT and GET them there directly, through URLs presigned here
// without a network call. The service itself only starts, lists, completes and aborts
// multipart uploads, and reads each completed object back once: S3's multipart ETag is
// not the file's MD5, and FileMd5 must be the MD5 of the bytes actually stored.
//
// Differences from the local store, all forced by S3:
// - A part's size limit cannot be put into a presigned URL that clients stream to, so
//   oversized parts are refused at complete (the part list check), not at PUT.
// - Once CompleteMultipartUpload has run, S3 cannot reopen the upload: when the file's
//   MD5 differs from the one the client expected, the assembled object is deleted and
//   complete fails with "BadDigestUploadConsumed" instead of leaving the upload open.
// - stat's md5 is known only for objects S3 stored in one piece (plain-MD5 ETag).
// - Some stores (Ceph RGW) refuse a complete that leaves out a part they hold, with
//   InvalidPart; AWS S3 and MinIO discard such parts. The service always names every
//   part, so this only shows through the interface.
//
// Thread-safe; S3 decides races between replicas, and the metadata store decides
// which outcome the API reports.

#include <memory>

#include "s3/s3_client.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::storage {

class S3ObjectStore final : public ObjectStore {
  public:
    // Checks that the bucket exists and the credentials are accepted (HEAD bucket):
    // a misconfigured store fails at start with a message saying which.
    static core::Result<std::unique_ptr<S3ObjectStore>> open(s3::S3ClientOptions options,
                                                             const core::Clock& clock);

    S3ObjectStore(s3::S3ClientOptions options, const core::Clock& clock);

    core::Result<std::string> create_multipart(const std::string& key,
                                               std::uint64_t max_part_size) override;
    core::Result<std::vector<std::string>> presign_parts(const std::string& key,
                                                         const std::string& upload_id,
                                                         std::uint32_t part_count,
                                                         std::chrono::seconds ttl) override;
    core::Result<std::vector<PartInfo>> list_parts(const std::string& key,
                                                   const std::string& upload_id) override;
    core::Result<ObjectInfo> complete(const std::string& key, const std::string& upload_id,
                                      const std::vector<PartRef>& parts,
                                      const std::optional<std::string>& expected_md5) override;
    core::Result<void> abort(const std::string& key, const std::string& upload_id) override;
    core::Result<std::string> presign_get(const std::string& key,
                                          std::chrono::seconds ttl) override;
    core::Result<ObjectInfo> stat(const std::string& key) override;
    core::Result<std::unique_ptr<ObjectReader>> read_object(const std::string& key) override;
    core::Result<void> remove(const std::string& key) override;

  private:
    // Sends CompleteMultipartUpload; succeeds too when the upload is gone because a
    // concurrent complete already assembled `key` from exactly these parts.
    core::Result<void> assemble(const std::string& key, const std::string& upload_id,
                                const std::vector<PartRef>& parts);
    // ListParts says the multipart upload does not exist (any other answer: it may).
    bool upload_is_gone(const std::string& key, const std::string& upload_id);
    // Reads the object back once: its size and MD5.
    core::Result<ObjectInfo> hash_object(const std::string& key);

    s3::S3Client client_;
};

}  // namespace audiodrop::storage
