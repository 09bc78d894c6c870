#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/result.hpp"
#include "crypto/digest.hpp"

namespace imgctl::oci {

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
};

/// The object's path relative to the objects directory: "XX/<62 hex>" (DESIGN.md §3).
inline std::string object_payload_path(const crypto::Digest& d) {
    std::string h = d.hex();
    return h.substr(0, 2) + "/" + h.substr(2);
}

}  // namespace imgctl::oci
