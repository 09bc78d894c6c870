#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "crypto/digest.hpp"
#include "store/store.hpp"

namespace imgctl::oci {

/// The object's path relative to the objects directory: "XX/<62 hex>" (DESIGN.md §3).
inline std::string object_payload_path(const crypto::Digest& d) { return store::Store::object_path(d); }

/// Where regular-file contents go while a layer streams: the store's objects in production
/// (StoreSink), memory in unit tests. One Writer per file; its size is known up front.
class ObjectSink {
public:
    class Writer {
    public:
        virtual ~Writer() = default;
        virtual Result<void> write(std::span<const std::byte> data) = 0;
        /// Finishes the object and returns its fs-verity digest.
        virtual Result<crypto::Digest> commit() = 0;
    };
    virtual ~ObjectSink() = default;
    virtual Result<std::unique_ptr<Writer>> begin(uint64_t size) = 0;
    /// Commits a fully written object and sets `node`'s payload and fsverity, now or at the
    /// latest before flush() returns (a sink may commit on other threads: a store commit waits
    /// for fsync). The node's other fields are not touched.
    virtual Result<void> finish(std::unique_ptr<Writer> w, const composefs::InodePtr& node) {
        auto d = w->commit();
        if (!d) return std::move(d).error();
        node->set_fsverity(*d);
        node->set_payload(object_payload_path(*d));
        return {};
    }
    /// Waits for every finish() so far; returns the first error any of them had.
    virtual Result<void> flush() { return {}; }
};

}  // namespace imgctl::oci
