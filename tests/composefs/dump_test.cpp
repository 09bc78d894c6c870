// composefs-dump(5) escaping, parsing and writing (FORMAT-NOTES §14, §16).
#include <gtest/gtest.h>

#include "composefs/dump_escape.hpp"
#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"

namespace imgctl::composefs {
namespace {

constexpr std::string_view kRoot = "/ 4096 40755 2 0 0 0 0.0 - - -\n";

Result<Tree> parse(std::string_view body, bool strict = false) {
    return parse_dump(std::string(kRoot) + std::string(body), DumpParseOptions{.strict = strict});
}

TEST(DumpEscape, UsesShortFormsHexAndEqualsOnlyInXattrs) {
    std::string out;
    append_escaped(out, std::string_view("a b\\c\nd\re\tf=g\x01\xff", 15));
    EXPECT_EQ(out, "a\\x20b\\\\c\\nd\\re\\tf=g\\x01\\xff");
    out.clear();
    append_escaped(out, "k=v", /*escape_equal=*/true);
    EXPECT_EQ(out, "k\\x3dv");
    out.clear();
    append_escaped_optional(out, "-");
    EXPECT_EQ(out, "\\x2d");
}

TEST(DumpEscape, UnescapeAcceptsEitherHexCaseAndRefusesOthers) {
    EXPECT_EQ(unescape_field("\\x41\\x6a\\x6A\\\\\\n\\r\\t"), std::string("Ajj\\\n\r\t"));
    EXPECT_FALSE(unescape_field("\\q"));
    EXPECT_FALSE(unescape_field("abc\\"));
    EXPECT_FALSE(unescape_field("\\x4"));
    EXPECT_FALSE(unescape_field("\\xzz"));
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    std::string esc;
    append_escaped(esc, all, true);
    EXPECT_EQ(esc.find(' '), std::string::npos);
    EXPECT_EQ(unescape_field(esc), all);
}

TEST(DumpParser, ReadsEveryFieldOfARegularFile) {
    auto t = parse("/f 5 100644 3 7 8 0 12.34 ab/cdef hello " + std::string(64, 'a') +
                   " user.x=1\\x3d2 trusted.y=\n");
    ASSERT_TRUE(t) << t.error().message;
    auto f = t->lookup("/f");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->mode, 0100644u);
    EXPECT_EQ(f->size, 5u);
    EXPECT_EQ(f->nlink, 3u);
    EXPECT_EQ(f->uid, 7u);
    EXPECT_EQ(f->gid, 8u);
    EXPECT_EQ(f->mtime_sec, 12);
    EXPECT_EQ(f->mtime_nsec, 34u);  // "12.34" is 12 s + 34 ns, not a fraction
    EXPECT_EQ(f->payload(), "ab/cdef");
    EXPECT_EQ(f->content(), "hello");
    ASSERT_TRUE(f->fsverity());
    EXPECT_EQ(f->fsverity()->hex(), std::string(64, 'a'));
    ASSERT_EQ(f->xattrs.size(), 2u);
    EXPECT_EQ(f->xattrs[0].value, "1=2");
    EXPECT_EQ(f->xattrs[1].value, "");
}

TEST(DumpParser, ErrorsNameTheLine) {
    auto t = parse("/a 0 100644 1 0 0 0 0.0 - - -\n/b 0 100644 1 0 0 0 zero - - -\n");
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("line 3"), std::string::npos) << t.error().message;
}

TEST(DumpParser, RefusesBadInput) {
    const char* bad[] = {
        "/d/f 0 100644 1 0 0 0 0.0 - - -\n",           // missing parent
        "/f 0 100644 1 0 0 0 0.0 - - -\n/f 0 100644 1 0 0 0 0.0 - - -\n",  // twice
        "/f 0 100644 1 0 0 0 0 - - -\n",               // mtime without dot
        "/f 0 100644 1 0 0 0 0.0 - - - novalue\n",     // xattr without '='
        "/f 3 100644 1 0 0 0 0.0 - ab -\n",            // content length != size
        "/f 0 100644 1 0 0 0 0.0 - - abcd\n",          // bad digest
        "/f 0 100644 1 0 0 0 0.0 - - - user.a=\\z\n",  // bad escape
        "/l 0 @120777 1 0 0 0 0.0 /missing - -\n",     // hardlink to nothing
        "/a 0 @100644 1 0 0 0 0.0 /b - -\n/b 0 @100644 1 0 0 0 0.0 /a - -\n",  // cycle
        "/f 0 100644 1 0 0 0 0.0 - - -\n/f/x 0 100644 1 0 0 0 0.0 - - -\n",  // parent not a dir
        "/f 0 100644 -1 0 0 0 0.0 - - -\n",            // negative nlink
        "/f\x00 0 100644 1 0 0 0 0.0 - - -\n",
    };
    for (const char* b : bad) {
        SCOPED_TRACE(b);
        EXPECT_FALSE(parse(b));
        EXPECT_FALSE(parse(b, true));
    }
    EXPECT_FALSE(parse_dump("/a 0 100644 1 0 0 0 0.0 - - -\n"));  // no root first
    EXPECT_FALSE(parse_dump(""));
    EXPECT_FALSE(parse_dump("/ 0 100644 1 0 0 0 0.0 - - -\n"));  // root not a directory
}

