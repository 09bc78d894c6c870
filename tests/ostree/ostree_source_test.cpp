#include "ostree/ostree_source.hpp"

#include <gtest/gtest.h>

namespace imgctl::ostree {
namespace {

struct Good {
    const char* spec;
    OstreeSource::Kind kind;
    const char* location;
    const char* ref;
};

TEST(ParseSource, AcceptsPathsAndUrls) {
    const Good cases[] = {
        {"ostree:/srv/repo:exampleos/x86_64/stable", OstreeSource::Kind::Local, "/srv/repo", "exampleos/x86_64/stable"},
        {"ostree:repo:main", OstreeSource::Kind::Local, "repo", "main"},
        {"ostree:http://example.com/repo:os/1", OstreeSource::Kind::Remote, "http://example.com/repo", "os/1"},
        {"ostree:http://127.0.0.1:8080/repo:os/1", OstreeSource::Kind::Remote, "http://127.0.0.1:8080/repo", "os/1"},
        {"ostree:https://h:443:main", OstreeSource::Kind::Remote, "https://h:443", "main"},
        {"ostree:http://h/:8080/x", OstreeSource::Kind::Remote, "http://h/", "8080/x"},
        {"ostree:file:///srv/repo:a.b_c-d", OstreeSource::Kind::Remote, "file:///srv/repo", "a.b_c-d"},
        {"ostree:/a:b/c:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", OstreeSource::Kind::Local,
         "/a:b/c", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    };
    for (const auto& c : cases) {
        auto s = parse_source(c.spec);
        ASSERT_TRUE(s) << c.spec << ": " << s.error().message;
        EXPECT_EQ(s->kind, c.kind) << c.spec;
        EXPECT_EQ(s->location, c.location) << c.spec;
        EXPECT_EQ(s->ref, c.ref) << c.spec;
        EXPECT_EQ(s->to_string(), c.spec);
    }
}

TEST(ParseSource, RefusesMalformedSpecs) {
    const char* bad[] = {
        "docker://x", "ostree:", "ostree:/srv/repo", "ostree:/srv/repo:", "ostree::main",
        "ostree:http://example.com/repo",           // REF forgotten: splits at "http"
        "ostree:http://example.com:8080/repo",      // REF forgotten: the port looks like a ref
        "ostree:http://:main", "ostree:file://relative:main",
        "ostree:/r:/abs", "ostree:/r:a//b", "ostree:/r:a/", "ostree:/r:../x", "ostree:/r:a b", "ostree:/r:-x",
    };
    for (const char* spec : bad) {
        auto s = parse_source(spec);
        ASSERT_FALSE(s) << spec << " parsed as " << s->location << " / " << s->ref;
        EXPECT_EQ(s.error().code, EINVAL);
        EXPECT_NE(s.error().message.find(spec), std::string::npos) << s.error().message;
    }
}

TEST(ParseSource, StoreRefEscapesTheLocationInjectively) {
    auto a = parse_source("ostree:/srv/a_b:os/stable");
    auto b = parse_source("ostree:/srv/a/b:os/stable");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->store_ref(), "ostree/%2Fsrv%2Fa_b/os%2Fstable");
    EXPECT_EQ(b->store_ref(), "ostree/%2Fsrv%2Fa%2Fb/os%2Fstable");
    auto long_loc = parse_source("ostree:/" + std::string(300, 'x') + ":main");
    ASSERT_TRUE(long_loc);
    std::string r = long_loc->store_ref();
    EXPECT_LE(r.size(), std::string("ostree/").size() + 255 + std::string("/main").size());
    EXPECT_TRUE(r.ends_with("/main")) << r;
    auto url = parse_source("ostree:http://h:1/r:a.b");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->store_ref(), "ostree/http%3A%2F%2Fh%3A1%2Fr/a.b");
    auto hidden = parse_source("ostree:.repo:main");
    ASSERT_TRUE(hidden);
    EXPECT_EQ(hidden->store_ref(), "ostree/%2Erepo/main");
}

}  // namespace
}  // namespace imgctl::ostree
