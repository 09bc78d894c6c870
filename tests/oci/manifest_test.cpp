#include <gtest/gtest.h>

#include "oci/manifest.hpp"

namespace imgctl::oci {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string entry(const std::string& d, const std::string& os, const std::string& arch, const std::string& var = "") {
    std::string p = R"({"os":")" + os + R"(","architecture":")" + arch + '"' +
                    (var.empty() ? "" : R"(,"variant":")" + var + '"') + "}";
    return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d +
           R"(","size":10,"platform":)" + p + "}";
}

TEST(Manifest, ClassifiesDocuments) {
    EXPECT_EQ(*classify_document(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})"),
              DocumentKind::Index);
    EXPECT_EQ(*classify_document(R"({"schemaVersion":2,"manifests":[]})"), DocumentKind::Index);
    EXPECT_EQ(*classify_document(R"({"schemaVersion":2,"config":{},"layers":[]})"), DocumentKind::Manifest);
    EXPECT_EQ(*classify_document(R"({"schemaVersion":2})", "application/vnd.docker.distribution.manifest.v2+json"),
              DocumentKind::Manifest);
    auto s1 = classify_document(R"({"schemaVersion":1,"name":"x","fsLayers":[]})");
    ASSERT_FALSE(s1);
    EXPECT_NE(s1.error().message.find("schema 1"), std::string::npos);
    EXPECT_FALSE(classify_document("not json"));
    EXPECT_FALSE(classify_document("[1,2]"));
    EXPECT_FALSE(classify_document(R"({"mediaType":"text/plain"})"));
}

TEST(Manifest, ParsesManifestAndConfig) {
    std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
      "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" + kA + R"(","size":7},
      "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" + kB + R"(","size":100},
                {"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":")" + kC + R"(","size":5,
                 "annotations":{"io.containers.zstd-chunked.manifest-position":"1:2:3:1"}}]})";
    auto man = parse_manifest(m);
    ASSERT_TRUE(man) << man.error().message;
    EXPECT_EQ(man->config.digest, kA);
    ASSERT_EQ(man->layers.size(), 2u);
    EXPECT_EQ(man->layers[0].size, 100);
    EXPECT_EQ(*layer_compression(man->layers[0].media_type), Compression::Gzip);
    EXPECT_EQ(*layer_compression(man->layers[1].media_type), Compression::Zstd);
    EXPECT_EQ(man->layers[1].annotations.size(), 1u);

    auto cfg = parse_config(R"({"architecture":"amd64","os":"linux","created":"2026-01-02T03:04:05Z",
      "config":{"Labels":{"version":"41"}},"rootfs":{"type":"layers","diff_ids":[")" + kB + R"("]}})");
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->architecture, "amd64");
    EXPECT_EQ(cfg->labels.at("version"), "41");
    EXPECT_EQ(cfg->diff_ids, std::vector<std::string>{kB});
    EXPECT_EQ(cfg->created, "2026-01-02T03:04:05Z");
}

TEST(Manifest, RefusesBadDescriptors) {
    EXPECT_FALSE(parse_manifest(R"({"config":{"digest":"sha256:12","size":1},"layers":[]})"));
    EXPECT_FALSE(parse_manifest(R"({"config":{"digest":")" + kA + R"(","size":-1},"layers":[]})"));
    EXPECT_FALSE(parse_manifest(R"({"config":{"digest":")" + kA + R"(","size":1}})"));
    EXPECT_FALSE(parse_config(R"({"rootfs":{"diff_ids":["md5:00"]}})"));
    EXPECT_FALSE(parse_config(R"({"os":"linux"})"));
}

TEST(Manifest, LayerCompressionTable) {
    EXPECT_EQ(*layer_compression("application/vnd.oci.image.layer.v1.tar"), Compression::None);
    EXPECT_EQ(*layer_compression("application/vnd.oci.image.layer.v1.tar+gzip"), Compression::Gzip);
    EXPECT_EQ(*layer_compression("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"), Compression::Gzip);
    EXPECT_EQ(*layer_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"), Compression::Gzip);
    EXPECT_FALSE(layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2"));
    EXPECT_FALSE(layer_compression("application/octet-stream"));
}

TEST(Manifest, SelectsPlatform) {
    auto idx = parse_index(R"({"schemaVersion":2,"manifests":[)" + entry(kA, "linux", "arm64", "v8") + "," +
                           entry(kB, "linux", "amd64") + "," + entry(kC, "linux", "arm", "v7") + "]}");
    ASSERT_TRUE(idx) << idx.error().message;
    EXPECT_EQ(select_platform(*idx, {"linux", "amd64", ""})->digest, kB);
    EXPECT_EQ(select_platform(*idx, {"linux", "arm64", ""})->digest, kA);
    EXPECT_EQ(select_platform(*idx, {"linux", "arm", "v7"})->digest, kC);
    auto miss = select_platform(*idx, {"linux", "s390x", ""});
    ASSERT_FALSE(miss);
    EXPECT_NE(miss.error().message.find("linux/arm64/v8, linux/amd64, linux/arm/v7"), std::string::npos)
        << miss.error().message;
    EXPECT_EQ(parse_platform("linux/arm64/v8")->variant, "v8");
    EXPECT_FALSE(parse_platform("linux"));
    EXPECT_FALSE(parse_platform("linux/"));
    EXPECT_FALSE(parse_platform("a/b/c/d"));
}

}  // namespace
}  // namespace imgctl::oci
