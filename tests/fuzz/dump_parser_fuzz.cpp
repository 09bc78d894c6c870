// libFuzzer target: the composefs-dump parser gives a Tree or an Error on any text, and every
// tree the writer accepts reads back (EROFS reader) to the same image bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "composefs/dump_parser.hpp"
#include "composefs/erofs_reader.hpp"
#include "composefs/erofs_writer.hpp"

using namespace imgctl::composefs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_dump(text, DumpParseOptions{.strict = true});
    auto tree = parse_dump(text);
    if (!tree) return 0;
    auto img = write_erofs(*tree);
    if (!img) return 0;
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(img->bytes.data()), img->bytes.size());
    auto back = read_image(bytes, "fuzz");
    if (!back) __builtin_trap();  // the reader must read everything the writer writes
    auto again = write_erofs(back->tree, ErofsOptions{img->version, img->version});
    if (!again || again->bytes != img->bytes) __builtin_trap();  // and invert it exactly
    return 0;
}
