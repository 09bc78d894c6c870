#include <gtest/gtest.h>

#include "oci/auth.hpp"
#include "oci/cred_helper.hpp"
#include "oci/registry_config.hpp"

namespace imgctl::oci {
namespace {

TEST(Auth, Base64RoundTrips) {
    const char* cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"imgctl:s3cret", "aW1nY3RsOnMzY3JldA=="}};
    for (auto& c : cases) {
        EXPECT_EQ(base64_encode(c[0]), c[1]);
        EXPECT_EQ(*base64_decode(c[1]), c[0]);
    }
    EXPECT_FALSE(base64_decode("Zm9v!"));
    EXPECT_FALSE(base64_decode("Zg==Zg"));
}

TEST(Auth, ParsesChallenges) {
    auto c = parse_challenge(
        R"(Bearer realm="http://127.0.0.1:5003/token",service="imgctl-test-registry",scope="repository:test:pull,push")");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->scheme, "bearer");
    EXPECT_EQ(c->params["realm"], "http://127.0.0.1:5003/token");
    EXPECT_EQ(c->params["service"], "imgctl-test-registry");
    EXPECT_EQ(c->params["scope"], "repository:test:pull,push");
    c = parse_challenge(R"(Basic realm="imgctl \"test\"", charset=UTF-8)");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->scheme, "basic");
    EXPECT_EQ(c->params["realm"], "imgctl \"test\"");
    EXPECT_EQ(c->params["charset"], "UTF-8");
    EXPECT_FALSE(parse_challenge(""));
    EXPECT_FALSE(parse_challenge(R"(Bearer realm="unterminated)"));
    EXPECT_FALSE(parse_challenge("Bearer realm"));
}

TEST(Auth, FindsCredentialsByMostSpecificKey) {
    std::string doc = R"({"auths":{
        "reg.io":{"auth":")" + base64_encode("host:pw") + R"("},
        "reg.io/team":{"auth":")" + base64_encode("team:pw2") + R"("},
        "https://index.docker.io/v1/":{"auth":")" + base64_encode("hub:pw3") + R"("},
        "other.io":{"username":"u","password":"p"}}})";
    auto c = find_credentials(doc, "reg.io", "team/os", "f.json");
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->username, "team");
    EXPECT_EQ((*c)->source, "f.json");
    EXPECT_EQ((**find_credentials(doc, "reg.io", "teamx/os", "f")).username, "host");
    EXPECT_EQ((**find_credentials(doc, "docker.io", "library/debian", "f")).username, "hub");
    EXPECT_EQ((**find_credentials(doc, "other.io", "x", "f")).password, "p");
    EXPECT_FALSE(*find_credentials(doc, "nothere.io", "x", "f"));
    EXPECT_EQ((**find_credentials(R"({"credsStore":"desktop"})", "reg.io", "x", "f")).helper, "desktop");
    auto bad = find_credentials(R"({"auths":{"reg.io":{"auth":"bm9jb2xvbg=="}}})", "reg.io", "x", "f.json");
    ASSERT_FALSE(bad);  // "nocolon"
    EXPECT_NE(bad.error().message.find("f.json"), std::string::npos);
    EXPECT_FALSE(find_credentials("not json", "reg.io", "x", "f"));
}

TEST(Auth, IdentityTokens) {
    // As `az acr login` writes it: a placeholder user in "auth", the refresh token beside it.
    std::string doc = R"({"auths":{"acr.io":{"auth":")" + base64_encode("00000000-0000-0000-0000-000000000000:") +
                      R"(","identitytoken":"rt-1"},"only.io":{"identitytoken":"rt-2"},"bad.io":{"identitytoken":3}}})";
    auto c = find_credentials(doc, "acr.io", "x", "f.json");
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->identity_token, "rt-1");
    EXPECT_EQ((*c)->username, "00000000-0000-0000-0000-000000000000");
    EXPECT_EQ((**find_credentials(doc, "only.io", "x", "f")).identity_token, "rt-2");
    auto bad = find_credentials(doc, "bad.io", "x", "f.json");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("identitytoken"), std::string::npos);
}

