#include "oci/byte_source.hpp"

#include <unistd.h>

#include <cstring>

#include <zlib.h>
#include <zstd.h>

namespace imgctl::oci {

namespace {
constexpr size_t kInSize = 128 * 1024;
}

Result<size_t> FdSource::read(std::span<std::byte> out) {
    while (true) {
        ssize_t n = ::read(fd_, out.data(), out.size());
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return errno_error(errno, "reading blob");
    }
}

Result<size_t> BufferSource::read(std::span<std::byte> out) {
    size_t n = std::min(out.size(), data_.size() - pos_);
    std::memcpy(out.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
}

// One of zlib's inflate or libzstd's streaming decoder. Both decode concatenations: gzip
// members (RFC 1952 §2.2 allows several) by resetting after Z_STREAM_END, zstd frames and
// skippable frames (RFC 8878 §3.1.2) natively in ZSTD_decompressStream.
struct LayerStream::Codec {
    z_stream z{};
    bool z_init = false;
    ZSTD_DCtx* zstd = nullptr;
    size_t zstd_last = 0;        // last ZSTD_decompressStream hint: 0 = at a frame boundary
    bool gz_member_done = true;  // at a member boundary (valid end of input)
    ~Codec() {
        if (z_init) inflateEnd(&z);
        if (zstd) ZSTD_freeDCtx(zstd);
    }
};

LayerStream::LayerStream(ByteSource& raw, Compression c, std::optional<crypto::Digest> blob_digest,
                         std::optional<crypto::Digest> diff_id)
    : raw_(raw), compression_(c), blob_digest_(blob_digest), diff_id_(diff_id),
      codec_(std::make_unique<Codec>()), in_(new std::byte[kInSize]) {
    if (c == Compression::Gzip) {
        codec_->z_init = inflateInit2(&codec_->z, 15 + 32) == Z_OK;  // 32: expect a gzip header
    } else if (c == Compression::Zstd) {
        codec_->zstd = ZSTD_createDCtx();
    }
}

LayerStream::~LayerStream() = default;

Result<size_t> LayerStream::fill_input() {
    if (in_pos_ < in_len_ || raw_eof_) return in_len_ - in_pos_;
    auto n = raw_.read({in_.get(), kInSize});
    if (!n) return std::move(n).error();
    in_pos_ = 0;
    in_len_ = *n;
    if (*n == 0) raw_eof_ = true;
    blob_hash_.update(std::span<const std::byte>(in_.get(), *n));
    compressed_bytes_ += *n;
    return *n;
}

Result<size_t> LayerStream::read(std::span<std::byte> out) {
    if (done_ || out.empty()) return size_t{0};
    Codec& c = *codec_;
    while (true) {
        auto avail = fill_input();
        if (!avail) return std::move(avail).error();
        size_t produced = 0;
        if (compression_ == Compression::None) {
            produced = std::min(out.size(), *avail);
            std::memcpy(out.data(), in_.get() + in_pos_, produced);
            in_pos_ += produced;
        } else if (compression_ == Compression::Gzip) {
            if (!c.z_init) return make_error(ENOMEM, "cannot initialise zlib");
            if (*avail == 0 && c.gz_member_done) {
                done_ = true;
                return size_t{0};
            }
            // With no input left, inflate may still flush output it held back for a full buffer.
            c.z.next_in = reinterpret_cast<Bytef*>(in_.get() + in_pos_);
            c.z.avail_in = static_cast<uInt>(*avail);
            c.z.next_out = reinterpret_cast<Bytef*>(out.data());
            c.z.avail_out = static_cast<uInt>(std::min<size_t>(out.size(), 1u << 30));
            int rc = inflate(&c.z, Z_NO_FLUSH);
            in_pos_ = in_len_ - c.z.avail_in;
            produced = std::min<size_t>(out.size(), 1u << 30) - c.z.avail_out;
            if (*avail == 0 && produced == 0 && rc != Z_STREAM_END)
                return make_error(EBADMSG, "gzip stream is truncated");
            c.gz_member_done = false;
            if (rc == Z_STREAM_END) {
                c.gz_member_done = true;
                inflateReset(&c.z);  // another gzip member may follow
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                return make_error(EBADMSG, "gzip data is corrupt: {}", c.z.msg ? c.z.msg : "inflate failed");
            }
        } else {
            if (!c.zstd) return make_error(ENOMEM, "cannot initialise zstd");
            if (*avail == 0 && c.zstd_last == 0) {
                done_ = true;
                return size_t{0};
            }
            // With no input left, the decoder may still hold output for a full buffer: drain it.
            ZSTD_inBuffer ib{in_.get() + in_pos_, *avail, 0};
            ZSTD_outBuffer ob{out.data(), out.size(), 0};
            size_t rc = ZSTD_decompressStream(c.zstd, &ob, &ib);
            if (ZSTD_isError(rc)) return make_error(EBADMSG, "zstd data is corrupt: {}", ZSTD_getErrorName(rc));
            if (*avail == 0 && ob.pos == 0) return make_error(EBADMSG, "zstd stream is truncated");
            c.zstd_last = rc;
            in_pos_ += ib.pos;
            produced = ob.pos;
        }
        if (produced > 0) {
            diff_hash_.update(std::span<const std::byte>(out.data(), produced));
            return produced;
        }
        if (compression_ == Compression::None && *avail == 0) {
            done_ = true;
            return size_t{0};
        }
    }
}

Result<void> LayerStream::finish() {
    std::unique_ptr<std::byte[]> buf(new std::byte[kInSize]);
    while (true) {
        auto n = read({buf.get(), kInSize});
        if (!n) return std::move(n).error();
        if (*n == 0) break;
    }
    if (blob_digest_) {
        crypto::Digest got = blob_hash_.finish();
        if (got != *blob_digest_)
            return make_error(EBADMSG, "blob digest mismatch: expected sha256:{}, got sha256:{}", blob_digest_->hex(),
                              got.hex());
    }
    if (diff_id_) {
        crypto::Digest got = diff_hash_.finish();
        if (got != *diff_id_)
            return make_error(EBADMSG, "uncompressed layer digest (diff_id) mismatch: expected sha256:{}, got sha256:{}",
                              diff_id_->hex(), got.hex());
    }
    return {};
}

}  // namespace imgctl::oci
