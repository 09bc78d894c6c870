// libFuzzer target: the EROFS image reader must give a Tree or an Error on any bytes; a tree it
// reads that the writer accepts must read back to itself (write -> read -> write is stable).
#include <cstddef>
#include <cstdint>
#include <span>

#include "composefs/erofs_reader.hpp"
#include "composefs/erofs_writer.hpp"

using namespace imgctl::composefs;

namespace {
std::span<const std::byte> as_bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    (void)list_external_files(bytes, "fuzz");
    auto r = read_image(bytes, "fuzz");
    if (!r) return 0;
    ErofsOptions same{r->info.format_version, r->info.format_version};
    auto img = write_erofs(r->tree, same);
    if (!img) return 0;
    auto back = read_image(as_bytes(img->bytes), "fuzz-rewritten");
    if (!back) __builtin_trap();
    auto again = write_erofs(back->tree, same);
    if (!again || again->bytes != img->bytes) __builtin_trap();
    return 0;
}
