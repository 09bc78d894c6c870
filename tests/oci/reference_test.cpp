#include <gtest/gtest.h>

#include "oci/reference.hpp"

namespace imgctl::oci {
namespace {

struct Good {
    const char* text;
    const char* default_registry;
    SourceKind kind;
    const char* registry;
    const char* repository;
    const char* tag;
    const char* digest;
    const char* path;
};

const std::string kD = "sha256:" + std::string(64, 'a');

TEST(Reference, ParsesValidReferences) {
    const Good cases[] = {
        {"docker://127.0.0.1:5000/test:1", "", SourceKind::Registry, "127.0.0.1:5000", "test", "1", "", ""},
        {"127.0.0.1:5000/a/b/c", "", SourceKind::Registry, "127.0.0.1:5000", "a/b/c", "latest", "", ""},
        {"quay.io/fedora/fedora-bootc:41", "", SourceKind::Registry, "quay.io", "fedora/fedora-bootc", "41", "", ""},
        {"localhost/os:v1.2-rc_3", "", SourceKind::Registry, "localhost", "os", "v1.2-rc_3", "", ""},
        {"localhost:5000/os", "", SourceKind::Registry, "localhost:5000", "os", "latest", "", ""},
        {"os:41", "reg.example:443", SourceKind::Registry, "reg.example:443", "os", "41", "", ""},
        {"team/os", "reg.example", SourceKind::Registry, "reg.example", "team/os", "latest", "", ""},
        {"debian:12", "docker.io", SourceKind::Registry, "docker.io", "library/debian", "12", "", ""},
        {"a.b/x__y.z-w---v/q", "", SourceKind::Registry, "a.b", "x__y.z-w---v/q", "latest", "", ""},
        {"[::1]:5000/x:t", "", SourceKind::Registry, "[::1]:5000", "x", "t", "", ""},
        {"oci:/srv/layout", "", SourceKind::OciLayout, "", "", "", "", "/srv/layout"},
        {"oci:/srv/layout:v1", "", SourceKind::OciLayout, "", "", "v1", "", "/srv/layout"},
        {"oci:rel/dir:with:colons", "", SourceKind::OciLayout, "", "", "colons", "", "rel/dir:with"},
        {"oci-archive:/tmp/a.tar:latest", "", SourceKind::OciArchive, "", "", "latest", "", "/tmp/a.tar"},
    };
    for (const auto& c : cases) {
        auto r = parse_reference(c.text, c.default_registry);
        ASSERT_TRUE(r) << c.text << ": " << r.error().message;
        EXPECT_EQ(r->kind, c.kind) << c.text;
        EXPECT_EQ(r->registry, c.registry) << c.text;
        EXPECT_EQ(r->repository, c.repository) << c.text;
        EXPECT_EQ(r->tag, c.tag) << c.text;
        EXPECT_EQ(r->digest, c.digest) << c.text;
        EXPECT_EQ(r->path, c.path) << c.text;
    }
}

TEST(Reference, ParsesDigests) {
    auto r = parse_reference("reg.io/os@" + kD);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->digest, kD);
    EXPECT_EQ(r->tag, "");
    r = parse_reference("reg.io/os:41@" + kD);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tag, "41");
    EXPECT_EQ(r->to_string(), "reg.io/os:41@" + kD);
}

TEST(Reference, RefusesBadReferences) {
    const struct {
        std::string text;
        const char* why;  // a fragment of the expected message
    } cases[] = {
        {"", "empty"},
        {"debian:12", "no default registry"},
        {"docker://debian", "no default registry"},
        {"reg.io/Upper", "invalid repository name component 'Upper'"},
        {"reg.io/a//b", "invalid repository name component ''"},
        {"reg.io/a..b", "invalid repository name component"},
        {"reg.io/-a", "invalid repository name component"},
        {"reg.io/a:", "invalid tag ''"},
        {"reg.io/a:.x", "invalid tag '.x'"},
        {"reg.io/a:" + std::string(129, 't'), "invalid tag"},
        {"reg.io/a@sha256:abc", "64 lower-case hex"},
        {"reg.io/a@sha512:" + std::string(128, 'a'), "only sha256"},
        {"reg.io/a@" + std::string(64, 'a'), "no algorithm"},
        {"reg.io/a@sha256:" + std::string(64, 'A'), "64 lower-case hex"},
        {"-bad.io/a", "invalid registry host"},
        {"bad_host.io/a", "invalid registry host"},
        {"reg.io:99999x/a", "invalid registry host"},
        {"reg.io/" + std::string(300, 'a'), "longer than 255"},
        {"oci:", "no path"},
        {"oci:/x:", "empty tag"},
    };
    for (const auto& c : cases) {
        auto r = parse_reference(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code, EINVAL);
        EXPECT_NE(r.error().message.find(c.why), std::string::npos) << c.text << " -> " << r.error().message;
    }
}

TEST(Reference, StoreRefNameIsFlatAndEscaped) {
    auto r = parse_reference("docker://127.0.0.1:5000/a/b:1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->to_string(), "127.0.0.1:5000/a/b:1");
    EXPECT_EQ(r->store_ref_name(), "oci/127.0.0.1%3A5000%2Fa%2Fb%3A1");
    EXPECT_EQ(r->api_host(), "127.0.0.1:5000");
    auto d = parse_reference("x", "docker.io");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->api_host(), "registry-1.docker.io");
}

}  // namespace
}  // namespace imgctl::oci