TEST(Auth, CredentialHelpers) {
    std::string doc = R"({"auths":{"a.io":{"auth":")" + base64_encode("u:p") + R"("},"b.io":{}},
        "credHelpers":{"a.io":"pass","https://c.io/v1/":"secretservice"}})";
    // credHelpers wins over auths; keys are normalised like auths keys.
    EXPECT_EQ((**find_credentials(doc, "a.io", "x", "f")).helper, "pass");
    EXPECT_EQ((**find_credentials(doc, "c.io", "x", "f")).helper, "secretservice");
    // An empty entry without a credsStore is an error that names the file.
    auto empty = find_credentials(doc, "b.io", "x", "f.json");
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("f.json"), std::string::npos);
    // With a credsStore, the empty entry and unknown registries go to it.
    std::string docker = R"({"auths":{"b.io":{}},"credsStore":"desktop"})";
    EXPECT_EQ((**find_credentials(docker, "b.io", "x", "f")).helper, "desktop");
    EXPECT_EQ((**find_credentials(docker, "z.io", "x", "f")).helper, "desktop");
    EXPECT_FALSE(find_credentials(R"({"credHelpers":{"a.io":7}})", "a.io", "x", "f"));
}

TEST(Auth, HelperOutput) {
    auto c = parse_helper_output(R"({"ServerURL":"a.io","Username":"alice","Secret":"pw"})", "h");
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->username, "alice");
    EXPECT_EQ((*c)->password, "pw");
    EXPECT_FALSE(*parse_helper_output(R"({"ServerURL":"a.io","Username":"","Secret":""})", "h"));
    // docker's convention: Username "<token>" means Secret is an identity (OAuth2 refresh) token.
    auto tok = parse_helper_output(R"({"Username":"<token>","Secret":"refresh"})", "h");
    ASSERT_TRUE(tok && *tok);
    EXPECT_EQ((*tok)->identity_token, "refresh");
    EXPECT_EQ((*tok)->username, "");
    auto junk = parse_helper_output("credentials not found in native keychain", "docker-credential-x");
    ASSERT_FALSE(junk);
    EXPECT_NE(junk.error().message.find("docker-credential-x"), std::string::npos);
    EXPECT_FALSE(parse_helper_output(R"({"Username":1,"Secret":"x"})", "h"));
}

TEST(Auth, MissingHelperIsNamed) {
    auto r = ask_credential_helper("imgctl-no-such-helper", "a.io");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("docker-credential-imgctl-no-such-helper"), std::string::npos);
    EXPECT_FALSE(ask_credential_helper("../evil", "a.io"));
}

TEST(RegistriesConf, Parses) {
    auto c = parse_registries_conf("# test registries\ndefault-registry = reg.example:5000\n"
                                   "insecure-registry=127.0.0.1:5000  # local\ninsecure-registry = localhost\n"
                                   "ca-file = /etc/imgctl/ca.pem\n",
                                   "r.conf");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->default_registry, "reg.example:5000");
    EXPECT_EQ(c->insecure, (std::set<std::string>{"127.0.0.1:5000", "localhost"}));
    EXPECT_EQ(c->ca_file, "/etc/imgctl/ca.pem");
    EXPECT_FALSE(parse_registries_conf("ca-file = relative.pem\n", "r"));
    auto bad = parse_registries_conf("\n\nunknown = x\n", "r.conf");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("r.conf:3"), std::string::npos);
    EXPECT_FALSE(parse_registries_conf("insecure-registry\n", "r"));
    EXPECT_FALSE(parse_registries_conf("insecure-registry = http://x/y\n", "r"));
}

}  // namespace
}  // namespace imgctl::oci
