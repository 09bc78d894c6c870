// libFuzzer target: composefs-dump text through the parser (both modes), the dump writer and
// the EROFS writer. Build: CXX=clang++ meson setup build-fuzz -Dfuzz=true -Db_sanitize=address
// then run: build-fuzz/tests/fuzz/dump_parser_fuzz CORPUS_DIR ../shared/vectors
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace imgctl::composefs;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    for (bool strict : {false, true}) {
        auto tree = parse_dump(text, DumpParseOptions{.strict = strict});
        if (!tree) continue;
        (void)write_dump(*tree);
        auto img = write_erofs(*tree);
        if (img && img->bytes.size() % 4096 != 0) __builtin_trap();
    }
    return 0;
}
