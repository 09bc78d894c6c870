// libFuzzer target: the EROFS image reader must give a Tree or an Error on any bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "composefs/erofs_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    (void)imgctl::composefs::read_image(bytes, "fuzz");
    (void)imgctl::composefs::list_external_files(bytes, "fuzz");
    return 0;
}