TEST(DumpParser, StrictModeAddsChecks) {
    const char* lenient_only[] = {
        "/f 0 100644 1 0 0 0 0.0 - - -",                // no final newline
        "/f 0 100644 1 0 0 0 0.0 -\n",                  // missing trailing fields
        "/f 0 100644 1 0 0 5 0.0 - - -\n",              // rdev on a non-device
        "/l 1 120777 1 0 0 0 0.0 target - -\n",         // symlink size != target length
        "/f 0 20100644 1 0 0 0 0.0 - - -\n",            // mode beyond 16 bits
    };
    for (const char* b : lenient_only) {
        SCOPED_TRACE(b);
        EXPECT_TRUE(parse(b));
        EXPECT_FALSE(parse(b, true));
    }
}

TEST(DumpParser, HardlinksShareTheInodeAndMayPointForward) {
    auto t = parse("/a 0 @100644 0 0 0 0 0.0 /b - -\n/b 3 100644 2 0 0 0 0.0 - abc -\n");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->lookup("/a"), t->lookup("/b"));
    EXPECT_EQ(t->lookup("/b")->nlink, 2u);
    EXPECT_EQ(t->lookup("/b")->primary_path(), "/b");
}

TEST(DumpWriter, PrintsDepthFirstSortedWithHardlinkLines) {
    std::string in = std::string(kRoot) +
                     "/a\\x20b 0 40700 2 1 2 0 5.6 - - - user.k\\x3d=v\\x3d\n"
                     "/a\\x20b/z 3 100644 2 0 0 0 0.0 - x\\ny -\n"
                     "/b 7 120777 1 0 0 0 0.0 /target - -\n"
                     "/c 0 20644 1 0 0 259 0.0 - - -\n"
                     "/d 100 100644 1 0 0 0 0.0 ab/cd - " + std::string(64, 'f') + "\n"
                     "/e 3 @100644 2 0 0 0 0.0 /a\\x20b/z - -\n"
                     "/f 1 120777 1 0 0 0 0.0 \\x2d - -\n";
    auto t = parse_dump(in, DumpParseOptions{.strict = true});
    ASSERT_TRUE(t) << t.error().message;
    std::string out = write_dump(*t);
    // The root and /a b sizes are the EROFS directory sizes (§6), nlinks are recomputed.
    EXPECT_EQ(out,
              "/ 4096 40755 3 0 0 0 0.0 - - -\n"
              "/a\\x20b 40 40700 2 1 2 0 5.6 - - - user.k\\x3d=v\\x3d\n"
              "/a\\x20b/z 3 100644 2 0 0 0 0.0 - x\\ny -\n"
              "/b 7 120777 1 0 0 0 0.0 /target - -\n"
              "/c 0 20644 1 0 0 259 0.0 - - -\n"
              "/d 100 100644 1 0 0 0 0.0 ab/cd - " + std::string(64, 'f') + "\n"
              "/e 3 @100644 2 0 0 0 0.0 /a\\x20b/z - -\n"
              "/f 1 120777 1 0 0 0 0.0 \\x2d - -\n");
}

TEST(DumpWriter, OwnerFollowsPrimaryPathOrFirstName) {
    auto t = parse("/a 0 @100644 0 0 0 0 0.0 /b - -\n/b 0 100644 2 0 0 0 0.0 - - -\n");
    ASSERT_TRUE(t);
    std::string out = write_dump(*t);
    EXPECT_NE(out.find("/a 0 @100644 2 0 0 0 0.0 /b - -\n/b 0 100644 2"), std::string::npos) << out;
    t->lookup("/b")->set_primary_path({});  // as an image reader: the first name owns it
    out = write_dump(*t);
    EXPECT_NE(out.find("/a 0 100644 2 0 0 0 0.0 - - -\n/b 0 @100644 2 0 0 0 0.0 /a - -"), std::string::npos) << out;
}

}  // namespace
}  // namespace imgctl::composefs
